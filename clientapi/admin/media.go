package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupMedia registers Synapse's media admin API (when this process runs
// the media component).
func (a *Admin) setupMedia(p prefixed) {
	if a.d.Media == nil {
		return
	}
	post := http.MethodPost
	p.Handle("/v1/users/{userId}/media", a.admin(a.userMedia)).Methods(http.MethodGet)
	p.Handle("/v1/users/{userId}/media", a.admin(a.deleteUserMedia)).Methods(http.MethodDelete)
	p.Handle("/v1/media/quarantine/{serverName}/{mediaId}", a.admin(a.quarantineOne(true))).Methods(post)
	p.Handle("/v1/media/unquarantine/{serverName}/{mediaId}", a.admin(a.quarantineOne(false))).Methods(post)
	p.Handle("/v1/room/{roomId}/media/quarantine", a.admin(a.quarantineRoomMedia)).Methods(post)
	p.Handle("/v1/quarantine_media/{roomId}", a.admin(a.quarantineRoomMedia)).Methods(post)
	p.Handle("/v1/user/{userId}/media/quarantine", a.admin(a.quarantineUserMedia)).Methods(post)
	p.Handle("/v1/media/protect/{mediaId}", a.admin(a.protect(true))).Methods(post)
	p.Handle("/v1/media/unprotect/{mediaId}", a.admin(a.protect(false))).Methods(post)
	p.Handle("/v1/media/delete", a.admin(a.deleteOldMedia)).Methods(post)
	p.Handle("/v1/media/{serverName}/delete", a.admin(a.deleteOldMedia)).Methods(post)
	p.Handle("/v1/media/{serverName}/{mediaId}", a.admin(a.deleteOneMedia)).Methods(http.MethodDelete)
	p.Handle("/v1/room/{roomId}/media", a.admin(a.roomMedia)).Methods(http.MethodGet)
}

// pathMXC is the media the path's serverName and mediaId name.
func pathMXC(r *http.Request) (mediaapi.MXC, error) {
	v := httputil.Vars(r)
	m, err := mediaapi.ParseMXC("mxc://" + v["serverName"] + "/" + v["mediaId"])
	if err != nil {
		return m, httputil.InvalidParam("%v", err)
	}
	return m, nil
}

// pathMediaID is the path's local mediaId.
func pathMediaID(r *http.Request) (mediaapi.MediaID, error) {
	id, err := mediaapi.ParseMediaID(httputil.Vars(r)["mediaId"])
	if err != nil {
		return "", httputil.InvalidParam("%v", err)
	}
	return id, nil
}

// localUser is the path's userId, a user of this server that exists, with
// Synapse's answers otherwise (400, 404).
func (a *Admin) localUser(ctx context.Context, r *http.Request) (string, error) {
	userID := httputil.Vars(r)["userId"]
	lp, ok := a.isLocal(userID)
	if !ok {
		return "", httputil.BadRequestUnknown("Can only look up local users")
	}
	if _, err := a.d.Users.Account(ctx, lp); errors.Is(err, userapi.ErrNoSuchAccount) {
		return "", httputil.NotFound("Unknown user")
	} else if err != nil {
		return "", err
	}
	return userID, nil
}

func writeDeleted(w http.ResponseWriter, c *Caller, ids []mediaapi.MediaID) {
	if ids == nil {
		ids = []mediaapi.MediaID{}
	}
	c.Note("deleted " + strconv.Itoa(len(ids)) + " media")
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"deleted_media": ids, "total": len(ids)})
}

// POST /v1/media/quarantine|unquarantine/{serverName}/{mediaId}
func (a *Admin) quarantineOne(on bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		m, err := pathMXC(r)
		if err != nil {
			return err
		}
		by := ""
		if on {
			by = c.Device.UserID
		}
		if _, err := a.d.Media.Quarantine(r.Context(), []mediaapi.MXC{m}, by, false); err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
}

