package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /v3/rooms/{roomId}/members (spec: "at", "membership",
// "not_membership"). Members as of the token `at`, or now; a user who left
// sees the members as of their leave (spec: "If the user has left the room
// then this API returns the members at the time they left").
func (rt *Routes) members(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	q := r.URL.Query()
	_, hi, err := rt.visibleRange(r.Context(), roomID, dev.UserID, rt.notifier.Pos())
	if err != nil {
		return err
	}
	at := hi
	if s := q.Get("at"); s != "" {
		pos, err := parseToken(s)
		if err != nil {
			return err
		}
		at = min(pos, hi)
	}
	for _, p := range []string{"membership", "not_membership"} {
		switch v := q.Get(p); v {
		case "", "join", "invite", "knock", "leave", "ban":
		default:
			return httputil.InvalidParam("Invalid %s %q", p, v)
		}
	}
	state, err := rt.store.StateAt(r.Context(), roomID, at)
	if err != nil {
		return err
	}
	if !hasCreate(state) {
		if state, err = rt.stateAsCreated(r.Context(), roomID, at, hi); err != nil {
			return err
		}
	}
	chunk := []json.RawMessage{}
	for _, e := range state {
		if e.Type != "m.room.member" {
			continue
		}
		if m := q.Get("membership"); m != "" && e.Membership != m {
			continue
		}
		if m := q.Get("not_membership"); m != "" && e.Membership == m {
			continue
		}
		chunk = append(chunk, e.JSON)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"chunk": chunk})
	return nil
}

// hasCreate reports whether state holds the room's create event.
func hasCreate(state []*storage.Event) bool {
	for _, e := range state {
		if e.Type == "m.room.create" {
			return true
		}
	}
	return false
}

// stateAsCreated is the room's state once its creator joined, for a
// position at that precedes the room: the prev_batch of a timeline that
// starts at the create event is such a position, and the members "at" it
// are taken to be the room's first (docs/decisions.md). The spec's room
// creation order puts the creator's join right after the create event.
func (rt *Routes) stateAsCreated(ctx context.Context, roomID string, at, hi int64) ([]*storage.Event, error) {
	first, err := rt.store.RoomEvents(ctx, roomID, at, hi, 2, false)
	if err != nil {
		return nil, err
	}
	for _, e := range first {
		if e.Type == "m.room.member" {
			return rt.store.StateAt(ctx, roomID, e.Pos)
		}
	}
	return nil, nil
}
