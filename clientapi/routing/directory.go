package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Public room list paging: a page holds defaultPublicRoomsLimit rooms when
// the client names no limit, and never more than maxPublicRoomsLimit.
const (
	defaultPublicRoomsLimit = 100
	maxPublicRoomsLimit     = 500
)

// directoryRoutes serves room aliases and the published room directory
// (spec: "Room aliases", "Published room directory") for this server's
// aliases and rooms.
type directoryRoutes struct {
	rt  *Routes
	dir roomapi.Directory
}

// directory returns the roomserver's directory, when the roomserver has one.
func (rt *Routes) directory() (roomapi.Directory, bool) {
	d, ok := rt.rooms.(roomapi.Directory)
	return d, ok
}

func (rt *Routes) setupDirectory(v3 prefixed) {
	dir, ok := rt.directory()
	if !ok {
		if rt.opts.Log != nil {
			rt.opts.Log.Warn("the roomserver has no room directory: room aliases and /publicRooms are not served")
		}
		return
	}
	d := &directoryRoutes{rt: rt, dir: dir}
	// Resolving an alias, reading a room's visibility and GET /publicRooms
	// need no access token (the spec gives them no security).
	v3.Handle("/directory/room/{roomAlias}", httputil.Handler(d.getAlias)).Methods(http.MethodGet)
	v3.Handle("/directory/room/{roomAlias}", rt.authed(d.putAlias)).Methods(http.MethodPut)
	v3.Handle("/directory/room/{roomAlias}", rt.authed(d.deleteAlias)).Methods(http.MethodDelete)
	v3.Handle("/rooms/{roomId}/aliases", rt.authed(d.roomAliases)).Methods(http.MethodGet)
	v3.Handle("/directory/list/room/{roomId}", httputil.Handler(d.getVisibility)).Methods(http.MethodGet)
	v3.Handle("/directory/list/room/{roomId}", rt.authed(d.putVisibility)).Methods(http.MethodPut)
	v3.Handle("/directory/list/appservice/{networkId}/{roomId}", rt.authed(rt.putNetworkVisibility)).Methods(http.MethodPut)
	v3.Handle("/publicRooms", httputil.Handler(d.getPublicRooms)).Methods(http.MethodGet)
	v3.Handle("/publicRooms", rt.authed(d.postPublicRooms)).Methods(http.MethodPost)
}

// checkNewAliasLocalpart applies the rules for aliases this server creates:
// the spec's, and no white space or control characters, which no one can
// type or read back reliably (Synapse refuses white space too).
func checkNewAliasLocalpart(local string) error {
	if local == "" || !utf8.ValidString(local) {
		return httputil.InvalidParam("Room alias localpart invalid")
	}
	for _, c := range local {
		if c == ':' || c == 0 || unicode.IsSpace(c) || unicode.IsControl(c) {
			return httputil.InvalidParam("Room alias localpart may not contain ':', white space or control characters")
		}
	}
	return nil
}

// localAliasForCreate validates an alias a client wants this server to
// create: well formed, of this server, with a localpart we accept.
func (d *directoryRoutes) localAliasForCreate(alias string) error {
	local, server, err := parseAlias(alias)
	if err != nil {
		return err
	}
	if server != d.rt.opts.ServerName {
		return httputil.InvalidParam("Room alias must be on this server (%s)", d.rt.opts.ServerName)
	}
	return checkNewAliasLocalpart(local)
}

// directoryError maps the directory's errors to the spec's, naming the
// alias; the roomserver's other errors carry their own Matrix meaning.
func directoryError(err error, alias string) error {
	switch {
	case errors.Is(err, roomapi.ErrAliasNotFound):
		return httputil.NotFound("Room alias %s not found.", alias)
	case errors.Is(err, roomapi.ErrAliasInUse):
		// Spec (PUT /directory/room): 409 with M_UNKNOWN.
		return &httputil.MatrixError{Status: http.StatusConflict, ErrCode: "M_UNKNOWN", Message: "Room alias " + alias + " already exists."}
	}
	return err
}

