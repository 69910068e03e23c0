package config

// Presence configures presence (spec: client-server API, "Presence"):
// who is online, idle or offline, shared with the users and servers that
// share a room. Large deployments turn it off: each change wakes every
// user sharing a room and goes to every server sharing one.
type Presence struct {
	// Enabled turns presence on. Default true. Defaults never changes it,
	// since false is meaningful: only Default sets it to true. Off, /sync
	// carries no presence, PUT /presence/{userId}/status is accepted and
	// ignored, GET answers offline, no m.presence EDUs are sent and those
	// received are dropped.
	Enabled bool `yaml:"enabled"`
}

func init() {
	docs["presence"] = "Presence: whether users are online, idle or offline, and their " +
		"status messages, shared with the users and servers that share a room with them."
	docs["presence.enabled"] = "false turns presence off: /sync carries none, setting it is " +
		"accepted and ignored, and none is sent to or taken from other servers. Large " +
		"deployments turn it off to save the wake-ups and federation traffic it costs."
}
