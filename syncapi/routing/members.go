package routing

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
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
