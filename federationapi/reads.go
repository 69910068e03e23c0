package federationapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
)

// Limits of the read endpoints.
const (
	maxBackfill      = 100
	maxMissingEvents = 50
)

// mayRead checks that origin may read the room's events: one of its users
// is joined or invited (spec: servers only see rooms they are in).
func (f *FederationAPI) mayRead(r *http.Request, origin spec.ServerName, roomID string) error {
	if f.opts.Rooms == nil {
		return httputil.NotFound("this server has no rooms")
	}
	if !f.opts.Rooms.ServerAllowed(r.Context(), roomID, string(origin)) {
		return httputil.Forbidden("the room's server ACL denies %s", origin)
	}
	in, err := f.opts.Rooms.ServerInRoom(r.Context(), roomID, string(origin))
	if err != nil {
		return err
	}
	if !in {
		return httputil.Forbidden("%s is not in the room", origin)
	}
	return nil
}

// txnResponse is the answer of /event and /backfill: a transaction of PDUs.
func (f *FederationAPI) txnResponse(w http.ResponseWriter, pdus []gomatrixserverlib.PDU) {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"origin": f.name, "origin_server_ts": spec.AsTimestamp(f.now()), "pdus": jsonList(pdus)})
}

// GET /_matrix/federation/v1/event/{eventId}
func (f *FederationAPI) getEvent(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	if f.opts.Rooms == nil {
		return httputil.NotFound("this server has no rooms")
	}
	id := httputil.Vars(r)["eventId"]
	roomID, err := f.opts.Rooms.EventRoom(r.Context(), id)
	if err != nil {
		return httputil.NotFound("event not found")
	}
	if err := f.mayRead(r, origin, roomID); err != nil {
		return err
	}
	evs, err := f.opts.Rooms.RoomEvents(r.Context(), roomID, []string{id})
	if err != nil || len(evs) == 0 {
		return httputil.NotFound("event not found")
	}
	// As /backfill: an event the origin's users may not see under the
	// room's history visibility is given redacted.
	if evs, err = f.opts.Rooms.VisibleToServer(r.Context(), roomID, string(origin), evs); err != nil {
		return err
	}
	f.txnResponse(w, evs)
	return nil
}

// GET /_matrix/federation/v1/state/{roomId}?event_id= and /state_ids.
func (f *FederationAPI) getState(idsOnly bool) fedHandler {
	return func(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
		roomID := httputil.Vars(r)["roomId"]
		if err := f.mayRead(r, origin, roomID); err != nil {
			return err
		}
		eventID := r.URL.Query().Get("event_id")
		if eventID == "" {
			return httputil.MissingParam("event_id is required")
		}
		state, chain, err := f.opts.Rooms.StateBefore(r.Context(), roomID, eventID)
		if err != nil {
			return err
		}
		if idsOnly {
			httputil.WriteJSON(w, http.StatusOK, map[string][]string{"pdu_ids": ids(state), "auth_chain_ids": ids(chain)})
			return nil
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"pdus": jsonList(state), "auth_chain": jsonList(chain)})
		return nil
	}
}

// GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}
func (f *FederationAPI) eventAuth(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	v := httputil.Vars(r)
	if err := f.mayRead(r, origin, v["roomId"]); err != nil {
		return err
	}
	chain, err := f.opts.Rooms.AuthChain(r.Context(), v["roomId"], v["eventId"])
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"auth_chain": jsonList(chain)})
	return nil
}

// GET /_matrix/federation/v1/backfill/{roomId}?v=…&limit=
func (f *FederationAPI) backfill(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := f.mayRead(r, origin, roomID); err != nil {
		return err
	}
	q := r.URL.Query()
	from := q["v"]
	if len(from) == 0 {
		return httputil.MissingParam("v is required")
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		return httputil.InvalidParam("limit must be a positive number")
	}
	evs, err := f.opts.Rooms.WalkBack(r.Context(), roomID, from, nil, min(limit, maxBackfill), 0, true)
	if err != nil {
		return err
	}
	if evs, err = f.opts.Rooms.VisibleToServer(r.Context(), roomID, string(origin), evs); err != nil {
		return err
	}
	f.txnResponse(w, evs)
	return nil
}

// POST /_matrix/federation/v1/get_missing_events/{roomId}
func (f *FederationAPI) getMissingEvents(w http.ResponseWriter, r *http.Request, origin spec.ServerName, body []byte) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := f.mayRead(r, origin, roomID); err != nil {
		return err
	}
	var req struct {
		Limit    int      `json:"limit"`
		MinDepth int64    `json:"min_depth"`
		Earliest []string `json:"earliest_events"`
		Latest   []string `json:"latest_events"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return httputil.BadJSON("bad request: %v", err)
	}
	if req.Limit <= 0 {
		req.Limit = 10 // the spec's default
	}
	evs, err := f.opts.Rooms.WalkBack(r.Context(), roomID, req.Latest, req.Earliest, min(req.Limit, maxMissingEvents), req.MinDepth, false)
	if err != nil {
		return err
	}
	if evs, err = f.opts.Rooms.VisibleToServer(r.Context(), roomID, string(origin), evs); err != nil {
		return err
	}
	// Oldest first (spec: "in chronological order").
	slices.Reverse(evs)
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"events": jsonList(evs)})
	return nil
}

func ids(pdus []gomatrixserverlib.PDU) []string {
	out := make([]string, len(pdus))
	for i, p := range pdus {
		out[i] = p.EventID()
	}
	return out
}
