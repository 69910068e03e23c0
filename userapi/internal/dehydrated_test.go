package internal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// dehydratedUpload is alice's dehydrated device id with keys naming keysFor.
func dehydratedUpload(id, keysFor api.DeviceID) api.DehydratedDeviceUpload {
	return api.DehydratedDeviceUpload{
		DeviceID:   id,
		DeviceData: json.RawMessage(`{"algorithm":"test.v1","pickle":"` + string(id) + `"}`),
		Keys: api.KeyUpload{
			DeviceKeys:   deviceKeys("@alice:example.org", keysFor, "ed-"+string(keysFor)),
			OneTimeKeys:  map[string]json.RawMessage{"signed_curve25519:K1": json.RawMessage(`{"key":"k1"}`)},
			FallbackKeys: map[string]json.RawMessage{"signed_curve25519:F1": json.RawMessage(`{"key":"f1","fallback":true}`)},
		},
	}
}

// TestDehydratedDevice covers the user API's rules: the device is listed,
// queried and reached like any other; a failed upload changes nothing; a
// new one deletes the old device with its keys and inbox; events are read
// only for the current dehydrated device and are not deleted by reading.
func TestDehydratedDevice(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u := testAPIOn(t, db)
		ctx := context.Background()
		if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice"}); err != nil {
			t.Fatal(err)
		}
		sess, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "A1"})
		if err != nil {
			t.Fatal(err)
		}
		_, before, _ := u.DeviceListChanges(ctx, 0, -1)
		if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D1", "D1")); err != nil {
			t.Fatal(err)
		}
		if users, _, _ := u.DeviceListChanges(ctx, before, -1); !slices.Equal(users, []string{"@alice:example.org"}) {
			t.Fatalf("device-list changes after the upload: %v", users)
		}
		wantDevices(t, u, "A1", "D1")
		wantKeys(t, u, "A1", "D1")

		// Refused uploads leave D1 in place, and A1 keeps its session.
		if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D2", "OTHER")); !errors.Is(err, api.ErrKeysNotYours) {
			t.Fatalf("keys naming another device: %v", err)
		}
		if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("A1", "A1")); !errors.Is(err, api.ErrDeviceIDInUse) {
			t.Fatalf("a logged-in device's ID: %v", err)
		}
		if _, err := u.QueryAccessToken(ctx, sess.AccessToken); err != nil {
			t.Fatalf("A1's session after the refusal: %v", err)
		}
		wantDevices(t, u, "A1", "D1")

		sendAll(t, u, "t1")
		msgs, next, err := u.DehydratedDeviceEvents(ctx, "alice", "D1", 0, 10)
		if err != nil || len(msgs) != 1 || next != msgs[0].Pos {
			t.Fatalf("D1's events %v, %d, %v", msgs, next, err)
		}
		if again, last, err := u.DehydratedDeviceEvents(ctx, "alice", "D1", next, 10); err != nil || len(again) != 0 || last != next {
			t.Fatalf("after the last batch: %v, %d, %v", again, last, err)
		}
		if again, _, _ := u.DehydratedDeviceEvents(ctx, "alice", "D1", 0, 10); len(again) != 1 {
			t.Fatalf("reading deleted the messages: %v", again)
		}
		if _, _, err := u.DehydratedDeviceEvents(ctx, "alice", "A1", 0, 10); !errors.Is(err, api.ErrNotDehydratedDevice) {
			t.Fatalf("events of a logged-in device: %v", err)
		}

		if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D2", "D2")); err != nil {
			t.Fatal(err)
		}
		wantDevices(t, u, "A1", "D2")
		wantKeys(t, u, "A1", "D2")
		if old, _, _ := u.ToDeviceSince(ctx, "alice", "D1", 0, 10); len(old) != 0 {
			t.Fatalf("the old device's inbox outlived it: %v", old)
		}
		if _, _, err := u.DehydratedDeviceEvents(ctx, "alice", "D1", 0, 10); !errors.Is(err, api.ErrNotDehydratedDevice) {
			t.Fatalf("events of the replaced device: %v", err)
		}
		// The same ID again replaces the device as well.
		if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D2", "D2")); err != nil {
			t.Fatal(err)
		}

		if id, err := u.DeleteDehydratedDevice(ctx, "alice"); err != nil || id != "D2" {
			t.Fatalf("delete: %s, %v", id, err)
		}
		if _, err := u.DeleteDehydratedDevice(ctx, "alice"); !errors.Is(err, api.ErrNoDehydratedDevice) {
			t.Fatalf("delete again: %v", err)
		}
		wantDevices(t, u, "A1")
		wantKeys(t, u, "A1")
	})
}

