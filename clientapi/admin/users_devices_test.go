package admin_test

import (
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

func TestUserDevices(t *testing.T) {
	s := newServer(t, nil)
	base := "/v2/users/" + s.Alice.ID + "/devices"
	deviceKeys := []string{"device_id", "last_seen_ip", "last_seen_user_agent", "last_seen_ts", "user_id"}
	devices := func(want ...string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			m := r.JSON()
			ds := list(t, m, "devices")
			if m["total"] != float64(len(want)) || len(ds) != len(want) {
				t.Fatalf("body %s", r.Body)
			}
			for i, d := range ds {
				o, _ := d.(map[string]any)
				hasKeys(t, o, append(deviceKeys, "dehydrated")...)
				if o["device_id"] != want[i] || o["user_id"] != s.Alice.ID {
					t.Fatalf("device %d: %v", i, o)
				}
			}
		}
	}
	run(t, s, []call{
		{name: "list", method: http.MethodGet, path: base, token: s.Root.Token, status: http.StatusOK, check: devices(s.Alice.Device)},
		{name: "create", method: http.MethodPost, path: base, token: s.Root.Token, body: map[string]any{"device_id": "SUPPORT"},
			status: http.StatusCreated, check: wantJSON(`{}`)},
		{name: "create again does nothing", method: http.MethodPost, path: base, token: s.Root.Token,
			body: map[string]any{"device_id": "SUPPORT"}, status: http.StatusCreated},
		{name: "create without an ID", method: http.MethodPost, path: base, token: s.Root.Token, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "create with a bad ID", method: http.MethodPost, path: base, token: s.Root.Token,
			body: map[string]any{"device_id": "a b"}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "rename", method: http.MethodPut, path: base + "/SUPPORT", token: s.Root.Token,
			body: map[string]any{"display_name": "help desk"}, status: http.StatusOK, check: wantJSON(`{}`)},
		{name: "show", method: http.MethodGet, path: base + "/SUPPORT", token: s.Root.Token, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				hasKeys(t, m, deviceKeys...)
				if m["display_name"] != "help desk" || m["device_id"] != "SUPPORT" {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "show a missing device", method: http.MethodGet, path: base + "/NOPE", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "rename a missing device", method: http.MethodPut, path: base + "/NOPE", token: s.Root.Token,
			body: map[string]any{"display_name": "x"}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "list both", method: http.MethodGet, path: base, token: s.Root.Token, status: http.StatusOK,
			check: devices(s.Alice.Device, "SUPPORT")},
		{name: "delete", method: http.MethodDelete, path: base + "/SUPPORT", token: s.Root.Token, status: http.StatusOK,
			check: wantJSON(`{}`)},
		{name: "delete_devices without a list", method: http.MethodPost, path: "/v2/users/" + s.Alice.ID + "/delete_devices",
			token: s.Root.Token, body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "delete_devices", method: http.MethodPost, path: "/v2/users/" + s.Alice.ID + "/delete_devices", token: s.Root.Token,
			body: map[string]any{"devices": []string{s.Alice.Device}}, status: http.StatusOK, check: wantJSON(`{}`)},
		{name: "none left", method: http.MethodGet, path: base, token: s.Root.Token, status: http.StatusOK, check: devices()},
		{name: "alice's token went with her device", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami",
			token: s.Alice.Token, status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
		{name: "devices of a missing user", method: http.MethodGet, path: "/v2/users/@nobody:test.local/devices",
			token: s.Root.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}
