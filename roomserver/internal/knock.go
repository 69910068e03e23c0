package internal

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
)

var _ api.Knocks = (*Roomserver)(nil)

// MakeKnock implements api.Knocks (spec: server-server API, "Knocking upon
// a room", GET /_matrix/federation/v1/make_knock): a knock template for a
// user of another server, refused (ForbiddenError) when the room's auth
// rules would refuse the knock — a join rule other than knock (or
// knock_restricted from room version 10 on), a room version without
// knocking, a user already joined, invited or banned.
func (rs *Roomserver) MakeKnock(
	ctx context.Context,
	roomID, userID string,
) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error) {
	return rs.makeMembership(ctx, roomID, userID, spec.Knock)
}

// SendKnock implements api.Knocks (spec: PUT
// /_matrix/federation/v1/send_knock): a knock built from a template is
// added to the room (and so goes to its other servers), and the room's
// stripped state is returned for the knocker.
func (rs *Roomserver) SendKnock(ctx context.Context, pdu gomatrixserverlib.PDU) ([]json.RawMessage, error) {
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil || *pdu.StateKey() != string(pdu.SenderID()) {
		return nil, &api.BadRequestError{Reason: "not a knock of its sender"}
	}
	if m, err := pdu.Membership(); err != nil || m != spec.Knock {
		return nil, &api.BadRequestError{Reason: "not a knock"}
	}
	res, err := rs.input(ctx, pdu, nil, true)
	if err != nil {
		return nil, err
	}
	if res != api.InputAccepted && res != api.InputKnown {
		return nil, api.Forbidden("the knock is %s", res)
	}
	r, err := rs.loadRoom(ctx, pdu.RoomID().String())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return rs.strippedState(r), nil
}

// ReceiveKnock implements api.Knocks: a local user's knock made through
// another server. When a local user is in the room the knock is an
// ordinary event; otherwise it goes to the knocker's sync alone, with the
// room's stripped state in unsigned.knock_room_state (what /sync shows in
// rooms.knock).
func (rs *Roomserver) ReceiveKnock(ctx context.Context, knock gomatrixserverlib.PDU, knockRoomState []json.RawMessage) error {
	if r, err := rs.loadRoom(ctx, knock.RoomID().String()); err == nil {
		if rs.hasLocalMemberNow(r) {
			res, err := rs.InputEvent(ctx, knock)
			if err == nil && res != api.InputAccepted && res != api.InputKnown {
				return api.Forbidden("the knock is %s", res)
			}
			return err
		}
	} else if !errors.Is(err, api.ErrRoomNotFound) {
		return err
	}
	js, err := withUnsigned(knock.JSON(), "knock_room_state", knockRoomState)
	if err != nil {
		return err
	}
	rs.noteUsers(ctx, knock)
	return rs.publish(ctx, api.OutputEvent{RoomID: knock.RoomID().String(), RoomVersion: string(knock.Version()),
		EventID: knock.EventID(), Event: js})
}

// withUnsigned is the event ev with unsigned[key] set to value.
func withUnsigned(ev json.RawMessage, key string, value any) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev, &m); err != nil {
		return nil, err
	}
	unsigned := map[string]any{}
	if raw, ok := m["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned[key] = value
	b, err := json.Marshal(unsigned)
	if err != nil {
		return nil, err
	}
	m["unsigned"] = b
	return json.Marshal(m)
}
