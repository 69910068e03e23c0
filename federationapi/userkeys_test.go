package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// deviceKeys is a DeviceKeys object of a local device, as uploaded.
func deviceKeys(userID, device string) json.RawMessage {
	return json.RawMessage(`{"user_id":` + quote(userID) + `,"device_id":` + quote(device) +
		`,"algorithms":["m.olm.v1.curve25519-aes-sha2"],"keys":{"curve25519:` + device + `":"k"},"signatures":{}}`)
}

// TestUserKeys: other servers query and claim local users' keys and read
// their device lists (spec: POST /_matrix/federation/v1/user/keys/query,
// /user/keys/claim, GET /user/devices/{userId}).
func TestUserKeys(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	_, err := f.Users.UploadKeys(ctx, "alice", userapi.DeviceID(alice.Device), userapi.KeyUpload{
		DeviceKeys:  deviceKeys(alice.ID, alice.Device),
		OneTimeKeys: map[string]json.RawMessage{"signed_curve25519:AAA": json.RawMessage(`{"key":"otk"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Users.SetDeviceDisplayName(ctx, "alice", userapi.DeviceID(alice.Device), "Phone"); err != nil {
		t.Fatal(err)
	}
	stream, err := f.Users.DeviceListStreamID(ctx, alice.ID)
	if err != nil || stream == 0 {
		t.Fatalf("stream ID %d, %v", stream, err)
	}
	var keys map[string]any
	if err := json.Unmarshal(deviceKeys(alice.ID, alice.Device), &keys); err != nil {
		t.Fatal(err)
	}
	keys["unsigned"] = map[string]string{"device_display_name": "Phone"}
	named, _ := json.Marshal(keys)
	byDevice := `{` + quote(alice.Device) + `:` + string(named) + `}`
	tests := []struct {
		name, method, path string
		body               any
		want               string
	}{
		{"query all devices", http.MethodPost, "/_matrix/federation/v1/user/keys/query",
			`{"device_keys":{"@alice:test.local":[],"@rita:remote.test":[]}}`,
			`{"device_keys":{"@alice:test.local":` + byDevice + `},"master_keys":{},"self_signing_keys":{}}`},
		{"query an unknown device", http.MethodPost, "/_matrix/federation/v1/user/keys/query",
			`{"device_keys":{"@alice:test.local":["NOPE"]}}`,
			`{"device_keys":{"@alice:test.local":{}},"master_keys":{},"self_signing_keys":{}}`},
		{"claim", http.MethodPost, "/_matrix/federation/v1/user/keys/claim",
			`{"one_time_keys":{"@alice:test.local":{` + quote(alice.Device) + `:"signed_curve25519"}}}`,
			`{"one_time_keys":{"@alice:test.local":{` + quote(alice.Device) + `:{"signed_curve25519:AAA":{"key":"otk"}}}}}`},
		{"claim again: none left", http.MethodPost, "/_matrix/federation/v1/user/keys/claim",
			`{"one_time_keys":{"@alice:test.local":{` + quote(alice.Device) + `:"signed_curve25519"}}}`,
			`{"one_time_keys":{}}`},
		{"devices", http.MethodGet, "/_matrix/federation/v1/user/devices/" + esc(alice.ID), nil,
			`{"user_id":"@alice:test.local","stream_id":` + jsonInt(stream) + `,"devices":[{"device_id":` + quote(alice.Device) +
				`,"device_display_name":"Phone","keys":` + string(named) + `}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.DoSigned(t, f.remote, tc.method, tc.path, tc.body)
			res.Want(t, http.StatusOK)
			wantJSON(t, res.Body, tc.want)
		})
	}
}

// TestUserKeysRefusals: bodies that are not key requests.
func TestUserKeysRefusals(t *testing.T) {
	f := newFed(t)
	f.runRefusals(t, []refusal{
		{name: "query: no device_keys", method: http.MethodPost, path: "/_matrix/federation/v1/user/keys/query", body: `{}`,
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "query: device list not a list", method: http.MethodPost, path: "/_matrix/federation/v1/user/keys/query",
			body: `{"device_keys":{"@alice:test.local":{}}}`, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "claim: no one_time_keys", method: http.MethodPost, path: "/_matrix/federation/v1/user/keys/claim", body: `{}`,
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
