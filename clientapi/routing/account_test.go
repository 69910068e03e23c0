package routing_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestAccountHandlers covers account.go: password change, deactivation and
// devices.
func TestAccountHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	run(t, f, []call{
		{"password without token", "POST", "/account/password", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"password with unknown token", "POST", "/account/password", "mya_nope", `{}`, 401, "M_UNKNOWN_TOKEN", nil},
		{"password not JSON", "POST", "/account/password", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"password mistyped", "POST", "/account/password", alice.Token, `{"new_password":1}`, 400, "M_BAD_JSON", nil},
		{"password missing", "POST", "/account/password", alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"password weak", "POST", "/account/password", alice.Token, `{"new_password":"short"}`, 400, "M_WEAK_PASSWORD", nil},
		{"password too long", "POST", "/account/password", alice.Token, map[string]any{"new_password": strings.Repeat("p", 513)},
			400, "M_INVALID_PARAM", nil},
		{"password without auth", "POST", "/account/password", alice.Token, `{"new_password":"long enough"}`,
			401, "", challenge("m.login.password")},
		{"password with the wrong password", "POST", "/account/password", alice.Token,
			map[string]any{"new_password": "long enough", "auth": passwordAuth(alice, "wrong")}, 401, "M_FORBIDDEN", nil},
		{"password authenticated as another user", "POST", "/account/password", alice.Token,
			map[string]any{"new_password": "long enough", "auth": passwordAuth(bob, bob.Password)}, 403, "M_FORBIDDEN", nil},

		{"deactivate mistyped", "POST", "/account/deactivate", alice.Token, `{"auth":"yes"}`, 400, "M_BAD_JSON", nil},
		{"deactivate without auth", "POST", "/account/deactivate", alice.Token, `{}`, 401, "", challenge("m.login.password")},

		{"devices without token", "GET", "/devices", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"devices", "GET", "/devices", alice.Token, nil, 200, "", oneDevice(alice.Device)},
		{"device", "GET", "/devices/" + alice.Device, alice.Token, nil, 200, "", equals("device_id", alice.Device)},
		{"device unknown", "GET", "/devices/NOPE", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"device of another user", "GET", "/devices/" + bob.Device, alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"rename mistyped", "PUT", "/devices/" + alice.Device, alice.Token, `{"display_name":3}`, 400, "M_BAD_JSON", nil},
		{"rename NUL", "PUT", "/devices/" + alice.Device, alice.Token, `{"display_name":"a\u0000b"}`, 400, "M_INVALID_PARAM", nil},
		{"rename too long", "PUT", "/devices/" + alice.Device, alice.Token, map[string]string{"display_name": strings.Repeat("n", 513)},
			400, "M_INVALID_PARAM", nil},
		{"rename unknown", "PUT", "/devices/NOPE", alice.Token, `{"display_name":"x"}`, 404, "M_NOT_FOUND", nil},
		{"rename nothing of an unknown device", "PUT", "/devices/NOPE", alice.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"rename nothing", "PUT", "/devices/" + alice.Device, alice.Token, `{}`, 200, "", nil},
		{"rename", "PUT", "/devices/" + alice.Device, alice.Token, `{"display_name":"Laptop"}`, 200, "", nil},
		{"renamed", "GET", "/devices/" + alice.Device, alice.Token, nil, 200, "", equals("display_name", "Laptop")},
		{"delete unknown", "DELETE", "/devices/NOPE", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete without auth", "DELETE", "/devices/" + alice.Device, alice.Token, nil, 401, "", challenge("m.login.password")},
		{"delete devices without list", "POST", "/delete_devices", alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"delete devices NUL", "POST", "/delete_devices", alice.Token, `{"devices":["a\u0000b"]}`, 400, "M_INVALID_PARAM", nil},
		{"delete devices without auth", "POST", "/delete_devices", alice.Token, `{"devices":["X"]}`,
			401, "", challenge("m.login.password")},
	})
}

// oneDevice checks a device list holding exactly the device id.
func oneDevice(id string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Devices []struct {
				DeviceID string `json:"device_id"`
			} `json:"devices"`
		}
		r.Decode(t, &body)
		if len(body.Devices) != 1 || body.Devices[0].DeviceID != id {
			t.Fatalf("devices %s, want only %s", r.Body, id)
		}
	}
}

// TestAccountChanges runs the account operations that succeed, each with
// its effect: a password change logs other devices out, a deleted device's
// token stops working, a deactivated account can no longer log in.
func TestAccountChanges(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	other := login(t, f, alice)

	f.Do(t, http.MethodPost, "/_matrix/client/v3/account/password", alice.Token, map[string]any{
		"new_password": "a new password",
		"auth":         passwordAuth(alice, alice.Password),
	}).Want(t, http.StatusOK)
	f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", other, nil).Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", alice.Token, nil).Want(t, http.StatusOK)
	alice.Password = "a new password"
	second := login(t, f, alice)

	f.Do(t, http.MethodPost, "/_matrix/client/v3/delete_devices", alice.Token, map[string]any{
		"devices": []string{deviceOf(t, f, second)},
		"auth":    passwordAuth(alice, alice.Password),
	}).Want(t, http.StatusOK)
	f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", second, nil).Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")

	res := f.Do(t, http.MethodPost, "/_matrix/client/v3/account/deactivate", alice.Token, map[string]any{
		"auth": passwordAuth(alice, alice.Password),
	})
	res.Want(t, http.StatusOK)
	equals("id_server_unbind_result", "no-support")(t, res)
	f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", alice.Token, nil).Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	f.Do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type":     "m.login.password",
		"user":     "alice",
		"password": alice.Password,
	}).Want(t, http.StatusForbidden, "M_USER_DEACTIVATED")
}

// login logs u in again through the handler and returns the new access
// token.
func login(t *testing.T, f *fixture.Fixture, u *fixture.User) string {
	t.Helper()
	res := f.Do(t, http.MethodPost, "/_matrix/client/v3/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": u.ID},
		"password":   u.Password,
	})
	res.Want(t, http.StatusOK)
	tok, _ := res.JSON()["access_token"].(string)
	return tok
}

// deviceOf is the device of an access token.
func deviceOf(t *testing.T, f *fixture.Fixture, token string) string {
	t.Helper()
	res := f.Do(t, http.MethodGet, "/_matrix/client/v3/account/whoami", token, nil)
	res.Want(t, http.StatusOK)
	id, _ := res.JSON()["device_id"].(string)
	return id
}
