package routing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/routing"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

const tokenValidity = "/_matrix/client/v1/register/m.login.registration_token/validity"

// TestRegisterHandlers covers register.go with open registration: the
// username and password checks that come before user-interactive auth, the
// dummy stage, and the availability and token-validity queries.
func TestRegisterHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	f.User(t, "carol")
	reg := func(username string) map[string]any {
		return map[string]any{"username": username, "password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}}
	}
	run(t, f, []call{
		{"not JSON", "POST", "/register", "", `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "POST", "/register", "", `[1,2]`, 400, "M_BAD_JSON", nil},
		{"mistyped", "POST", "/register", "", `{"username":5}`, 400, "M_BAD_JSON", nil},
		{"guest", "POST", "/register?kind=guest", "", `{}`, 403, "M_GUEST_ACCESS_FORBIDDEN", nil},
		{"unknown kind", "POST", "/register?kind=robot", "", `{}`, 400, "M_INVALID_PARAM", nil},
		{"username with white space", "POST", "/register", "", reg("bad name"), 400, "M_INVALID_USERNAME", nil},
		{"username with !", "POST", "/register", "", reg("eve!"), 400, "M_INVALID_USERNAME", nil},
		{"username with :", "POST", "/register", "", reg("eve:x"), 400, "M_INVALID_USERNAME", nil},
		{"username for application services", "POST", "/register", "", reg("_bridge"), 400, "M_INVALID_USERNAME", nil},
		{"username too long", "POST", "/register", "", reg(strings.Repeat("a", 250)), 400, "M_INVALID_USERNAME", nil},
		{"username taken", "POST", "/register", "", reg("carol"), 400, "M_USER_IN_USE", nil},
		{"username taken in upper case", "POST", "/register", "", reg("CAROL"), 400, "M_USER_IN_USE", nil},
		{"weak password", "POST", "/register", "", `{"username":"erin","password":"short"}`, 400, "M_WEAK_PASSWORD", nil},
		{"password too long", "POST", "/register", "", map[string]string{"username": "erin", "password": strings.Repeat("p", 513)},
			400, "M_INVALID_PARAM", nil},
		{"device ID with NUL", "POST", "/register", "", withField(reg("erin"), "device_id", "a\x00b"), 400, "M_INVALID_PARAM", nil},
		{"without auth", "POST", "/register", "", `{"username":"erin","password":"long enough"}`, 401, "", challenge("m.login.dummy")},
		{"unknown session", "POST", "/register", "",
			`{"username":"erin","password":"long enough","auth":{"type":"m.login.dummy","session":"x"}}`,
			400, "M_UNKNOWN", nil},
		{"stage not offered", "POST", "/register", "", `{"username":"erin","password":"long enough","auth":{"type":"m.login.password"}}`,
			401, "M_UNKNOWN", challenge("m.login.dummy")},
		{"registers", "POST", "/register", "", reg("erin"), 200, "", hasKeys("user_id", "access_token", "device_id", "home_server")},
		{"named after the localpart", "GET", "/profile/@erin:test.local/displayname", "", nil, 200, "", equals("displayname", "erin")},
		{"lower-cases the username", "POST", "/register", "", reg("Frank"), 200, "", equals("user_id", "@frank:test.local")},
		{"named after the lowered localpart", "GET", "/profile/@frank:test.local/displayname", "", nil, 200, "",
			equals("displayname", "frank")},
		{"without logging in", "POST", "/register", "", withField(reg("gina"), "inhibit_login", true), 200, "", noKey("access_token")},
		{"refreshable", "POST", "/register", "", withField(reg("hugo"), "refresh_token", true), 200, "",
			hasKeys("refresh_token", "expires_in_ms")},
		{"without a username", "POST", "/register", "", `{"password":"long enough","auth":{"type":"m.login.dummy"}}`, 200, "",
			generatedUser},

		{"available without username", "GET", "/register/available", "", nil, 400, "M_MISSING_PARAM", nil},
		{"available malformed", "GET", "/register/available?username=N%20O", "", nil, 400, "M_INVALID_USERNAME", nil},
		{"available taken", "GET", "/register/available?username=carol", "", nil, 400, "M_USER_IN_USE", nil},
		{"available", "GET", "/register/available?username=ivan", "", nil, 200, "", equals("available", true)},

		{"token validity without token", "GET", tokenValidity, "", nil, 400, "M_MISSING_PARAM", nil},
		{"token validity (no tokens in open registration)", "GET", tokenValidity + "?token=abc", "", nil, 200, "", equals("valid", false)},
	})
}

// TestRegisterWithToken covers token registration: the stage is offered,
// a wrong or malformed token is refused, a good one registers.
func TestRegisterWithToken(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) { c.ClientAPI.Registration = routing.RegistrationToken }})
	tok, err := f.Users.CreateRegistrationToken(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	with := func(token string) map[string]any {
		return map[string]any{
			"username": "erin",
			"password": "long enough",
			"auth":     map[string]string{"type": "m.login.registration_token", "token": token},
		}
	}
	run(t, f, []call{
		{"without auth", "POST", "/register", "", `{"username":"erin","password":"long enough"}`,
			401, "", challenge("m.login.registration_token")},
		{"dummy not offered", "POST", "/register", "", `{"username":"erin","password":"long enough","auth":{"type":"m.login.dummy"}}`,
			401, "M_UNKNOWN", nil},
		{"missing token", "POST", "/register", "", with(""), 401, "M_MISSING_PARAM", nil},
		{"unknown token", "POST", "/register", "", with("nope"), 401, "M_UNAUTHORIZED", nil},
		{"malformed token", "POST", "/register", "", with("no pe"), 401, "M_UNAUTHORIZED", nil},
		{"validity of an unknown token", "GET", tokenValidity + "?token=nope", "", nil, 200, "", equals("valid", false)},
		{"validity", "GET", tokenValidity + "?token=" + tok, "", nil, 200, "", equals("valid", true)},
		{"registers", "POST", "/register", "", with(tok), 200, "", equals("user_id", "@erin:test.local")},
	})
}

// TestRegisterDisabled: registration is refused, the token query too.
func TestRegisterDisabled(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) { c.ClientAPI.Registration = routing.RegistrationDisabled }})
	run(t, f, []call{
		{"register", "POST", "/register", "", `{"username":"erin","password":"long enough"}`, 403, "M_FORBIDDEN", nil},
		{"token validity", "GET", tokenValidity + "?token=abc", "", nil, 403, "M_FORBIDDEN", nil},
	})
}

// TestRegisterRateLimit: registrations and availability checks share a
// per-address bucket.
func TestRegisterRateLimit(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) {
		c.ClientAPI.RateLimits.Enabled = true
		c.ClientAPI.RateLimits.Registration = config.RateLimit{PerSecond: 0.001, Burst: 2}
	}})
	run(t, f, []call{
		{"first", "GET", "/register/available?username=a", "", nil, 200, "", nil},
		{"second", "POST", "/register", "", `{"username":"b","password":"long enough"}`, 401, "", nil},
		{"limited", "GET", "/register/available?username=c", "", nil, 429, "M_LIMIT_EXCEEDED", hasKeys("retry_after_ms")},
		{"limited register", "POST", "/register", "", `{}`, 429, "M_LIMIT_EXCEEDED", nil},
	})
}

func noKey(key string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if _, ok := r.JSON()[key]; ok {
			t.Fatalf("response with %q: %s", key, r.Body)
		}
	}
}

// generatedUser checks a user ID the server chose: u + 12 characters.
func generatedUser(t *testing.T, r *fixture.Response) {
	t.Helper()
	id, _ := r.JSON()["user_id"].(string)
	if !strings.HasPrefix(id, "@u") || len(id) != len("@u123456789012:test.local") {
		t.Fatalf("generated user ID %q", id)
	}
}
