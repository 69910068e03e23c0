package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func pusher(localpart api.Localpart, device api.DeviceID, appID, pushKey string) api.Pusher {
	return api.Pusher{
		Localpart: localpart, DeviceID: device, Kind: "http", AppID: appID, PushKey: pushKey, PushKeyTS: 7,
		AppDisplayName: "App", DeviceDisplayName: "Phone", ProfileTag: "tag", Lang: "en",
		Data: []byte(`{"url":"https://push.example/_matrix/push/v1/notify","format":"event_id_only","x":1}`),
	}
}

// pushKeys lists a user's pushers as "app_id/pushkey@device".
func pushKeys(t *testing.T, s *storage.Storage, localpart api.Localpart) []string {
	t.Helper()
	ps, err := s.Pushers(context.Background(), localpart)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.AppID+"/"+p.PushKey+"@"+string(p.DeviceID))
	}
	return keys
}

func mustUpsert(t *testing.T, s *storage.Storage, ps ...api.Pusher) {
	t.Helper()
	for _, p := range ps {
		if err := s.UpsertPusher(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPushers(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		mustUpsert(t, s, pusher("alice", "PHONE", "app", "k1"), pusher("alice", "PHONE", "app", "k2"),
			pusher("bob", "TAB", "app", "k1"))
		ps, err := s.Pushers(ctx, "alice")
		if err != nil || len(ps) != 2 {
			t.Fatalf("alice's pushers: %+v, %v", ps, err)
		}
		if got, want := ps[0], pusher("alice", "PHONE", "app", "k1"); got.Lang != want.Lang || got.ProfileTag != want.ProfileTag ||
			got.AppDisplayName != want.AppDisplayName || got.DeviceDisplayName != want.DeviceDisplayName ||
			got.Kind != "http" || got.PushKeyTS != 7 || string(got.Data) != string(want.Data) {
			t.Fatalf("read back %+v, want %+v", got, want)
		}

		// The same app ID and pushkey for the same user replace the pusher,
		// and the device that set it last owns it.
		again := pusher("alice", "LAPTOP", "app", "k1")
		again.Lang, again.PushKeyTS = "fr", 9
		mustUpsert(t, s, again)
		if got := pushKeys(t, s, "alice"); !slices.Equal(got, []string{"app/k2@PHONE", "app/k1@LAPTOP"}) {
			t.Fatalf("after the update: %v", got)
		}

		all, err := s.PushersOf(ctx, []api.Localpart{"alice", "bob", "carol"})
		if err != nil || len(all) != 3 {
			t.Fatalf("pushers of three users: %d, %v", len(all), err)
		}

		if err := s.DeleteOtherUsersPushers(ctx, "alice", "app", "k1"); err != nil {
			t.Fatal(err)
		}
		if got := pushKeys(t, s, "bob"); len(got) != 0 {
			t.Fatalf("bob's pusher of the same pushkey survived: %v", got)
		}
		if got := pushKeys(t, s, "alice"); len(got) != 2 {
			t.Fatalf("alice lost her own pushers: %v", got)
		}

		if ok, err := s.DeletePusher(ctx, "alice", "app", "k2"); err != nil || !ok {
			t.Fatalf("deleting a pusher: %v %v", ok, err)
		}
		if ok, err := s.DeletePusher(ctx, "alice", "app", "k2"); err != nil || ok {
			t.Fatalf("deleting it again: %v %v", ok, err)
		}
		if got := pushKeys(t, s, "alice"); !slices.Equal(got, []string{"app/k1@LAPTOP"}) {
			t.Fatalf("after deletion: %v", got)
		}
	})
}

// TestPushersGoWithTheirDevice: deleting devices (logout, logout/all,
// device deletion, a password change logging out the other devices)
// removes the pushers they set, and only those.
func TestPushersGoWithTheirDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for _, d := range []api.DeviceID{"A", "B", "C"} {
			if err := s.UpsertDevice(ctx, "alice", d, nil, 1, "", ""); err != nil {
				t.Fatal(err)
			}
		}
		mustUpsert(t, s, pusher("alice", "A", "app", "a"), pusher("alice", "B", "app", "b"),
			pusher("alice", "C", "app", "c"), pusher("bob", "A", "app", "bob"))

		if _, n, err := s.DeleteDevices(ctx, "alice", []api.DeviceID{"B"}, ""); err != nil || n != 1 {
			t.Fatalf("deleting device B: %d, %v", n, err)
		}
		if got := pushKeys(t, s, "alice"); !slices.Equal(got, []string{"app/a@A", "app/c@C"}) {
			t.Fatalf("after deleting B: %v", got)
		}
		// Every device but C: what a password change from C does.
		if _, _, err := s.DeleteDevices(ctx, "alice", nil, "C"); err != nil {
			t.Fatal(err)
		}
		if got := pushKeys(t, s, "alice"); !slices.Equal(got, []string{"app/c@C"}) {
			t.Fatalf("after deleting all but C: %v", got)
		}
		// Every device: logout/all.
		if _, _, err := s.DeleteDevices(ctx, "alice", nil, ""); err != nil {
			t.Fatal(err)
		}
		if got := pushKeys(t, s, "alice"); len(got) != 0 {
			t.Fatalf("after logout/all: %v", got)
		}
		if got := pushKeys(t, s, "bob"); !slices.Equal(got, []string{"app/bob@A"}) {
			t.Fatalf("bob's pusher on a device of the same ID: %v", got)
		}
	})
}
