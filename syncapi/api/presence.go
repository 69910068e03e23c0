package api

// Presence states (spec: client-server API, "Presence").
const (
	PresenceOnline      = "online"
	PresenceUnavailable = "unavailable"
	PresenceOffline     = "offline"
)

// ValidPresence reports whether s is one of the three presence states.
func ValidPresence(s string) bool {
	return s == PresenceOnline || s == PresenceUnavailable || s == PresenceOffline
}

// PresenceTopic is the bus topic on which the sync component announces a
// change of a local user's presence, keyed by the user ID; the body is a
// PresenceUpdate. It is published in the transaction that stores the
// change. The federation component consumes it to send m.presence EDUs to
// the servers sharing a room with the user.
const PresenceTopic = "syncapi.presence"

// PresenceInboundTopic is the bus topic on which the federation component
// hands the sync component other servers' users' presence from m.presence
// EDUs, keyed by the user ID; the body is a PresenceUpdate. Each update
// names a user of the server that sent it (checked before publishing).
const PresenceInboundTopic = "syncapi.presence_inbound"

// PresenceUpdate is one user's presence, the body of PresenceTopic and
// PresenceInboundTopic messages: an m.presence EDU's push entry, with the
// last activity as an absolute time, so that a message delivered late
// still gives the right last_active_ago.
type PresenceUpdate struct {
	UserID   string `json:"user_id"`
	Presence string `json:"presence"`
	// StatusMsg is nil when the user has no status message.
	StatusMsg *string `json:"status_msg,omitempty"`
	// LastActiveTS is when the user was last active, in milliseconds since
	// the epoch.
	LastActiveTS    int64 `json:"last_active_ts"`
	CurrentlyActive bool  `json:"currently_active"`
}
