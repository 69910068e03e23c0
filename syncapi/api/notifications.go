package api

import "encoding/json"

// NotificationTopic is the bus topic on which the sync component announces
// that an event it stored notifies local users (their push rules said
// "notify"), keyed by the room ID; the body is a Notification. It is
// published in the transaction that stores the event's notification rows,
// so a pusher hears of exactly the notifications /notifications lists.
// The pusher worker (userapi) consumes it to wake phones through push
// gateways (spec: Push Gateway API).
const NotificationTopic = "syncapi.notification"

// Notification is the body of a NotificationTopic message: one event and
// the local users it notifies, each with what their rules decided and
// their unread counts after it.
type Notification struct {
	RoomID  string `json:"room_id"`
	EventID string `json:"event_id"`
	// Event is the event in the client format (type, sender, content,
	// state_key when a state event, event_id, room_id,
	// origin_server_ts), for pushers of the full format.
	Event json.RawMessage `json:"event"`
	// SenderDisplayName and RoomName, when known, fill the push gateway
	// request's fields of the same names.
	SenderDisplayName string `json:"sender_display_name,omitempty"`
	RoomName          string `json:"room_name,omitempty"`
	// Users is one entry per notified local user who may have pushers
	// (userapi PusherHolders); a message is published only when there is
	// one.
	Users []NotifiedUser `json:"users"`
}

// NotifiedUser is one user an event notifies.
type NotifiedUser struct {
	UserID string `json:"user_id"`
	// Actions are the push rule actions that matched ("notify",
	// {"set_tweak": "sound", "value": "default"}, ...), as the push
	// gateway request's devices[].tweaks are made from them.
	Actions []json.RawMessage `json:"actions"`
	// Highlight is the highlight tweak's outcome.
	Highlight bool `json:"highlight"`
	// Unread is the user's count of unread notifications over all rooms
	// (the push gateway's counts.unread). The sync component does not fill
	// it when it publishes: the pusher worker asks for the count when it
	// sends (pusher.UnreadCounter), which only users with pushers cost.
	// MissedCalls is left out until calls are counted.
	Unread int `json:"unread,omitempty"`
}
