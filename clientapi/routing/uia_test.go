package routing_test

import (
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestUserInteractiveAuth covers uia.go through an operation it guards
// (deleting a device): challenges, stage failures, sessions bound to their
// operation and user, and the identifier rules of the password stage.
func TestUserInteractiveAuth(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	spare := login(t, f, alice)
	del := "/devices/" + deviceOf(t, f, spare)
	auth := func(a map[string]any) map[string]any { return map[string]any{"auth": a} }
	pw := func(user any, password string) map[string]any {
		return auth(map[string]any{"type": "m.login.password", "identifier": user, "password": password})
	}
	id := func(user string) map[string]string { return map[string]string{"type": "m.id.user", "user": user} }
	passwordSession := session(t, f, http.MethodPost, "/account/password", alice.Token, map[string]any{"new_password": "long enough"})
	run(t, f, []call{
		{"no auth", "DELETE", del, alice.Token, `{}`, 401, "", challenge("m.login.password")},
		{"auth without type", "DELETE", del, alice.Token, auth(map[string]any{"session": ""}), 401, "", challenge("m.login.password")},
		{"stage not offered", "DELETE", del, alice.Token, auth(map[string]any{"type": "m.login.dummy"}), 401, "M_UNKNOWN",
			challenge("m.login.password")},
		{"unknown session", "DELETE", del, alice.Token, auth(map[string]any{"type": "m.login.password", "session": "nope"}),
			400, "M_UNKNOWN", nil},
		{"session of another operation", "DELETE", del, alice.Token,
			auth(map[string]any{"type": "m.login.password", "session": passwordSession}), 400, "M_UNKNOWN", nil},
		{"wrong password", "DELETE", del, alice.Token, pw(id("alice"), "wrong"), 401, "M_FORBIDDEN", challenge("m.login.password")},
		{"identifier without type", "DELETE", del, alice.Token, pw(map[string]string{"user": "alice"}, alice.Password),
			401, "M_BAD_JSON", nil},
		{"identifier of an unsupported type", "DELETE", del, alice.Token,
			pw(map[string]string{"type": "m.id.nickname", "nickname": "al"}, alice.Password), 401, "M_UNKNOWN", nil},
		{"malformed phone number", "DELETE", del, alice.Token,
			pw(map[string]string{"type": "m.id.phone", "country": "GB", "phone": "1"}, alice.Password), 401, "M_INVALID_PARAM", nil},
		{"phone number of no account", "DELETE", del, alice.Token,
			pw(map[string]string{"type": "m.id.phone", "country": "GB", "phone": "07400 123456"}, alice.Password), 401, "M_FORBIDDEN", nil},
		{"malformed identifier", "DELETE", del, alice.Token, pw(id("a\x00b"), alice.Password), 401, "M_FORBIDDEN", nil},
		{"another user", "DELETE", del, alice.Token, pw(id("bob"), bob.Password), 403, "M_FORBIDDEN", nil},
		{"another server's user", "DELETE", del, alice.Token, pw(id("@alice:elsewhere.test"), alice.Password), 401, "M_FORBIDDEN", nil},
		{"right password", "DELETE", del, alice.Token, pw(id("alice"), alice.Password), 200, "", nil},
		{"deleted", "GET", "/account/whoami", spare, nil, 401, "M_UNKNOWN_TOKEN", nil},
	})

	t.Run("a session carries over and ends with the operation", func(t *testing.T) {
		first := "/devices/" + deviceOf(t, f, login(t, f, alice))
		second := "/devices/" + deviceOf(t, f, login(t, f, alice))
		s := session(t, f, http.MethodDelete, first, alice.Token, map[string]any{})
		f.Do(t, http.MethodDelete, clientPath(first), alice.Token, auth(map[string]any{
			"type":       "m.login.password",
			"session":    s,
			"identifier": id(alice.ID),
			"password":   alice.Password,
		})).Want(t, http.StatusOK)
		f.Do(t, http.MethodDelete, clientPath(second), alice.Token, auth(map[string]any{"type": "m.login.password", "session": s})).
			Want(t, http.StatusBadRequest, "M_UNKNOWN")
	})
}

// TestUserInteractiveAuthRateLimit: failed password stages count against
// the user's login bucket; once it is empty, the stage answers 429, not a
// challenge.
func TestUserInteractiveAuthRateLimit(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) {
		c.ClientAPI.RateLimits.Enabled = true
		c.ClientAPI.RateLimits.Login = config.RateLimit{PerSecond: 0.001, Burst: 1}
	}})
	alice := f.User(t, "alice")
	wrong := map[string]any{"auth": passwordAuth(alice, "wrong")}
	run(t, f, []call{
		{"wrong password", "POST", "/account/deactivate", alice.Token, wrong, 401, "M_FORBIDDEN", nil},
		{"limited", "POST", "/account/deactivate", alice.Token, wrong, 429, "M_LIMIT_EXCEEDED", nil},
	})
}

// session starts a UIA session for an operation and returns its ID.
func session(t *testing.T, f *fixture.Fixture, method, path, token string, body map[string]any) string {
	t.Helper()
	res := f.Do(t, method, clientPath(path), token, body)
	res.Want(t, http.StatusUnauthorized)
	s, _ := res.JSON()["session"].(string)
	if s == "" {
		t.Fatalf("no session in %s", res.Body)
	}
	return s
}
