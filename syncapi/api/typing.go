package api

// TypingTopic is the bus topic on which typing changes travel, keyed by
// the room ID; the body is a TypingChange. The sync component publishes a
// local user's PUT /typing; the federation component publishes the m.typing
// EDUs it accepts from other servers (spec: server-server API, "Typing
// Notifications"). The sync component consumes it to keep each room's
// typing users in memory and wake the room's members; the federation
// component consumes it to send local users' changes to the other servers
// in the room. Typing is ephemeral: nothing is stored.
const TypingTopic = "syncapi.typing"

// TypingChange is the body of a TypingTopic message.
type TypingChange struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Typing bool   `json:"typing"`
	// TimeoutMS is how long the user stays typing unless told again
	// (milliseconds); the sync component caps it (MaxTypingTimeout).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}
