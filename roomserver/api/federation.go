package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
)

// InputResult is what became of an event from another server.
type InputResult int

// The outcomes of Federation.InputEvent.
const (
	InputAccepted   InputResult = iota // in the room's timeline and state
	InputSoftFailed                    // stored, not shown, not built upon
	InputRejected                      // fails the auth rules: stored as rejected
	InputKnown                         // already stored
)

func (r InputResult) String() string {
	switch r {
	case InputAccepted:
		return "accepted"
	case InputSoftFailed:
		return "soft-failed"
	case InputRejected:
		return "rejected"
	case InputKnown:
		return "known"
	}
	return fmt.Sprintf("InputResult(%d)", int(r))
}

// MissingEventsError lists the prev or auth events of an event that this
// server does not have (the federation component fetches them and retries).
type MissingEventsError struct {
	Prev, Auth []string
}

func (e *MissingEventsError) Error() string {
	return fmt.Sprintf("missing %d prev and %d auth events", len(e.Prev), len(e.Auth))
}

// Federation is what the federation component needs of the roomserver.
// Events handed to it have had their signatures and content hashes checked.
type Federation interface {
	// RoomVersion is the version of a room this server has, or ErrRoomNotFound.
	RoomVersion(ctx context.Context, roomID string) (gomatrixserverlib.IRoomVersion, error)
	// JoinedServers are the servers with a joined member in the room now.
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	// JoinedRooms are the rooms a user (of any server) is joined to: the
	// servers sharing a room with a user are those of its rooms.
	JoinedRooms(ctx context.Context, userID string) ([]string, error)
	// Members returns the user IDs with a membership in the room.
	Members(ctx context.Context, roomID, membership string) ([]string, error)
	// LatestEventIDs are the room's forward extremities.
	LatestEventIDs(ctx context.Context, roomID string) ([]string, error)
	// InputEventWithState adds an event whose prev events cannot be had,
	// with the state before it another server gave (event IDs, stored).
	InputEventWithState(ctx context.Context, pdu gomatrixserverlib.PDU, stateBefore []string) (InputResult, error)
	// StoreHistory checks events from before the oldest this server has of
	// a room (backfill) against their auth events and stores them outside
	// the timeline DAG; it returns those that pass, oldest first. Events
	// whose auth events are not stored or in pdus are left out.
	StoreHistory(ctx context.Context, roomID string, pdus []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, error)
	// InputEvent adds an event from another server to a room this server has.
	InputEvent(ctx context.Context, pdu gomatrixserverlib.PDU) (InputResult, error)
	// MakeJoin returns a join event template for a user of another server
	// (ForbiddenError when the user may not join).
	MakeJoin(ctx context.Context, roomID, userID string) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error)
	// MakeLeave returns a leave event template for a user of another server.
	MakeLeave(ctx context.Context, roomID, userID string) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error)
	// SendLeave accepts a leave built from a template.
	SendLeave(ctx context.Context, pdu gomatrixserverlib.PDU) error
	// RejectInvite records the leave that rejected an invite to a room this
	// server is not in (the user's sync shows it).
	RejectInvite(ctx context.Context, leave gomatrixserverlib.PDU) error
	// RejectInviteLocally records a leave that only this server knows of,
	// when the inviting server cannot be reached to reject an invite.
	RejectInviteLocally(ctx context.Context, roomID, userID string) error
	// SendJoin accepts a join built from a template and returns the state
	// before it and the auth chain of that state and the join.
	SendJoin(ctx context.Context, pdu gomatrixserverlib.PDU) (state, authChain []gomatrixserverlib.PDU, err error)
	// ImportRoom creates a room this server joined through another (or
	// had and left): the state and auth chain from send_join, the events
	// between what this server had and the join (gap, on a rejoin), then
	// the join event. History before that comes on demand (StoreHistory).
	ImportRoom(
		ctx context.Context, version gomatrixserverlib.IRoomVersion,
		state, authChain, gap []gomatrixserverlib.PDU, join gomatrixserverlib.PDU,
	) error
	// ReceiveInvite delivers an invite for a local user from another server,
	// already signed by this server: to the room when this server is in it,
	// else to the user's sync with the room's stripped state.
	ReceiveInvite(ctx context.Context, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage) error
	// ServerAllowed reports whether the room's server ACL lets a server
	// take part (spec: m.room.server_acl).
	ServerAllowed(ctx context.Context, roomID, server string) bool
	// ServerInRoom reports whether a server has a joined or invited user in
	// the room (and so may read its events).
	ServerInRoom(ctx context.Context, roomID, server string) (bool, error)
	// EventRoom returns the room of a stored event (ErrEventNotFound).
	EventRoom(ctx context.Context, eventID string) (string, error)
	// EventNearTS returns the ID and origin_server_ts of the room's
	// timeline event nearest ts: the first at or after it when forward,
	// else the last at or before it (ErrEventNotFound: none).
	EventNearTS(ctx context.Context, roomID string, ts int64, forward bool) (string, int64, error)
	// RoomEvents returns the room's stored events with these IDs.
	RoomEvents(ctx context.Context, roomID string, ids []string) ([]gomatrixserverlib.PDU, error)
	// StateBefore returns the state before an event and its auth chain
	// (ErrEventNotFound for an event not in the room's timeline).
	StateBefore(ctx context.Context, roomID, eventID string) (state, authChain []gomatrixserverlib.PDU, err error)
	// AuthChain returns the auth chain of an event.
	AuthChain(ctx context.Context, roomID, eventID string) ([]gomatrixserverlib.PDU, error)
	// WalkBack follows prev_events back from events (backfill,
	// get_missing_events).
	WalkBack(
		ctx context.Context, roomID string, from, stop []string, limit int, minDepth int64, includeStart bool,
	) ([]gomatrixserverlib.PDU, error)
	// VisibleToServer gives pdus as a server may see them under the
	// room's history visibility (redacted where it may not).
	VisibleToServer(ctx context.Context, roomID, server string, pdus []gomatrixserverlib.PDU) ([]gomatrixserverlib.PDU, error)
	Knocks
}