// POST /v1/media/protect|unprotect/{mediaId}
func (a *Admin) protect(on bool) handler {
	return func(w http.ResponseWriter, r *http.Request, _ *Caller) error {
		id, err := pathMediaID(r)
		if err != nil {
			return err
		}
		if err := a.d.Media.Protect(r.Context(), id, on); errors.Is(err, mediaapi.ErrNotFound) {
			return httputil.NotFound("Unknown media")
		} else if err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
}

// POST /v1/user/{userId}/media/quarantine: the user's uploads but the
// protected ones.
func (a *Admin) quarantineUserMedia(w http.ResponseWriter, r *http.Request, c *Caller) error {
	userID, err := a.localUser(r.Context(), r)
	if err != nil {
		return err
	}
	media, _, err := a.d.Media.UserMedia(r.Context(), mediaapi.UserMediaQuery{UserID: userID})
	if err != nil {
		return err
	}
	uris := make([]mediaapi.MXC, len(media))
	for i := range media {
		uris[i] = media[i].MXC()
	}
	return a.quarantineMany(w, r, c, uris)
}

func (a *Admin) quarantineMany(w http.ResponseWriter, r *http.Request, c *Caller, uris []mediaapi.MXC) error {
	n, err := a.d.Media.Quarantine(r.Context(), uris, c.Device.UserID, true)
	if err != nil {
		return err
	}
	c.Note("quarantined " + strconv.Itoa(n) + " media")
	httputil.WriteJSON(w, http.StatusOK, map[string]int{"num_quarantined": n})
	return nil
}

// DELETE /v1/media/{serverName}/{mediaId}: local media only.
func (a *Admin) deleteOneMedia(w http.ResponseWriter, r *http.Request, c *Caller) error {
	m, err := pathMXC(r)
	if err != nil {
		return err
	}
	if m.ServerName != a.d.ServerName {
		return httputil.BadRequestUnknown("Can only delete local media")
	}
	deleted, err := a.d.Media.DeleteMedia(r.Context(), []mediaapi.MediaID{m.MediaID})
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		return httputil.NotFound("Unknown media")
	}
	writeDeleted(w, c, deleted)
	return nil
}

// POST /v1/media/delete?before_ts=&size_gt=&keep_profiles= (and
// /v1/media/{serverName}/delete): local media older and larger than
// given, but protected media and, unless keep_profiles=false, their
// uploaders' avatars.
func (a *Admin) deleteOldMedia(w http.ResponseWriter, r *http.Request, c *Caller) error {
	if s, ok := httputil.Vars(r)["serverName"]; ok && s != a.d.ServerName {
		return httputil.BadRequestUnknown("Can only delete local media")
	}
	q := r.URL.Query()
	if q.Get("before_ts") == "" {
		return httputil.MissingParam("Missing integer query parameter 'before_ts'")
	}
	before, err := intParam(q.Get("before_ts"), 0)
	if err != nil {
		return err
	}
	if before < 30_000_000_000 {
		return httputil.InvalidParam("Query parameter before_ts you provided is from the year 1970. " +
			"Double check that you are providing a timestamp in milliseconds.")
	}
	sizeGT, err := intParam(q.Get("size_gt"), 0)
	if err != nil {
		return err
	}
	keepProfiles := q.Get("keep_profiles") != "false"
	if v := q.Get("keep_profiles"); v != "" && v != "true" && v != "false" {
		return httputil.InvalidParam("keep_profiles must be true or false")
	}
	dq := mediaapi.DeleteOldQuery{BeforeTS: int64(before), SizeGT: int64(sizeGT)}
	if keepProfiles {
		dq.Keep = a.uploaderAvatar()
	}
	deleted, err := a.d.Media.DeleteOld(r.Context(), dq)
	if err != nil {
		return err
	}
	writeDeleted(w, c, deleted)
	return nil
}

// uploaderAvatar says whether media is its uploader's avatar (reading
// each uploader's profile once). NOTSPEC: Synapse keeps every avatar in
// use (rooms' too); Myelin keeps the avatars users uploaded themselves
// (docs/decisions.md).
func (a *Admin) uploaderAvatar() func(ctx context.Context, m *mediaapi.Metadata) (bool, error) {
	avatars := map[string]string{}
	return func(ctx context.Context, m *mediaapi.Metadata) (bool, error) {
		avatar, ok := avatars[m.Uploader]
		if !ok {
			lp, local := a.isLocal(m.Uploader)
			if local {
				p, err := a.d.Users.Profile(ctx, lp)
				if err != nil && !errors.Is(err, userapi.ErrNoSuchAccount) {
					return false, err
				}
				avatar = stringValue(p["avatar_url"])
			}
			avatars[m.Uploader] = avatar
		}
		return avatar == m.MXC().String(), nil
	}
}

// userMediaJSON is an upload as Synapse lists it.
type userMediaJSON struct {
	MediaID            string  `json:"media_id"`
	MediaType          string  `json:"media_type"`
	MediaLength        int64   `json:"media_length"`
	UploadName         *string `json:"upload_name"`
	CreatedTS          int64   `json:"created_ts"`
	LastAccessTS       *int64  `json:"last_access_ts"`
	QuarantinedBy      *string `json:"quarantined_by"`
	SafeFromQuarantine bool    `json:"safe_from_quarantine"`
}

