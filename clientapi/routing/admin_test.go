package routing_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/routing"
	"github.com/myelin-im/myelin/internal/config"
)

const adminRegister = "/_synapse/admin/v1/register"

// TestSharedSecretRegistration covers admin.go: Synapse's shared-secret
// registration, with a single-use nonce and an HMAC over the request.
func TestSharedSecretRegistration(t *testing.T) {
	const secret = "the shared secret"
	f := newServer(t, serverOpts{config: func(c *config.Config) { c.ClientAPI.RegistrationSharedSecret = secret }})
	f.User(t, "carol")
	nonce := func() string {
		t.Helper()
		res := f.Do(t, http.MethodGet, adminRegister, "", nil)
		res.Want(t, http.StatusOK)
		n, _ := res.JSON()["nonce"].(string)
		if n == "" {
			t.Fatalf("no nonce in %s", res.Body)
		}
		return n
	}
	signed := func(user, password string, admin bool) map[string]any {
		n := nonce()
		return map[string]any{
			"nonce":       n,
			"username":    user,
			"password":    password,
			"admin":       admin,
			"mac":         routing.SharedSecretMAC(secret, n, user, password, admin),
			"displayname": "Dan",
		}
	}
	reused := signed("erin", "long enough", false)
	unnamed := signed("gina", "long enough", false)
	delete(unnamed, "displayname")
	huge := signed("hugo", "long enough", false)
	huge["displayname"] = strings.Repeat("n", 70000)
	run(t, f, []call{
		{"not JSON", "POST", adminRegister, "", `{nope`, 400, "M_NOT_JSON", nil},
		{"missing nonce", "POST", adminRegister, "", `{"username":"x","password":"y","mac":"z"}`, 400, "M_MISSING_PARAM", nil},
		{"missing mac", "POST", adminRegister, "", `{"nonce":"n","username":"x","password":"y"}`, 400, "M_MISSING_PARAM", nil},
		{"unknown nonce", "POST", adminRegister, "", `{"nonce":"n","username":"x","password":"y","mac":"z"}`, 400, "M_UNKNOWN", nil},
		{"wrong mac", "POST", adminRegister, "", map[string]any{"nonce": nonce(), "username": "x", "password": "y", "mac": "00"},
			403, "M_FORBIDDEN", nil},
		{"bad username", "POST", adminRegister, "", signed("bad name", "long enough", false), 400, "M_INVALID_USERNAME", nil},
		{"NUL username", "POST", adminRegister, "", signed("a\x00b", "long enough", false), 400, "M_INVALID_USERNAME", nil},
		{"taken", "POST", adminRegister, "", signed("carol", "long enough", false), 400, "M_USER_IN_USE", nil},
		{"registers", "POST", adminRegister, "", signed("dan", "long enough", true), 200, "",
			hasKeys("user_id", "access_token", "device_id", "home_server")},
		{"display name set", "GET", "/profile/@dan:test.local/displayname", "", nil, 200, "", equals("displayname", "Dan")},
		{"without a display name", "POST", adminRegister, "", unnamed, 200, "", equals("user_id", "@gina:test.local")},
		{"named after the localpart", "GET", "/profile/@gina:test.local/displayname", "", nil, 200, "", equals("displayname", "gina")},
		{"display name over the profile limit", "POST", adminRegister, "", huge, 400, "M_PROFILE_TOO_LARGE", nil},
		{"no account without its name", "GET", "/register/available?username=hugo", "", nil, 200, "", equals("available", true)},
		{"nonce used once", "POST", adminRegister, "", reused, 200, "", equals("user_id", "@erin:test.local")},
		{"nonce used twice", "POST", adminRegister, "", reused, 400, "M_UNKNOWN", nil},
		{"username lowered after the MAC", "POST", adminRegister, "", signed("Frank", "long enough", false), 200, "",
			equals("user_id", "@frank:test.local")},
	})
}

// TestSharedSecretRegistrationOff: without a configured secret, both
// endpoints refuse.
func TestSharedSecretRegistrationOff(t *testing.T) {
	f := newServer(t, serverOpts{})
	run(t, f, []call{
		{"nonce", "GET", adminRegister, "", nil, 400, "M_UNKNOWN", nil},
		{"register", "POST", adminRegister, "", `{}`, 400, "M_UNKNOWN", nil},
	})
}
