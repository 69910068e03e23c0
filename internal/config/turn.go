package config

import (
	"strings"
	"time"
)

// DefaultTURNTTL is how long TURN credentials are good for (Synapse's
// turn_user_lifetime default is one day).
const DefaultTURNTTL = 24 * time.Hour

// TURN configures the TURN servers handed to clients for calls (spec:
// client-server API, "Voice over IP", GET /voip/turnServer). With
// SharedSecret, each answer carries time-limited credentials in the TURN
// REST API form coturn checks with use-auth-secret: username
// "<expiry unix seconds>:<user ID>", password base64(HMAC-SHA1(secret,
// username)). Otherwise Username and Password are handed out as they are.
// With no URIs the endpoint answers {} (no TURN server).
type TURN struct {
	// URIs are the TURN servers (turn: or turns: URIs such as
	// turn:turn.example.com:3478?transport=udp).
	URIs []string `yaml:"uris"`
	// SharedSecret is coturn's static-auth-secret.
	SharedSecret string `yaml:"shared_secret"`
	// Username and Password are fixed credentials, when SharedSecret is
	// empty.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TTL is how long credentials are good for, and the ttl clients are
	// told. Default 24h.
	TTL Duration `yaml:"ttl"`
}

// Defaults fills the zero fields of t.
func (t *TURN) Defaults() {
	setDefault(&t.TTL, Duration(DefaultTURNTTL))
	if len(t.URIs) == 0 {
		t.URIs = nil
	}
}

// Verify records the problems of t in errs.
func (t *TURN) Verify(errs *Errors) {
	for _, u := range t.URIs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			errs.Add("turn.uris", "must be turn: or turns: URIs (got %q)", u)
		}
	}
	static := t.Username != "" || t.Password != ""
	switch {
	case t.SharedSecret != "" && static:
		errs.Add("turn", "shared_secret and username/password are two ways to give credentials: set one")
	case len(t.URIs) > 0 && t.SharedSecret == "" && !static:
		errs.Add("turn", "uris need credentials: shared_secret, or username and password")
	case len(t.URIs) == 0 && (t.SharedSecret != "" || static):
		errs.Add("turn.uris", "must list the TURN servers the credentials are for")
	}
	if t.TTL <= 0 {
		errs.Add("turn.ttl", "must be more than 0 (got %s)", t.TTL)
	}
}

func init() {
	docs["turn"] = "TURN servers for calls (GET /_matrix/client/v3/voip/turnServer). With no " +
		"uris the endpoint answers {}: clients then call without a relay."
	docs["turn.uris"] = "The TURN servers, as turn: or turns: URIs (turn:turn.example.com:3478?transport=udp)."
	docs["turn.shared_secret"] = "coturn's static-auth-secret (use-auth-secret): each client gets " +
		"credentials that expire after ttl, username \"<expiry>:<user ID>\", password " +
		"base64(HMAC-SHA1(secret, username)). Keep it secret."
	docs["turn.username"] = "A fixed TURN username, when shared_secret is empty."
	docs["turn.password"] = "The fixed username's password. Keep it secret."
	docs["turn.ttl"] = "How long credentials are good for; clients are told to fetch new ones after it."
}