// errRemoteAlias answers requests for other servers' aliases when this
// process has no federation.
func errRemoteAlias(alias string) error {
	return httputil.NotFound("Room alias %s not found: aliases of other servers cannot be resolved here (no federation)", alias)
}

// GET /v3/directory/room/{roomAlias}
func (d *directoryRoutes) getAlias(w http.ResponseWriter, r *http.Request) error {
	alias := httputil.Vars(r)["roomAlias"]
	if _, server, err := parseAlias(alias); err == nil && server != d.rt.opts.ServerName && d.rt.opts.RemoteRooms != nil {
		// Another server's alias: asked of that server (spec: federation
		// query/directory).
		roomID, servers, err := d.rt.opts.RemoteRooms.ResolveRemoteAlias(r.Context(), alias)
		if err != nil {
			return httputil.NotFound("Room alias %s not found", alias)
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID, "servers": servers})
		return nil
	}
	roomID, err := d.rt.resolveAlias(r.Context(), d.dir, alias)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID, "servers": []string{d.rt.opts.ServerName}})
	return nil
}

// resolveAlias returns the room of an alias of this server; 400 for a
// malformed alias, 404 for an unknown one or one of another server.
func (rt *Routes) resolveAlias(ctx context.Context, dir roomapi.Directory, alias string) (string, error) {
	_, server, err := parseAlias(alias)
	if err != nil {
		return "", err
	}
	if server != rt.opts.ServerName {
		return "", errRemoteAlias(alias)
	}
	roomID, err := dir.ResolveAlias(ctx, alias)
	if errors.Is(err, roomapi.ErrAliasNotFound) && rt.queryAppServices(ctx, alias) {
		roomID, err = dir.ResolveAlias(ctx, alias)
	}
	if err != nil {
		return "", directoryError(err, alias)
	}
	return roomID, nil
}

