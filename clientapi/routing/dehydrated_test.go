package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/userapi/api"
)

const dehydratedPath = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"

// dehydratedEventsPath is the events endpoint of device, escaped: MSC3814
// device IDs are unpadded standard base64, '/' and '+' included.
func dehydratedEventsPath(device string) string {
	return dehydratedPath + "/" + url.PathEscape(device) + "/events"
}

// dehydratedBody is a PUT /dehydrated_device body for userID's device id
// with keys naming keysFor.
func dehydratedBody(userID, id, keysFor string) map[string]any {
	return map[string]any{
		"device_id":                   id,
		"device_data":                 map[string]any{"algorithm": "org.matrix.msc3814.v2", "device_pickle": "p-" + id, "nonce": "n"},
		"initial_device_display_name": "Backup device",
		"device_keys":                 deviceKeysOf(userID, keysFor),
		"one_time_keys":               map[string]any{"signed_curve25519:AAAA": map[string]any{"key": "k-" + id}},
		"fallback_keys":               map[string]any{"signed_curve25519:BBBB": map[string]any{"key": "f-" + id, "fallback": true}},
	}
}

// with is body with key set to value (nil: removed).
func with(body map[string]any, key string, value any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// queriedDevices checks which of userID's devices POST /keys/query lists.
func queriedDevices(f *fixture.Fixture, token, userID string, want ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, _ *fixture.Response) {
		t.Helper()
		res := f.Do(t, "POST", clientPath("/keys/query"), token, map[string]any{"device_keys": map[string][]string{userID: {}}})
		res.Want(t, 200)
		devices, _ := at(res, "device_keys", userID).(map[string]any)
		var got []string
		for id := range devices {
			got = append(got, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("/keys/query lists %v, want %v: %s", got, want, res.Body)
		}
	}
}

// inboxOf checks how many to-device messages wait for a device of localpart.
func inboxOf(f *fixture.Fixture, localpart, device string, want int) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, _ *fixture.Response) {
		t.Helper()
		msgs, _, err := f.Users.ToDeviceSince(context.Background(), api.Localpart(localpart), api.DeviceID(device), 0, 1000)
		if err != nil || len(msgs) != want {
			t.Fatalf("%s's inbox holds %d messages (%v), want %d", device, len(msgs), err, want)
		}
	}
}