// TestLogoutAllDeletesDehydratedDevice: /logout/all deletes every device,
// the dehydrated one too (MSC3814: "Deleting a dehydrated device").
func TestLogoutAllDeletesDehydratedDevice(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D1", "D1")); err != nil {
		t.Fatal(err)
	}
	if err := u.LogoutAll(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.DehydratedDevice(ctx, "alice"); !errors.Is(err, api.ErrNoDehydratedDevice) {
		t.Fatalf("dehydrated device after /logout/all: %v", err)
	}
	wantDevices(t, u)
}

// sendAll sends one message to every device of alice ("*").
func sendAll(t *testing.T, u *UserAPI, txn string) {
	t.Helper()
	msgs := map[string]map[string]json.RawMessage{"@alice:example.org": {api.AllDevices: json.RawMessage(`{"n":1}`)}}
	if _, err := u.SendToDevice(context.Background(), "@bob:example.org", "B1", txn, "m.room_key", msgs); err != nil {
		t.Fatal(err)
	}
}

func wantDevices(t *testing.T, u *UserAPI, want ...api.DeviceID) {
	t.Helper()
	ds, err := u.Devices(context.Background(), "alice")
	got := make([]api.DeviceID, len(ds))
	for i, d := range ds {
		got[i] = d.ID
	}
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("alice's devices %v (%v), want %v", got, err, want)
	}
}

// wantKeys checks which of alice's devices /keys/query lists (A1 has none:
// it never uploaded any) and that the dehydrated one's one-time key can be
// claimed.
func wantKeys(t *testing.T, u *UserAPI, all ...api.DeviceID) {
	t.Helper()
	ctx := context.Background()
	keys, err := u.QueryKeys(ctx, map[string][]api.DeviceID{"@alice:example.org": nil})
	if err != nil {
		t.Fatal(err)
	}
	var got []api.DeviceID
	for id := range keys["@alice:example.org"] {
		got = append(got, id)
	}
	slices.Sort(got)
	want := slices.DeleteFunc(slices.Clone(all), func(id api.DeviceID) bool { return id == "A1" })
	if !slices.Equal(got, want) {
		t.Fatalf("/keys/query lists %v, want %v", got, want)
	}
	for _, id := range want {
		claim := map[string]map[api.DeviceID]string{"@alice:example.org": {id: "signed_curve25519"}}
		if claimed, err := u.ClaimKeys(ctx, claim); err != nil || len(claimed["@alice:example.org"][id]) != 1 {
			t.Fatalf("claiming %s's key: %v, %v", id, claimed, err)
		}
	}
}

// TestLoginTakesDehydratedDevice: logging in with the dehydrated device's
// ID makes it an ordinary device with a session, which GET
// /dehydrated_device no longer offers for rehydration.
func TestLoginTakesDehydratedDevice(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if err := u.SetDehydratedDevice(ctx, "alice", dehydratedUpload("D1", "D1")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "D1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.DehydratedDevice(ctx, "alice"); !errors.Is(err, api.ErrNoDehydratedDevice) {
		t.Fatalf("still dehydrated after a login with its ID: %v", err)
	}
	wantDevices(t, u, "D1")
}