// PUT /v3/directory/room/{roomAlias}
func (d *directoryRoutes) putAlias(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	alias := httputil.Vars(r)["roomAlias"]
	if err := d.localAliasForCreate(alias); err != nil {
		return err
	}
	if err := d.rt.exclusiveAlias(alias, dev); err != nil {
		return err
	}
	var req struct {
		RoomID string `json:"room_id"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.RoomID == "" {
		return httputil.MissingParam("Missing room_id")
	}
	if err := checkRoomID(req.RoomID); err != nil {
		return err
	}
	if err := d.dir.CreateAlias(r.Context(), alias, req.RoomID, dev.UserID); err != nil {
		return directoryError(err, alias)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// DELETE /v3/directory/room/{roomAlias}
func (d *directoryRoutes) deleteAlias(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	alias := httputil.Vars(r)["roomAlias"]
	_, server, err := parseAlias(alias)
	if err != nil {
		return err
	}
	if server != d.rt.opts.ServerName {
		// This server keeps no other server's aliases.
		return httputil.NotFound("Room alias %s not found.", alias)
	}
	roomID, _ := d.dir.ResolveAlias(r.Context(), alias)
	if err := d.dir.DeleteAlias(r.Context(), alias, dev.UserID); err != nil {
		return directoryError(err, alias)
	}
	if roomID != "" {
		d.dropCanonical(r.Context(), roomID, alias, dev.UserID)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// dropCanonical removes a deleted alias from the room's
// m.room.canonical_alias, as Synapse does, so that the room does not
// advertise an alias that no longer leads to it. Best effort: a user who
// may not change that state leaves it as it is (logged).
func (d *directoryRoutes) dropCanonical(ctx context.Context, roomID, alias, userID string) {
	ev, err := d.rt.rooms.StateEvent(ctx, roomID, "m.room.canonical_alias", "")
	if err != nil {
		return
	}
	ce, err := ev.Client()
	if err != nil {
		return
	}
	var content map[string]any
	if json.Unmarshal(ce.Content, &content) != nil {
		return
	}
	changed := false
	if a, _ := content["alias"].(string); a == alias {
		delete(content, "alias")
		changed = true
	}
	if alt, ok := content["alt_aliases"].([]any); ok {
		kept := make([]any, 0, len(alt))
		for _, a := range alt {
			if a == alias {
				changed = true
				continue
			}
			kept = append(kept, a)
		}
		content["alt_aliases"] = kept
	}
	if !changed {
		return
	}
	body, err := json.Marshal(content)
	if err != nil {
		return
	}
	empty := ""
	if _, err := d.rt.rooms.SendEvent(ctx, roomapi.SendEventRequest{RoomID: roomID, Sender: userID, Type: "m.room.canonical_alias",
		StateKey: &empty, Content: body}); err != nil {
		httputil.Logger(ctx).WithError(err).WithField("room_id", roomID).Info("deleted alias left in m.room.canonical_alias")
	}
}

// GET /v3/rooms/{roomId}/aliases: for members, and for anyone when the
// room's history is world_readable.
func (d *directoryRoutes) roomAliases(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	if err := d.rt.requireJoined(r.Context(), roomID, dev.UserID); err != nil {
		if !errors.Is(err, httputil.ErrForbidden) || !d.rt.worldReadable(r.Context(), roomID) {
			return err
		}
	}
	aliases, err := d.dir.AliasesOf(r.Context(), roomID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"aliases": aliases})
	return nil
}

// worldReadable reports whether a room's history visibility is
// world_readable (false for unknown rooms).
func (rt *Routes) worldReadable(ctx context.Context, roomID string) bool {
	ev, err := rt.rooms.StateEvent(ctx, roomID, "m.room.history_visibility", "")
	if err != nil {
		return false
	}
	ce, err := ev.Client()
	if err != nil {
		return false
	}
	var c struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	_ = json.Unmarshal(ce.Content, &c)
	return c.HistoryVisibility == "world_readable"
}

// GET /v3/directory/list/room/{roomId}
func (d *directoryRoutes) getVisibility(w http.ResponseWriter, r *http.Request) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	published, err := d.dir.IsPublished(r.Context(), roomID)
	if err != nil {
		return err
	}
	vis := "private"
	if published {
		vis = "public"
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"visibility": vis})
	return nil
}

// PUT /v3/directory/list/room/{roomId}: for members with the power to send
// m.room.canonical_alias (the spec lets servers choose; this is Synapse's
// rule).
func (d *directoryRoutes) putVisibility(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	var req struct {
		Visibility string `json:"visibility"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	switch req.Visibility {
	case "":
		req.Visibility = "public" // spec: defaults to public
	case "public", "private":
	default:
		return httputil.InvalidParam("visibility must be public or private")
	}
	if err := d.dir.SetPublished(r.Context(), roomID, dev.UserID, req.Visibility == "public"); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// publicRoomsRequest is POST /publicRooms's body; GET's query parameters
// fill the same fields.
type publicRoomsRequest struct {
	Limit  *int   `json:"limit"`
	Since  string `json:"since"`
	Filter struct {
		GenericSearchTerm string    `json:"generic_search_term"`
		RoomTypes         []*string `json:"room_types"`
	} `json:"filter"`
	IncludeAllNetworks   bool   `json:"include_all_networks"`
	ThirdPartyInstanceID string `json:"third_party_instance_id"`
	server               string
}

// GET /v3/publicRooms
func (d *directoryRoutes) getPublicRooms(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var req publicRoomsRequest
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return httputil.InvalidParam("limit must be an integer")
		}
		req.Limit = &n
	}
	req.Since = q.Get("since")
	req.ThirdPartyInstanceID = q.Get("third_party_instance_id")
	req.server = q.Get("server")
	return d.publicRooms(r.Context(), w, req)
}

// POST /v3/publicRooms
func (d *directoryRoutes) postPublicRooms(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
	var req publicRoomsRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	req.server = r.URL.Query().Get("server")
	return d.publicRooms(r.Context(), w, req)
}

