package internal

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/myelin-im/myelin/userapi/api"
)

// TestUpdateRemoteDevice: an m.device_list_update is applied to the cached
// list when its prev_id holds the cached stream_id, ignored when the list
// has it already, and otherwise marks the list stale for a resync (spec:
// server-server API, "m.device_list_update"); each applied or missed
// update is a device-list change of the user.
func TestUpdateRemoteDevice(t *testing.T) {
	u, changes := keysAPI(t)
	ctx := context.Background()
	const rita = "@rita:remote.test"
	if err := u.SetRemoteDeviceList(ctx, api.RemoteDeviceList{UserID: rita, StreamID: 5, Fresh: true}, false); err != nil {
		t.Fatal(err)
	}
	keys := json.RawMessage(`{"user_id":"@rita:remote.test","device_id":"D","keys":{}}`)
	tests := []struct {
		name       string
		up         api.RemoteDeviceUpdate
		wantResync bool
		wantStream int64
		wantFresh  bool
		wantDevice bool
		wantChange bool
	}{
		{"follows the cache", api.RemoteDeviceUpdate{DeviceID: "D", Keys: keys, StreamID: 6, PrevIDs: []int64{5}},
			false, 6, true, true, true},
		{"a repeat", api.RemoteDeviceUpdate{DeviceID: "D", Keys: keys, StreamID: 6, PrevIDs: []int64{5}},
			false, 6, true, true, false},
		{"deleted", api.RemoteDeviceUpdate{DeviceID: "D", Deleted: true, StreamID: 7, PrevIDs: []int64{6}},
			false, 7, true, false, true},
		{"after a gap", api.RemoteDeviceUpdate{DeviceID: "D", Keys: keys, StreamID: 9, PrevIDs: []int64{8}},
			true, 7, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.up.UserID = rita
			resync, err := u.UpdateRemoteDevice(ctx, tc.up)
			if err != nil || resync != tc.wantResync {
				t.Fatalf("resync %v, %v; want %v", resync, err, tc.wantResync)
			}
			l := mustRemoteList(t, u, rita)
			if l.StreamID != tc.wantStream || l.Fresh != tc.wantFresh || (l.Devices["D"] != nil) != tc.wantDevice {
				t.Fatalf("cached %+v", l)
			}
			select {
			case c := <-changes:
				if !tc.wantChange || c.UserID != rita {
					t.Fatalf("change %+v", c)
				}
			default:
				if tc.wantChange {
					waitChange(t, changes, rita)
				}
			}
		})
	}
}

func mustRemoteList(t *testing.T, u *UserAPI, userID string) api.RemoteDeviceList {
	t.Helper()
	lists, err := u.RemoteDeviceLists(context.Background(), []string{userID})
	if err != nil {
		t.Fatal(err)
	}
	return lists[userID]
}

func waitChange(t *testing.T, changes <-chan api.DeviceListChange, userID string) {
	t.Helper()
	if c := <-changes; c.UserID != userID {
		t.Fatalf("change of %s, want %s", c.UserID, userID)
	}
}

// TestReceiveToDevice: a message from another server is stored once per
// sender and message ID.
func TestReceiveToDevice(t *testing.T) {
	u, _ := keysAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	msg := map[string]map[string]json.RawMessage{"@alice:example.org": {"*": json.RawMessage(`{"x":1}`)}}
	for range 2 {
		if err := u.ReceiveToDevice(ctx, "@rita:remote.test", "m.test", "id1", msg); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := u.ToDeviceSince(ctx, "alice", s.Device.ID, 0, 10)
	if err != nil || len(got) != 1 || got[0].Sender != "@rita:remote.test" {
		t.Fatalf("inbox %+v, %v", got, err)
	}
	if err := u.ReceiveToDevice(ctx, "@alice:example.org", "m.test", "id2", msg); err == nil {
		t.Fatal("a local sender was taken")
	}
}
