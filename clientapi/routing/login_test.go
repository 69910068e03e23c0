package routing_test

import (
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestLoginHandlers covers login.go: login, logout, refresh and whoami.
func TestLoginHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	loggedOut, all := f.User(t, "bob"), f.User(t, "carol")
	pw := func(user string) map[string]any {
		return map[string]any{
			"type":       "m.login.password",
			"identifier": map[string]string{"type": "m.id.user", "user": user},
			"password":   alice.Password,
		}
	}
	session := hasKeys("user_id", "access_token", "device_id", "home_server")
	run(t, f, []call{
		{"flows", "GET", "/login", "", nil, 200, "", loginFlows},
		{"not JSON", "POST", "/login", "", `password=1`, 400, "M_NOT_JSON", nil},
		{"mistyped", "POST", "/login", "", `{"type":"m.login.password","user":"alice","password":12}`, 400, "M_BAD_JSON", nil},
		{"no type", "POST", "/login", "", `{"user":"alice","password":"x"}`, 400, "M_MISSING_PARAM", nil},
		{"unknown type", "POST", "/login", "", `{"type":"m.login.magic"}`, 400, "M_UNKNOWN", nil},
		{"no user", "POST", "/login", "", `{"type":"m.login.password","password":"x"}`, 400, "M_MISSING_PARAM", nil},
		{"identifier without type", "POST", "/login", "", `{"type":"m.login.password","identifier":{"user":"alice"},"password":"x"}`,
			400, "M_BAD_JSON", nil},
		{"third-party identifier", "POST", "/login", "",
			`{"type":"m.login.password","identifier":{"type":"m.id.thirdparty","medium":"email","address":"a@b.c"},"password":"x"}`,
			400, "M_UNKNOWN", nil},
		{"wrong password", "POST", "/login", "", `{"type":"m.login.password","user":"alice","password":"wrong"}`, 403, "M_FORBIDDEN", nil},
		{"unknown user", "POST", "/login", "", pw("nobody"), 403, "M_FORBIDDEN", nil},
		{"user of another server", "POST", "/login", "", pw("@alice:elsewhere.test"), 403, "M_FORBIDDEN", nil},
		{"user ID without server", "POST", "/login", "", pw("@alice"), 403, "M_FORBIDDEN", nil},
		{"device ID with NUL", "POST", "/login", "",
			`{"type":"m.login.password","user":"alice","password":"password-alice","device_id":"X\u0000"}`, 400, "M_INVALID_PARAM", nil},
		{"localpart", "POST", "/login", "", pw("alice"), 200, "", session},
		{"user ID", "POST", "/login", "", pw(alice.ID), 200, "", equals("user_id", alice.ID)},
		{"upper case", "POST", "/login", "", pw("@ALICE:test.local"), 200, "", equals("user_id", alice.ID)},
		{"legacy user field", "POST", "/login", "", `{"type":"m.login.password","user":"alice","password":"password-alice"}`,
			200, "", session},
		{"chosen device", "POST", "/login", "", withField(pw("alice"), "device_id", "PHONE"), 200, "", equals("device_id", "PHONE")},
		{"refreshable", "POST", "/login", "", withField(pw("alice"), "refresh_token", true), 200, "",
			hasKeys("refresh_token", "expires_in_ms")},

		{"whoami without token", "GET", "/account/whoami", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"whoami with unknown token", "GET", "/account/whoami", "mya_nope", nil, 401, "M_UNKNOWN_TOKEN", nil},
		{"whoami", "GET", "/account/whoami", alice.Token, nil, 200, "", whoami(alice)},

		{"refresh without token", "POST", "/refresh", "", `{}`, 400, "M_MISSING_PARAM", nil},
		{"refresh unknown", "POST", "/refresh", "", `{"refresh_token":"myr_nope"}`, 401, "M_UNKNOWN_TOKEN", equals("soft_logout", false)},

		{"logout without token", "POST", "/logout", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"logout", "POST", "/logout", loggedOut.Token, nil, 200, "", nil},
		{"logged out", "GET", "/account/whoami", loggedOut.Token, nil, 401, "M_UNKNOWN_TOKEN", nil},
		{"logout all", "POST", "/logout/all", all.Token, nil, 200, "", nil},
		{"logged out everywhere", "GET", "/account/whoami", all.Token, nil, 401, "M_UNKNOWN_TOKEN", nil},
	})
}

// TestRefresh: a refresh token gives a new access token and refresh token
// once; the old refresh token is then unknown.
func TestRefresh(t *testing.T) {
	f := newServer(t, serverOpts{})
	f.User(t, "alice")
	res := f.Do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type":          "m.login.password",
		"user":          "alice",
		"password":      "password-alice",
		"refresh_token": true,
	})
	res.Want(t, http.StatusOK)
	old, _ := res.JSON()["refresh_token"].(string)
	res = f.Do(t, http.MethodPost, "/_matrix/client/v3/refresh", "", map[string]string{"refresh_token": old})
	res.Want(t, http.StatusOK)
	hasKeys("access_token", "refresh_token", "expires_in_ms")(t, res)
	tok, _ := res.JSON()["access_token"].(string)
	f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", tok, nil).Want(t, http.StatusOK)
	f.Do(t, http.MethodPost, "/_matrix/client/v3/refresh", "", map[string]string{"refresh_token": old}).
		Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
}

// TestLoginRateLimit: failed logins are limited per user; the attempt after
// the burst is 429 with retry_after_ms, even with the right password.
func TestLoginRateLimit(t *testing.T) {
	f := newServer(t, serverOpts{config: func(c *config.Config) {
		c.ClientAPI.RateLimits.Enabled = true
		c.ClientAPI.RateLimits.Login = config.RateLimit{PerSecond: 0.001, Burst: 2}
	}})
	f.User(t, "alice")
	wrong := `{"type":"m.login.password","user":"alice","password":"wrong"}`
	run(t, f, []call{
		{"first failure", "POST", "/login", "", wrong, 403, "M_FORBIDDEN", nil},
		{"second failure", "POST", "/login", "", wrong, 403, "M_FORBIDDEN", nil},
		{"limited", "POST", "/login", "", wrong, 429, "M_LIMIT_EXCEEDED", hasKeys("retry_after_ms")},
		{"limited with the right password", "POST", "/login", "", `{"type":"m.login.password","user":"alice","password":"password-alice"}`,
			429, "M_LIMIT_EXCEEDED", nil},
	})
}

func loginFlows(t *testing.T, r *fixture.Response) {
	t.Helper()
	var body struct {
		Flows []struct {
			Type string `json:"type"`
		} `json:"flows"`
	}
	r.Decode(t, &body)
	if len(body.Flows) != 2 || body.Flows[0].Type != "m.login.password" || body.Flows[1].Type != "im.myelin.login.msisdn" {
		t.Fatalf("login flows %s", r.Body)
	}
}

func whoami(u *fixture.User) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		m := r.JSON()
		if m["user_id"] != u.ID || m["device_id"] != u.Device || m["is_guest"] != false {
			t.Fatalf("whoami %s, want %s on %s", r.Body, u.ID, u.Device)
		}
	}
}

// withField returns a copy of m with key set.
func withField(m map[string]any, key string, v any) map[string]any {
	out := map[string]any{key: v}
	for k, x := range m {
		if k != key {
			out[k] = x
		}
	}
	return out
}
