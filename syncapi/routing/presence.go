package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxStatusMsg bounds a status message, which goes to every user sharing a
// room and to their servers. NOTSPEC: the spec sets no limit.
const maxStatusMsg = 4096

// SetupPresence registers the presence endpoints (spec: client-server API,
// "Presence") and lets /sync carry presence.
func (rt *Routes) SetupPresence(r *mux.Router, p *internal.Presence) {
	rt.presence = p
	const path = "/_matrix/client/v3/presence/{userId}/status"
	r.Handle(path, rt.authed(rt.getPresence)).Methods(http.MethodGet)
	r.Handle(path, rt.authed(rt.putPresence)).Methods(http.MethodPut)
}

// GET /v3/presence/{userId}/status: the presence of the user or of a user
// sharing a room with them; others' is refused with 403, as the spec's
// example ("You are not allowed to see their presence"), presence being
// published only to users sharing a room (spec: "Security
// considerations"). A user with no presence known is offline.
func (rt *Routes) getPresence(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	userID := httputil.Vars(r)["userId"]
	if err := mxid.ValidateUserID(userID); err != nil {
		return httputil.InvalidParam("Invalid user ID: %v", err)
	}
	if !rt.notifier.SharesRoom(dev.UserID, userID) {
		return httputil.Forbidden("You are not allowed to see their presence")
	}
	var content any = map[string]any{"presence": api.PresenceOffline}
	if rt.presence.Enabled {
		rows, err := rt.store.PresenceOf(r.Context(), []string{userID})
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			content = rt.presence.Content(rows[0])
		}
	}
	httputil.WriteJSON(w, http.StatusOK, content)
	return nil
}