// TestDehydratedDeviceHandlers covers dehydrated.go: bodies, creation,
// rehydration data, replacement and deletion.
func TestDehydratedDeviceHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	// MSC3814 device IDs are the device's Curve25519 key in unpadded base64.
	const d1, d2 = "dGhlIGZpcnN0+/key", "c2Vjb25k/a2V5+"
	body := dehydratedBody(alice.ID, d1, d1)
	sendToAlice := func(txn string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, _ *fixture.Response) {
			f.Do(t, "PUT", clientPath("/sendToDevice/m.room_key/"+txn), bob.Token,
				map[string]any{"messages": map[string]any{alice.ID: map[string]any{"*": map[string]any{"txn": txn}}}}).Want(t, 200)
		}
	}
	run(t, f, []call{
		{"without token", "GET", dehydratedPath, "", nil, 401, "M_MISSING_TOKEN", nil},
		{"none yet", "GET", dehydratedPath, alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete none", "DELETE", dehydratedPath, alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"events without device", "POST", dehydratedEventsPath(d1), alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"wrong method", "POST", dehydratedPath, alice.Token, body, 405, "M_UNRECOGNIZED", nil},
		{"not JSON", "PUT", dehydratedPath, alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "PUT", dehydratedPath, alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"no device_id", "PUT", dehydratedPath, alice.Token, with(body, "device_id", nil), 400, "M_BAD_JSON", nil},
		{"device_id a number", "PUT", dehydratedPath, alice.Token, with(body, "device_id", 7), 400, "M_BAD_JSON", nil},
		{"device_id too long", "PUT", dehydratedPath, alice.Token, with(body, "device_id", strings.Repeat("d", 256)),
			400, "M_INVALID_PARAM", nil},
		{"no device_data", "PUT", dehydratedPath, alice.Token, with(body, "device_data", nil), 400, "M_BAD_JSON", nil},
		{"device_data a string", "PUT", dehydratedPath, alice.Token, with(body, "device_data", "x"), 400, "M_BAD_JSON", nil},
		{"device_data without algorithm", "PUT", dehydratedPath, alice.Token, with(body, "device_data", map[string]any{"a": 1}),
			400, "M_BAD_JSON", nil},
		{"no device_keys", "PUT", dehydratedPath, alice.Token, with(body, "device_keys", nil), 400, "M_BAD_JSON", nil},
		{"keys of another device", "PUT", dehydratedPath, alice.Token, dehydratedBody(alice.ID, d1, alice.Device),
			400, "M_INVALID_PARAM", nil},
		{"keys of another user", "PUT", dehydratedPath, alice.Token, with(body, "device_keys", deviceKeysOf(bob.ID, d1)),
			400, "M_INVALID_PARAM", nil},
		{"one-time key without algorithm", "PUT", dehydratedPath, alice.Token, with(body, "one_time_keys", map[string]string{"K": "k"}),
			400, "M_INVALID_PARAM", nil},
		{"a logged-in device's ID", "PUT", dehydratedPath, alice.Token, dehydratedBody(alice.ID, alice.Device, alice.Device),
			400, "M_INVALID_PARAM", nil},
		{"nothing stored by refusals", "GET", dehydratedPath, alice.Token, nil, 404, "M_NOT_FOUND", queriedDevices(f, bob.Token, alice.ID)},

		{"create", "PUT", dehydratedPath, alice.Token, body, 200, "", equals("device_id", d1)},
		{"get", "GET", dehydratedPath, alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			equals("device_id", d1)(t, r)
			if data, _ := r.JSON()["device_data"].(map[string]any); data["device_pickle"] != "p-"+d1 {
				t.Fatalf("device_data %s", r.Body)
			}
		}},
		{"others see its keys", "GET", dehydratedPath, alice.Token, nil, 200, "", queriedDevices(f, bob.Token, alice.ID, d1)},
		{"listed among the devices", "GET", "/devices", alice.Token, nil, 200, "", listsDevices(alice.Device, d1)},
		{"its one-time key is claimed", "POST", "/keys/claim", bob.Token,
			map[string]any{"one_time_keys": map[string]any{alice.ID: map[string]string{d1: "signed_curve25519"}}}, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if k := at(r, "one_time_keys", alice.ID, d1, "signed_curve25519:AAAA", "key"); k != "k-"+d1 {
					t.Fatalf("claimed %v: %s", k, r.Body)
				}
			}},
		{"a message to every device reaches it", "GET", dehydratedPath, alice.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) { sendToAlice("1")(t, r); inboxOf(f, "alice", d1, 1)(t, r) }},
		{"another user's device", "POST", dehydratedEventsPath(d1), bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"a logged-in device", "POST", dehydratedEventsPath(alice.Device), alice.Token, `{}`, 403, "M_FORBIDDEN", nil},

		{"replace", "PUT", dehydratedPath, alice.Token, dehydratedBody(alice.ID, d2, d2), 200, "", equals("device_id", d2)},
		{"the old one's keys are gone", "GET", dehydratedPath, alice.Token, nil, 200, "", queriedDevices(f, bob.Token, alice.ID, d2)},
		{"the old one's inbox is gone", "GET", dehydratedPath, alice.Token, nil, 200, "", inboxOf(f, "alice", d1, 0)},
		{"the old one's events", "POST", dehydratedEventsPath(d1), alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"the new one", "GET", dehydratedPath, alice.Token, nil, 200, "", equals("device_id", d2)},
		{"delete", "DELETE", dehydratedPath, alice.Token, nil, 200, "", equals("device_id", d2)},
		{"deleted", "GET", dehydratedPath, alice.Token, nil, 404, "M_NOT_FOUND", queriedDevices(f, bob.Token, alice.ID)},
		{"its events after deletion", "POST", dehydratedEventsPath(d2), alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"no longer a device", "GET", "/devices", alice.Token, nil, 200, "", listsDevices(alice.Device)},
	})
}