// userMediaPage reads the path's user and the page the query asks for.
func (a *Admin) userMediaPage(r *http.Request) ([]mediaapi.AdminMedia, int, int, error) {
	userID, err := a.localUser(r.Context(), r)
	if err != nil {
		return nil, 0, 0, err
	}
	q := r.URL.Query()
	from, limit, err := paging(q)
	if err != nil {
		return nil, 0, 0, err
	}
	order := q.Get("order_by")
	if order != "" && !slices.Contains(mediaapi.UserMediaOrders, order) {
		return nil, 0, 0, httputil.InvalidParam("Unknown value for order_by: %q", order)
	}
	dir := q.Get("dir")
	if dir != "" && dir != "f" && dir != "b" {
		return nil, 0, 0, httputil.InvalidParam("Unknown direction: %q", dir)
	}
	media, total, err := a.d.Media.UserMedia(r.Context(), mediaapi.UserMediaQuery{
		UserID: userID, Offset: from, Limit: limit, OrderBy: order, Backwards: dir == "b",
	})
	return media, total, from, err
}

// GET /v1/users/{userId}/media?from=&limit=&order_by=&dir=
func (a *Admin) userMedia(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	media, total, from, err := a.userMediaPage(r)
	if err != nil {
		return err
	}
	out := make([]userMediaJSON, len(media))
	for i, m := range media {
		o := userMediaJSON{MediaID: string(m.MediaID), MediaType: m.ContentType, MediaLength: m.Size,
			CreatedTS: m.CreatedTS, SafeFromQuarantine: m.Protected}
		if m.UploadName != "" {
			o.UploadName = &media[i].UploadName
		}
		if m.QuarantinedBy != "" {
			o.QuarantinedBy = &media[i].QuarantinedBy
		}
		out[i] = o
	}
	resp := map[string]any{"media": out, "total": total}
	if len(out) > 0 && from+len(out) < total {
		resp["next_token"] = from + len(out)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// DELETE /v1/users/{userId}/media?from=&limit=&order_by=&dir=: deletes
// the page GET would list.
func (a *Admin) deleteUserMedia(w http.ResponseWriter, r *http.Request, c *Caller) error {
	media, _, _, err := a.userMediaPage(r)
	if err != nil {
		return err
	}
	ids := make([]mediaapi.MediaID, len(media))
	for i, m := range media {
		ids[i] = m.MediaID
	}
	deleted, err := a.d.Media.DeleteMedia(r.Context(), ids)
	if err != nil {
		return err
	}
	writeDeleted(w, c, deleted)
	return nil
}

// stringValue is a JSON string's value ("" if it is not one).
func stringValue(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// roomMediaURIs are the media the path's room refers to, split into this
// server's and other servers' (URIs that do not parse are left out).
func (a *Admin) roomMediaURIs(r *http.Request) (local, remote []mediaapi.MXC, err error) {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return nil, nil, httputil.InvalidParam("%q is not a room ID", roomID)
	}
	uris, err := a.d.Rooms.RoomMediaURIs(r.Context(), roomID)
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		return nil, nil, httputil.NotFound("Unknown room")
	}
	if err != nil {
		return nil, nil, err
	}
	for _, u := range uris {
		m, err := mediaapi.ParseMXC(u)
		switch {
		case err != nil:
		case m.ServerName == a.d.ServerName:
			local = append(local, m)
		default:
			remote = append(remote, m)
		}
	}
	return local, remote, nil
}

// GET /v1/room/{roomId}/media: {"local": [...], "remote": [...]}.
func (a *Admin) roomMedia(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	local, remote, err := a.roomMediaURIs(r)
	if err != nil {
		return err
	}
	strs := func(ms []mediaapi.MXC) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.String()
		}
		return out
	}
	httputil.WriteJSON(w, http.StatusOK, map[string][]string{"local": strs(local), "remote": strs(remote)})
	return nil
}

// POST /v1/room/{roomId}/media/quarantine (and Synapse's older
// /v1/quarantine_media/{roomId}): every media the room refers to, but
// protected local media.
func (a *Admin) quarantineRoomMedia(w http.ResponseWriter, r *http.Request, c *Caller) error {
	local, remote, err := a.roomMediaURIs(r)
	if err != nil {
		return err
	}
	return a.quarantineMany(w, r, c, append(local, remote...))
}
