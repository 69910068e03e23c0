package api

import (
	"context"
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib"
)

// Knocks is what the federation component needs of the roomserver for
// knocking (spec: server-server API, "Knocking upon a room").
type Knocks interface {
	// MakeKnock returns a knock event template for a user of another
	// server (ForbiddenError when the user may not knock).
	MakeKnock(ctx context.Context, roomID, userID string) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error)
	// SendKnock accepts a knock built from a template and returns the
	// room's stripped state for the knocker (knock_room_state).
	SendKnock(ctx context.Context, pdu gomatrixserverlib.PDU) ([]json.RawMessage, error)
	// ReceiveKnock delivers a local user's knock made through another
	// server, with the stripped state that server gave, to the user's sync.
	ReceiveKnock(ctx context.Context, knock gomatrixserverlib.PDU, knockRoomState []json.RawMessage) error
}