// listsDevices checks the device IDs of a GET /devices answer.
func listsDevices(want ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Devices []struct {
				DeviceID string `json:"device_id"`
			} `json:"devices"`
		}
		r.Decode(t, &body)
		var got []string
		for _, d := range body.Devices {
			got = append(got, d.DeviceID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("devices %v, want %v", got, want)
		}
	}
}

// eventsPage is an answer of the events endpoint.
type eventsPage struct {
	Events []struct {
		Sender  string          `json:"sender"`
		Type    string          `json:"type"`
		Content json.RawMessage `json:"content"`
	} `json:"events"`
	NextBatch string `json:"next_batch"`
}

// readEvents reads a batch of the dehydrated device's events at path.
func readEvents(t *testing.T, f *fixture.Fixture, token, path string, body any) eventsPage {
	t.Helper()
	res := f.Do(t, "POST", path, token, body)
	res.Want(t, 200)
	var page eventsPage
	res.Decode(t, &page)
	if page.NextBatch == "" {
		t.Fatalf("no next_batch: %s", res.Body)
	}
	return page
}

// TestDehydratedDeviceEvents: a user who logged out everywhere still gets
// messages sent to all their devices; a new login reads them from the
// dehydrated device in batches of at most 100, ending with an empty batch,
// and reading deletes nothing.
func TestDehydratedDeviceEvents(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	const d = "ZGVo/eWRy+YXRlZA" // a "/" travels escaped in the path
	events := dehydratedEventsPath(d)
	f.Do(t, "PUT", dehydratedPath, alice.Token, dehydratedBody(alice.ID, d, d)).Want(t, 200)
	f.Do(t, "POST", clientPath("/logout"), alice.Token, `{}`).Want(t, 200)
	const sent = 101
	for i := range sent {
		f.Do(t, "PUT", clientPath(fmt.Sprintf("/sendToDevice/m.room_key/%d", i)), bob.Token,
			map[string]any{"messages": map[string]any{alice.ID: map[string]any{"*": map[string]int{"n": i}}}}).Want(t, 200)
	}
	s, err := f.Users.NewSession(context.Background(), api.NewSessionRequest{Localpart: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	token := s.AccessToken

	first := readEvents(t, f, token, events, nil)
	if len(first.Events) != 100 || first.Events[0].Sender != bob.ID || first.Events[0].Type != "m.room_key" ||
		string(first.Events[0].Content) != `{"n":0}` {
		t.Fatalf("first batch: %d events, first %+v", len(first.Events), first.Events[0])
	}
	second := readEvents(t, f, token, events, map[string]string{"next_batch": first.NextBatch})
	if len(second.Events) != 1 || string(second.Events[0].Content) != `{"n":100}` {
		t.Fatalf("second batch: %+v", second.Events)
	}
	last := readEvents(t, f, token, events, map[string]string{"next_batch": second.NextBatch})
	if len(last.Events) != 0 || last.NextBatch != second.NextBatch {
		t.Fatalf("after the last batch: %+v", last)
	}
	// MSC3814: an interrupted rehydration can start again from the start.
	if again := readEvents(t, f, token, events, `{}`); len(again.Events) != 100 {
		t.Fatalf("reading again from the start: %d events", len(again.Events))
	}
	run(t, f, []call{
		{"next_batch not a token", "POST", dehydratedEventsPath(d), token, `{"next_batch":"x"}`, 400, "M_INVALID_PARAM", nil},
		{"next_batch negative", "POST", dehydratedEventsPath(d), token, `{"next_batch":"-1"}`, 400, "M_INVALID_PARAM", nil},
		{"next_batch a number", "POST", dehydratedEventsPath(d), token, `{"next_batch":5}`, 400, "M_BAD_JSON", nil},
		{"body not an object", "POST", dehydratedEventsPath(d), token, `[]`, 400, "M_BAD_JSON", nil},
		{"new device's messages are its own", "GET", dehydratedPath, token, nil, 200, "", inboxOf(f, "alice", string(s.Device.ID), 0)},
	})
}