// publicRooms answers both forms of /publicRooms (paging: see
// roomapi.PublicRoomsPage).
func (d *directoryRoutes) publicRooms(ctx context.Context, w http.ResponseWriter, req publicRoomsRequest) error {
	if req.server != "" {
		if err := checkServerName(req.server); err != nil {
			return err
		}
	}
	if req.server != "" && req.server != d.rt.opts.ServerName {
		// Another server's directory, through federation.
		if d.rt.opts.RemoteRooms == nil {
			return httputil.InvalidParam("Listing the rooms of other servers needs federation, which this server does not run")
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		page, err := d.rt.opts.RemoteRooms.RemotePublicRooms(ctx, req.server, body)
		if err != nil {
			httputil.Logger(ctx).WithError(err).Info("remote public rooms unavailable")
			return &httputil.MatrixError{Status: http.StatusBadGateway, ErrCode: "M_UNKNOWN", Message: "The server could not be reached"}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
		return nil
	}
	limit := defaultPublicRoomsLimit
	if req.Limit != nil {
		switch {
		case *req.Limit < 0:
			return httputil.InvalidParam("limit must not be negative")
		case *req.Limit > 0:
			limit = min(*req.Limit, maxPublicRoomsLimit)
		}
	}
	if req.ThirdPartyInstanceID != "" {
		// One application service network's rooms.
		page, err := d.rt.networkPublicRooms(ctx, req, limit)
		if err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, page)
		return nil
	}
	page, err := roomapi.PublicRoomsPage(ctx, d.dir, req.Since, limit, req.Filter.GenericSearchTerm, req.Filter.RoomTypes)
	if err != nil {
		return err
	}
	if req.IncludeAllNetworks {
		if err := d.rt.withNetworkRooms(ctx, &page, req.Filter.GenericSearchTerm); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, page)
	return nil
}

// checkRoomAliasName turns createRoom's room_alias_name into the full alias
// ("" for none) and checks that it is free (spec: POST /createRoom, 400
// M_ROOM_IN_USE when taken).
func (rt *Routes) checkRoomAliasName(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	dir, ok := rt.directory()
	if !ok {
		return "", httputil.BadRequestUnknown("room_alias_name is not supported by this server")
	}
	if err := checkNewAliasLocalpart(name); err != nil {
		return "", err
	}
	alias := "#" + name + ":" + rt.opts.ServerName
	if len(alias) > 255 {
		return "", httputil.InvalidParam("room_alias_name is too long: the alias would be over 255 bytes")
	}
	_, err := dir.ResolveAlias(ctx, alias)
	switch {
	case err == nil:
		return "", &httputil.MatrixError{
			Status:  http.StatusBadRequest,
			ErrCode: "M_ROOM_IN_USE",
			Message: "Room alias " + alias + " already exists.",
		}
	case !errors.Is(err, roomapi.ErrAliasNotFound):
		return "", err
	}
	return alias, nil
}

// afterCreateRoom maps a new room's alias and publishes it when asked. The
// room exists by now, so failures are logged, not returned: a client told
// that createRoom failed would create a second room. (Another request may
// have taken the alias since checkRoomAliasName; the room then keeps its
// canonical alias event without the mapping.)
func (rt *Routes) afterCreateRoom(ctx context.Context, roomID, creator, alias string, publish bool) {
	dir, ok := rt.directory()
	if !ok {
		return
	}
	log := httputil.Logger(ctx).WithField("room_id", roomID)
	if alias != "" {
		if err := dir.CreateAlias(ctx, alias, roomID, creator); err != nil {
			log.WithError(err).WithField("alias", alias).Warn("createRoom: could not map the room's alias")
		}
	}
	if publish {
		if err := dir.SetPublished(ctx, roomID, creator, true); err != nil {
			log.WithError(err).Warn("createRoom: could not publish the room in the directory")
		}
	}
}

// roomIDForJoin resolves /join's room ID or alias to a room ID.
func (rt *Routes) roomIDForJoin(ctx context.Context, target string) (string, error) {
	if !strings.HasPrefix(target, "#") {
		return target, nil
	}
	dir, ok := rt.directory()
	if !ok {
		return "", httputil.NotFound("Room alias %s not found", target)
	}
	return rt.resolveAlias(ctx, dir, target)
}