// PUT /v3/presence/{userId}/status: set one's own presence (spec: "You
// cannot set the presence state of another user"). With presence disabled
// it is accepted and ignored, as clients set it unasked and treat an error
// as a failure to show.
func (rt *Routes) putPresence(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	if httputil.Vars(r)["userId"] != dev.UserID {
		return httputil.Forbidden("Cannot set the presence of another user")
	}
	var body struct {
		Presence  *string `json:"presence"`
		StatusMsg *string `json:"status_msg"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	switch {
	case body.Presence == nil:
		return httputil.MissingParam("presence is required")
	case !api.ValidPresence(*body.Presence):
		return httputil.InvalidParam("presence must be online, offline or unavailable")
	case body.StatusMsg != nil && len(*body.StatusMsg) > maxStatusMsg:
		return httputil.InvalidParam("status_msg is longer than %d bytes", maxStatusMsg)
	}
	if rt.presence.Enabled {
		if err := rt.presence.Tracker.Set(r.Context(), dev.UserID, *body.Presence, body.StatusMsg); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// manyPeers: above this many users sharing a room, an initial sync reads
// every user who is not offline and keeps its peers, rather than asking
// for each peer by ID.
const manyPeers = 1000

// presenceParam reads set_presence (spec: GET /sync).
func presenceParam(q url.Values) (string, error) {
	s := q.Get("set_presence")
	if s != "" && !api.ValidPresence(s) {
		return "", httputil.InvalidParam("set_presence must be online, offline or unavailable")
	}
	return s, nil
}

// presenceSyncing records a /sync or WebSocket stream of the user with its
// set_presence; call the result when it ends. A failure to store the
// change is logged: the sync goes on.
func (rt *Routes) presenceSyncing(ctx context.Context, userID, setPresence string) func() {
	if rt.presence == nil || !rt.presence.Enabled {
		return func() {}
	}
	done, err := rt.presence.Tracker.Syncing(ctx, userID, setPresence)
	if err != nil {
		httputil.Logger(ctx).WithError(err).Warn("presence: storing the change a sync made failed")
	}
	return done
}

// addPresence puts in the response the m.presence events of the users
// sharing a room with the user (and the user's own) changed after the
// token's presence position; for an initial sync (or a token without one)
// the current presence of those who are not offline. It returns the
// position for the next token and whether it added anything.
func (rt *Routes) addPresence(
	ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken, f *Filter,
) (int64, bool, error) {
	p := rt.presence
	if p == nil || !p.Enabled {
		return tok.pr, false, nil
	}
	upto := p.Pos()
	initial := tok.pos < 0 || tok.pr < 0
	if !initial && tok.pr >= upto && !hasJoins(resp) {
		return tok.pr, false, nil
	}
	upto = max(upto, tok.pr)
	var rows []storage.Presence
	var err error
	// An initial sync asks for its peers' presence; an incremental one
	// reads the few changes and checks each (building the peer set would
	// cost every woken member of a big room the room's size).
	visible := func(u string) bool { return rt.notifier.SharesRoom(dev.UserID, u) }
	if initial {
		peers := rt.notifier.Peers(dev.UserID)
		visible = func(u string) bool { _, ok := peers[u]; return ok }
		rows, err = rt.initialPresence(ctx, peers)
	} else {
		rows, err = rt.incrementalPresence(ctx, resp, dev.UserID, tok.pr, upto)
	}
	if err != nil {
		return 0, false, err
	}
	added := false
	for _, r := range rows {
		if (initial && r.Presence == api.PresenceOffline) || !f.Presence.allows(r.UserID) || !visible(r.UserID) {
			continue
		}
		if f.Presence.Limit != nil && len(resp.Presence.Events) >= *f.Presence.Limit {
			break
		}
		resp.Presence.Events = append(resp.Presence.Events, json.RawMessage(p.Event(r)))
		added = true
	}
	return upto, added, nil
}

// presenceFilter is a filter's presence section (spec: "Filtering",
// EventFilter): which m.presence events, of which senders, how many.
type presenceFilter struct {
	Limit      *int     `json:"limit"`
	Types      []string `json:"types"`
	NotTypes   []string `json:"not_types"`
	Senders    []string `json:"senders"`
	NotSenders []string `json:"not_senders"`
	// typesSet tells an empty types list (nothing) from none (all).
	typesSet bool
}

// UnmarshalJSON notes whether types was given.
func (f *presenceFilter) UnmarshalJSON(b []byte) error {
	type plain presenceFilter
	var raw struct {
		plain
		Types *[]string `json:"types"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = presenceFilter(raw.plain)
	if raw.Types != nil {
		f.Types, f.typesSet = *raw.Types, true
	}
	return nil
}

// allows reports whether the filter lets through sender's m.presence.
func (f *presenceFilter) allows(sender string) bool {
	const typ = "m.presence"
	switch {
	case contains(f.NotTypes, typ, true), f.typesSet && !contains(f.Types, typ, true):
		return false
	case contains(f.NotSenders, sender, false), f.Senders != nil && !contains(f.Senders, sender, false):
		return false
	}
	return true
}

// initialPresence reads the stored presence of peers: by ID, or for many
// peers every user who is not offline (the caller keeps the peers).
func (rt *Routes) initialPresence(ctx context.Context, peers map[string]struct{}) ([]storage.Presence, error) {
	if len(peers) > manyPeers {
		return rt.store.PresentUsers(ctx)
	}
	ids := make([]string, 0, len(peers))
	for u := range peers {
		ids = append(ids, u)
	}
	return rt.store.PresenceOf(ctx, ids)
}

// incrementalPresence reads the presence changed in (since, upto] and,
// unchanged, that of the users who became visible in the response: those
// whose join it shows in a room of the user's, and every member of a room
// the user joined (their presence predates the token, so a change read
// would not show it).
func (rt *Routes) incrementalPresence(
	ctx context.Context, resp *Response, userID string, since, upto int64,
) ([]storage.Presence, error) {
	var rows []storage.Presence
	if since < upto {
		var err error
		if rows, err = rt.store.PresenceSince(ctx, since, upto); err != nil {
			return nil, err
		}
	}
	joined := rt.newlyVisible(resp, userID)
	for _, r := range rows {
		delete(joined, r.UserID)
	}
	if len(joined) == 0 {
		return rows, nil
	}
	ids := make([]string, 0, len(joined))
	for u := range joined {
		ids = append(ids, u)
	}
	more, err := rt.store.PresenceOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range more {
		if r.Presence != api.PresenceOffline {
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// hasJoins reports whether a joined room of the response shows a join.
func hasJoins(resp *Response) bool {
	for _, jr := range resp.Rooms.Join {
		for _, list := range [][]json.RawMessage{jr.Timeline.Events, jr.State.Events} {
			for _, raw := range list {
				if isJoin(raw) != nil {
					return true
				}
			}
		}
	}
	return false
}

// newlyVisible lists the users whose join the response's joined rooms
// show, and every member of a room whose join by userID it shows.
func (rt *Routes) newlyVisible(resp *Response, userID string) map[string]struct{} {
	out := map[string]struct{}{}
	for roomID, jr := range resp.Rooms.Join {
		for _, list := range [][]json.RawMessage{jr.Timeline.Events, jr.State.Events} {
			for _, raw := range list {
				target := isJoin(raw)
				switch {
				case target == nil:
				case *target == userID:
					for _, u := range rt.notifier.JoinedMembers(roomID) {
						out[u] = struct{}{}
					}
				default:
					out[*target] = struct{}{}
				}
			}
		}
	}
	delete(out, userID)
	return out
}

// isJoin returns the target of a join membership event, else nil.
func isJoin(raw json.RawMessage) *string {
	if !bytes.Contains(raw, []byte(`"m.room.member"`)) {
		return nil
	}
	var e struct {
		Type     string  `json:"type"`
		StateKey *string `json:"state_key"`
		Content  struct {
			Membership string `json:"membership"`
		} `json:"content"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Type != "m.room.member" || e.StateKey == nil || e.Content.Membership != "join" {
		return nil
	}
	return e.StateKey
}
