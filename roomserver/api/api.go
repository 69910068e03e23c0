// Package api is what other components may know of the roomserver: the
// requests they make, the errors they get back, and the output events it
// publishes on the bus.
package api

import (
	"context"
	"encoding/json"
)

// OutputTopic is the bus topic of the roomserver's output log, keyed by room
// ID, so each room's events are delivered in order.
const OutputTopic = "roomserver.output"

// OutputEvent is one entry of the output log.
type OutputEvent struct {
	// Type is "new_room_event".
	Type        string          `json:"type"`
	RoomID      string          `json:"room_id"`
	RoomVersion string          `json:"room_version"`
	EventID     string          `json:"event_id"`
	Event       json.RawMessage `json:"event"`
	// RedactedEventID and RedactedEvent, on a redaction, name the event it
	// redacted and give that event's redacted form.
	RedactedEventID string          `json:"redacted_event_id,omitempty"`
	RedactedEvent   json.RawMessage `json:"redacted_event,omitempty"`
	// TxnID and DeviceID tell the sender's device which of its requests
	// produced the event (spec: unsigned.transaction_id).
	TxnID    string `json:"txn_id,omitempty"`
	DeviceID string `json:"device_id,omitempty"`
	// Resolved is set on events from other servers, whose effect on the
	// current state comes from state resolution: StateChanged then lists
	// every state event that became current with this event (the event
	// itself if it did), and other keys keep their events. Unset, a state
	// event simply becomes current.
	Resolved     bool     `json:"resolved,omitempty"`
	StateChanged []string `json:"state_changed,omitempty"`
	// Delivered marks a local event the servers of the room already have
	// (a join sent with send_join): the federation component skips it.
	Delivered bool `json:"delivered,omitempty"`
	// Relay marks another server's event this server passes on to the
	// room's other servers (a join or leave made through it).
	Relay bool `json:"relay,omitempty"`
	// Outlier marks a state event of a room this server joined through
	// another: part of the room's state at the join, with no place in the
	// timeline (backfill may give it one later).
	Outlier bool `json:"outlier,omitempty"`
	// Gap marks an event from another server placed with the state before
	// it as that server gave it: its prev events are not (all) in this
	// server's timeline, so clients are told of a gap before it.
	Gap bool `json:"gap,omitempty"`
	// Servers, on a local event, are the servers with a joined member in
	// the room before it: the servers it goes to (with a membership's
	// target's). A server that joins later fetches it if it needs it.
	Servers []string `json:"servers,omitempty"`
}

// DefaultRoomVersion is the version of new rooms that name none (spec:
// rooms, "servers SHOULD use room version 12 by default").
const DefaultRoomVersion = "12"

// OutputTypeNewRoomEvent marks an event that became part of a room.
const OutputTypeNewRoomEvent = "new_room_event"

// CreateRoomRequest is POST /createRoom, already parsed.
type CreateRoomRequest struct {
	Creator                   string
	RoomVersion               string
	Preset                    string
	Name                      *string
	Topic                     *string
	Invite                    []string
	IsDirect                  bool
	InitialState              []StateEvent
	CreationContent           json.RawMessage
	PowerLevelContentOverride json.RawMessage
	// CanonicalAlias is the full alias when room_alias_name was given.
	CanonicalAlias string
	// CreatorDisplayName and CreatorAvatarURL go into the creator's join.
	CreatorDisplayName string
	CreatorAvatarURL   string
	// InviteReason, when set, is the reason of every invite (a friend
	// request's message; createRoom itself has none).
	InviteReason string
}

// StateEvent is a state event a client asks for.
type StateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// SendEventRequest asks the roomserver to send an event as a local user.
type SendEventRequest struct {
	RoomID   string
	Sender   string
	DeviceID string
	// TxnID, when set, makes the request idempotent per device.
	TxnID    string
	Type     string
	StateKey *string
	Content  json.RawMessage
	Redacts  string
	// TS, when not 0, is the event's origin_server_ts in milliseconds: an
	// application service's timestamp massaging (spec: application service
	// API, "Timestamp massaging"). The event still goes at the room's tip.
	TS int64
}

// RedactRequest asks to redact an event (spec: PUT /rooms/{roomId}/redact).
type RedactRequest struct {
	RoomID   string
	Sender   string
	DeviceID string
	TxnID    string
	EventID  string
	Reason   string
}

// MembershipRequest is a join, knock, invite, leave, kick, ban or unban.
type MembershipRequest struct {
	RoomID string
	Sender string
	Target string
	// Membership is the target's new membership: join, knock, invite, leave, ban.
	Membership string
	Reason     string
	IsDirect   bool
	// DisplayName and AvatarURL go into a join's content (spec:
	// m.room.member), taken from the joining user's profile.
	DisplayName string
	AvatarURL   string
	// Extra holds other content keys a client sent with a join (kept as
	// Synapse keeps them); it cannot override the keys above.
	Extra map[string]json.RawMessage
}

// Roomserver is the roomserver as the client API uses it.
type Roomserver interface {
	CreateRoom(ctx context.Context, req CreateRoomRequest) (roomID string, err error)
	SendEvent(ctx context.Context, req SendEventRequest) (eventID string, err error)
	PerformMembership(ctx context.Context, req MembershipRequest) (eventID string, err error)
	// Redact redacts an event the sender may redact: their own, or any
	// with the redact power level.
	Redact(ctx context.Context, req RedactRequest) (eventID string, err error)
	// Forget hides a room the user has left from their lists.
	Forget(ctx context.Context, roomID, userID string) error
	// CurrentState returns the room's current state events.
	CurrentState(ctx context.Context, roomID string) ([]Event, error)
	// StateEvent returns one current state event, or ErrEventNotFound.
	StateEvent(ctx context.Context, roomID, eventType, stateKey string) (Event, error)
	// Membership returns the user's current membership ("leave" if none).
	Membership(ctx context.Context, roomID, userID string) (string, error)
	JoinedRooms(ctx context.Context, userID string) ([]string, error)
	// Forgotten reports whether a user forgot a room they left.
	Forgotten(ctx context.Context, roomID, userID string) (bool, error)
	// Members returns the user IDs with a membership in the room.
	Members(ctx context.Context, roomID, membership string) ([]string, error)
	// Event returns an event by ID, or ErrEventNotFound.
	Event(ctx context.Context, eventID string) (Event, error)
	Friends
	Reports
	ReportsAdmin
	MediaAdmin
	Spaces
	AdminRooms
	Retention
}

// RoomserverAPI is every method the roomserver offers other components
// (what roomserver.New returns); each component uses the part named for
// its need.
type RoomserverAPI interface {
	Roomserver
	Directory
	Federation
	Sync
	Export
}

// Sync is the roomserver as the sync component uses it: the memberships it
// checks reads against, and what lets a read right after a write wait for
// the sync stream to catch up with the roomserver.
type Sync interface {
	// Membership returns the user's current membership ("leave" if none).
	Membership(ctx context.Context, roomID, userID string) (string, error)
	// LatestEventID is the room's newest event in the roomserver.
	LatestEventID(ctx context.Context, roomID string) (string, error)
	// LastEventOf is the newest event a user sent or that changed their
	// membership ("" if none known).
	LastEventOf(userID string) string
	// Forgotten reports whether the user forgot the room (after leaving).
	Forgotten(ctx context.Context, roomID, userID string) (bool, error)
}
