package federationapi_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// TestSendEDUs: to-device messages and device-list updates in a
// transaction (spec: server-server API, "Send-to-device messaging",
// "m.device_list_update"): stored once per message ID, applied to the
// cached device list when they follow it, and dropped when they speak
// for another server's users.
func TestSendEDUs(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	rita := remoteUser("rita")
	inbox := func(t *testing.T) int {
		msgs, _, err := f.Users.ToDeviceSince(ctx, "alice", userapi.DeviceID(alice.Device), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}
	changed := func(t *testing.T, user string) bool {
		users, _, err := f.Users.DeviceListChanges(ctx, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(users, user)
	}
	cached := func(t *testing.T) userapi.RemoteDeviceList {
		lists, err := f.Users.RemoteDeviceLists(ctx, []string{rita})
		if err != nil {
			t.Fatal(err)
		}
		return lists[rita]
	}
	toDevice := func(sender, id string) map[string]any {
		return map[string]any{"edu_type": "m.direct_to_device", "content": map[string]any{
			"sender": sender, "type": "m.test", "message_id": id,
			"messages": map[string]any{alice.ID: map[string]any{"*": map[string]string{"hi": "there"}}},
		}}
	}
	update := func(user string, stream int64, prev ...int64) map[string]any {
		return map[string]any{"edu_type": "m.device_list_update", "content": map[string]any{
			"user_id": user, "device_id": "RDEV", "stream_id": stream, "prev_id": prev,
			"keys": map[string]any{"user_id": user, "device_id": "RDEV", "keys": map[string]string{"curve25519:RDEV": "r"}},
		}}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T)
		edu   map[string]any
		check func(t *testing.T)
	}{
		{"to-device", nil, toDevice(rita, "m1"), func(t *testing.T) {
			if n := inbox(t); n != 1 {
				t.Fatalf("%d messages, want 1", n)
			}
		}},
		{"to-device again: stored once", nil, toDevice(rita, "m1"), func(t *testing.T) {
			if n := inbox(t); n != 1 {
				t.Fatalf("%d messages, want 1", n)
			}
		}},
		{"to-device from another server's user", nil, toDevice("@sam:stranger.test", "m2"), func(t *testing.T) {
			if n := inbox(t); n != 1 {
				t.Fatalf("%d messages, want 1", n)
			}
		}},
		{"device list update of a user not cached", nil, update(rita, 3, 2), func(t *testing.T) {
			if !changed(t, rita) {
				t.Fatal("rita not in the device-list changes")
			}
		}},
		{"device list update for another server's user", nil, update("@sam:stranger.test", 3, 2), func(t *testing.T) {
			if changed(t, "@sam:stranger.test") {
				t.Fatal("a misattributed update was taken")
			}
		}},
		{"device list update that follows the cache", func(t *testing.T) {
			err := f.Users.SetRemoteDeviceList(ctx, userapi.RemoteDeviceList{UserID: rita, StreamID: 5, Fresh: true}, false)
			if err != nil {
				t.Fatal(err)
			}
		}, update(rita, 6, 5), func(t *testing.T) {
			if l := cached(t); l.StreamID != 6 || !l.Fresh || l.Devices["RDEV"] == nil {
				t.Fatalf("cached %+v", l)
			}
		}},
		{"device list update after a gap: stale", nil, update(rita, 9, 8), func(t *testing.T) {
			if l := cached(t); l.Fresh {
				t.Fatalf("cached %+v, want stale", l)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			txn := map[string]any{"origin": "remote.test", "origin_server_ts": 1, "pdus": []any{}, "edus": []any{tc.edu}}
			res := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send/edu"+strconv.Itoa(i), txn)
			res.Want(t, http.StatusOK)
			tc.check(t)
		})
	}
}
