package routing

import (
	"context"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupEphemeral registers the typing, receipt and read-marker endpoints.
func (rt *Routes) setupEphemeral(r *mux.Router) {
	const v3 = "/_matrix/client/v3"
	r.Handle(v3+"/rooms/{roomId}/typing/{userId}", rt.authed(rt.putTyping)).Methods(http.MethodPut)
	r.Handle(v3+"/rooms/{roomId}/receipt/{receiptType}/{eventId}", rt.authed(rt.postReceipt)).Methods(http.MethodPost)
	r.Handle(v3+"/rooms/{roomId}/read_markers", rt.authed(rt.postReadMarkers)).Methods(http.MethodPost)
}

// PUT /v3/rooms/{roomId}/typing/{userId} (spec: client-server API,
// "Typing Notifications"): only the user themself, and only in a room they
// are joined to.
func (rt *Routes) putTyping(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	roomID, userID := v["roomId"], v["userId"]
	if userID != dev.UserID {
		return httputil.Forbidden("Cannot set another user's typing state")
	}
	if err := rt.mustBeJoined(r.Context(), dev.UserID, roomID); err != nil {
		return err
	}
	var body struct {
		Typing  *bool  `json:"typing"`
		Timeout *int64 `json:"timeout"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	if body.Typing == nil {
		return httputil.MissingParam("typing is required")
	}
	if body.Timeout != nil && *body.Timeout < 0 {
		return httputil.InvalidParam("timeout must not be negative")
	}
	ch := api.TypingChange{RoomID: roomID, UserID: dev.UserID, Typing: *body.Typing}
	if body.Timeout != nil {
		ch.TimeoutMS = *body.Timeout
	}
	if err := rt.eph.PublishTyping(r.Context(), ch); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// mustBeJoined refuses a user who is not joined to a room. A user who does
// not look joined gets a moment for the sync stream to take in a join the
// roomserver already has (read your writes: join, then type at once).
func (rt *Routes) mustBeJoined(ctx context.Context, userID, roomID string) error {
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID %q", roomID)
	}
	joined := func() bool {
		m, ok := rt.notifier.MembershipOf(userID, roomID)
		return ok && m.Membership == "join"
	}
	if !joined() {
		rt.catchUpUser(ctx, userID)
		if !joined() {
			return httputil.Forbidden("You are not joined to %s", roomID)
		}
	}
	return nil
}
