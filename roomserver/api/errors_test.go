package api_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestErrorsAnswerAsClientsExpect pins what clients and servers read for
// each roomserver error, wrapped as the roomserver wraps them: Complement
// and the end-to-end tests depend on these status codes and errcodes.
func TestErrorsAnswerAsClientsExpect(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		errcode string
		message string
	}{
		{api.ErrRoomNotFound, 404, "M_NOT_FOUND", "room not found"},
		{api.ErrEventNotFound, 404, "M_NOT_FOUND", "event not found"},
		{api.ErrNotInRoom, 403, "M_FORBIDDEN", "no user of this server is in the room"},
		{api.ErrUnsupportedRoomVersion, 400, "M_UNSUPPORTED_ROOM_VERSION", "this server does not support that room version"},
		{api.ErrInvalidState, 400, "M_INVALID_ROOM_STATE",
			"initial_state may not contain m.room.create, m.room.member or m.room.power_levels"},
		{api.Forbidden("%s may not ban", "@a:x"), 403, "M_FORBIDDEN", "@a:x may not ban"},
		{&api.BadRequestError{Reason: "content is not JSON"}, 400, "M_BAD_JSON", "content is not JSON"},
		{api.ErrBadSince, 400, "M_INVALID_PARAM", "invalid since token"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			wrapped := fmt.Errorf("perform membership: %w", tc.err)
			me, ok := httputil.AsMatrixError(wrapped)
			if !ok || !errors.Is(wrapped, tc.err) || me.Status != tc.status || me.ErrCode != tc.errcode || me.Message != tc.message {
				t.Fatalf("got %v %+v, want %d %s %q", ok, me, tc.status, tc.errcode, tc.message)
			}
		})
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	all := []error{api.ErrRoomNotFound, api.ErrEventNotFound, api.ErrNotInRoom, api.ErrUnsupportedRoomVersion, api.ErrInvalidState,
		api.ErrBadSince}
	for i, a := range all {
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
}
