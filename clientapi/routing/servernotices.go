package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// errCannotLeaveNotices refuses to reject the invite to a server-notices
// room (Synapse's answer; its users must read their notices).
var errCannotLeaveNotices = &httputil.MatrixError{Status: http.StatusForbidden,
	ErrCode: "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", Message: "You cannot reject this invite"}

// checkNoticesLeave refuses a leave by userID that would reject an invite
// from the server-notices user. NOTSPEC: a Synapse rule (server notices
// are Synapse's), which clients and Complement expect; once joined, the
// user may leave.
func (rt *Routes) checkNoticesLeave(ctx context.Context, roomID, userID string) error {
	if rt.opts.ServerNoticesUser == "" {
		return nil
	}
	m, err := rt.rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomapi.ErrRoomNotFound) || err == nil && m != "invite" {
		return nil
	}
	if err != nil {
		return err
	}
	invite, err := rt.rooms.StateEvent(ctx, roomID, "m.room.member", userID)
	if err != nil {
		return err
	}
	var pdu struct {
		Sender string `json:"sender"`
	}
	if err := json.Unmarshal(invite.PDU, &pdu); err != nil {
		return fmt.Errorf("reading the invite of %s to %s: %w", userID, roomID, err)
	}
	if pdu.Sender == rt.opts.ServerNoticesUser {
		return errCannotLeaveNotices
	}
	return nil
}
