package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// TestFederationE2EE: to-device messages cross servers (m.direct_to_device)
// and a device's new keys reach a user of another server sharing a room
// (m.device_list_update, /user/keys/query): alice on one.test sends bob on
// two.test a to-device message that bob's /sync delivers; bob uploads new
// device keys, alice sees bob in device_lists.changed and gets the keys
// from /keys/query.
func TestFederationE2EE(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	sharedRoom(t, "e2ee", alice, bob)
	bobSince := syncOnce(t, bob, "", 0).NextBatch
	aliceSince := syncOnce(t, alice, "", 0).NextBatch

	req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
		bob.UserID: {bob.DeviceID: {Raw: map[string]any{"hello": "bob"}}},
	}}
	if _, err := alice.SendToDevice(c, testToDeviceType, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's to-device message", func() bool {
		resp := syncOnce(t, bob, bobSince, time.Second)
		bobSince = resp.NextBatch
		for _, ev := range resp.ToDevice.Events {
			if ev.Sender == alice.UserID && ev.Type.Type == testToDeviceType.Type {
				return true
			}
		}
		return false
	})

	// Alice asks for bob's keys once, so that her server caches them.
	if keys := queryKeys(t, alice, bob.UserID); len(keys) != 0 {
		t.Fatalf("bob has keys before uploading any: %v", keys)
	}
	upload := map[string]any{"device_keys": map[string]any{
		"user_id": bob.UserID, "device_id": bob.DeviceID, "algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
		"keys":       map[string]string{"curve25519:" + string(bob.DeviceID): "bob-curve"},
		"signatures": map[string]any{},
	}}
	if _, err := bob.MakeRequest(c, "POST", bob.BuildClientURL("v3", "keys", "upload"), upload, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob in alice's device_lists.changed", func() bool {
		resp := syncOnce(t, alice, aliceSince, time.Second)
		aliceSince = resp.NextBatch
		return slices.Contains(resp.DeviceLists.Changed, bob.UserID)
	})
	waitFor(t, "bob's new keys in alice's /keys/query", func() bool {
		return queryKeys(t, alice, bob.UserID)[string(bob.DeviceID)] != nil
	})
}

// queryKeys is c's /keys/query answer for one user's devices.
func queryKeys(t *testing.T, c *mautrix.Client, user id.UserID) map[string]json.RawMessage {
	t.Helper()
	var out struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		Failures   map[string]any                        `json:"failures"`
	}
	body := map[string]any{"device_keys": map[string][]string{string(user): {}}}
	if _, err := c.MakeRequest(ctx(t), "POST", c.BuildClientURL("v3", "keys", "query"), body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 0 {
		t.Fatalf("failures: %v", out.Failures)
	}
	return out.DeviceKeys[string(user)]
}
