package internal

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// keysAPI is a user API with the durable bus, and the device-list changes
// it announces on it.
func keysAPI(t *testing.T) (*UserAPI, <-chan api.DeviceListChange) {
	t.Helper()
	db, err := sqlutil.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "u.db"), sqlutil.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return keysAPIOn(t, db)
}

// keysAPIOn is keysAPI on the database db.
func keysAPIOn(t *testing.T, db *sqlutil.DB) (*UserAPI, <-chan api.DeviceListChange) {
	t.Helper()
	ctx := context.Background()
	b, err := bus.NewDurable(ctx, db, bus.Options{}, logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	store, err := storage.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c := cache.NewMemory(cache.MemoryOptions{}, nil)
	u, err := New(Options{ServerName: "example.org", BcryptCost: 4}, store, c, b, logrus.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan api.DeviceListChange, 100)
	_, err = b.Subscribe(ctx, api.DeviceListTopic, "test", func(_ context.Context, m *bus.Message) error {
		var c api.DeviceListChange
		if err := json.Unmarshal(m.Body, &c); err != nil {
			t.Error(err)
		}
		changes <- c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u, changes
}

// expectChange waits for the next announced change, checks that it is
// alice's (the one user of these tests) and returns its position.
func expectChange(t *testing.T, changes <-chan api.DeviceListChange) int64 {
	t.Helper()
	const userID = "@alice:example.org"
	select {
	case c := <-changes:
		if c.UserID != userID {
			t.Fatalf("change of %s, want %s", c.UserID, userID)
		}
		return c.Pos
	case <-time.After(5 * time.Second):
		t.Fatalf("no device-list change announced for %s", userID)
		return 0
	}
}

func expectNoChange(t *testing.T, changes <-chan api.DeviceListChange, why string) {
	t.Helper()
	select {
	case c := <-changes:
		t.Fatalf("%s announced a change: %+v", why, c)
	case <-time.After(200 * time.Millisecond):
	}
}

func deviceKeys(userID string, device api.DeviceID, key string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"user_id": userID, "device_id": device, "algorithms": []string{"m.olm.v1.curve25519-aes-sha2"},
		"keys":       map[string]string{"ed25519:" + string(device): key},
		"signatures": map[string]any{userID: map[string]string{"ed25519:" + string(device): "sig"}},
	})
	return b
}

// TestDeviceListStream: logins of new devices, new or changed device keys
// and deleted devices are announced, in stream order; a repeated upload or
// a login with an existing device is not.
func TestDeviceListStream(t *testing.T) {
	u, changes := keysAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	const alice = "@alice:example.org"
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "D1"})
	if err != nil {
		t.Fatal(err)
	}
	p1 := expectChange(t, changes)
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "D1"}); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, changes, "a new login on an existing device")
	up := api.KeyUpload{DeviceKeys: deviceKeys(alice, s.Device.ID, "k1")}
	if _, err := u.UploadKeys(ctx, "alice", "D1", up); err != nil {
		t.Fatal(err)
	}
	p2 := expectChange(t, changes)
	if _, err := u.UploadKeys(ctx, "alice", "D1", up); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, changes, "the same device keys again")
	if _, err := u.UploadKeys(ctx, "alice", "D1", api.KeyUpload{DeviceKeys: deviceKeys(alice, "D1", "k2")}); err != nil {
		t.Fatal(err)
	}
	p3 := expectChange(t, changes)
	if err := u.Logout(ctx, "alice", "D1"); err != nil {
		t.Fatal(err)
	}
	p4 := expectChange(t, changes)
	if err := u.Logout(ctx, "alice", "D1"); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, changes, "logging out a deleted device")
	if !slices.IsSorted([]int64{p1, p2, p3, p4}) || p1 == p4 {
		t.Fatalf("positions %d %d %d %d not increasing", p1, p2, p3, p4)
	}
	users, latest, err := u.DeviceListChanges(ctx, p3, -1)
	if err != nil || latest != p4 || !slices.Equal(users, []string{alice}) {
		t.Fatalf("changes after %d = %v %d %v", p3, users, latest, err)
	}
	if users, _, _ := u.DeviceListChanges(ctx, p4, -1); len(users) != 0 {
		t.Fatalf("changes after the latest: %v", users)
	}
}

func TestUploadKeysRules(t *testing.T) {
	u, _ := keysAPI(t)
	ctx := context.Background()
	const alice = "@alice:example.org"
	otk := func(keys map[string]string) api.KeyUpload {
		up := api.KeyUpload{OneTimeKeys: map[string]json.RawMessage{}}
		for id, k := range keys {
			up.OneTimeKeys[id] = json.RawMessage(k)
		}
		return up
	}
	tests := []struct {
		name   string
		up     api.KeyUpload
		err    error
		counts map[string]int
	}{
		{"nothing", api.KeyUpload{}, nil, map[string]int{"signed_curve25519": 0}},
		{"another user's keys", api.KeyUpload{DeviceKeys: deviceKeys("@bob:example.org", "D1", "k")}, api.ErrKeysNotYours, nil},
		{"another device's keys", api.KeyUpload{DeviceKeys: deviceKeys(alice, "D2", "k")}, api.ErrKeysNotYours, nil},
		{"no algorithms", api.KeyUpload{DeviceKeys: json.RawMessage(`{"user_id":"` + alice + `","device_id":"D1"}`)},
			api.ErrBadDeviceKeys, nil},
		{"device keys not an object", api.KeyUpload{DeviceKeys: json.RawMessage(`[1]`)}, api.ErrBadDeviceKeys, nil},
		{"key without algorithm", otk(map[string]string{"AAAA": `"k"`}), api.ErrBadKeyID, nil},
		{"key a number", otk(map[string]string{"curve25519:AAAA": `1`}), api.ErrBadKeyID, nil},
		{"keys", otk(map[string]string{"signed_curve25519:A": `{"key":"a","signatures":{"x":{"y":"1"}}}`, "curve25519:B": `"b"`}),
			nil, map[string]int{"signed_curve25519": 1, "curve25519": 1}},
		{"same keys again, re-signed", otk(map[string]string{"signed_curve25519:A": `{ "signatures":{"x":{"y":"2"}}, "key":"a" }`}),
			nil, map[string]int{"signed_curve25519": 1, "curve25519": 1}},
		{"a key ID again with another key",
			otk(map[string]string{"signed_curve25519:A": `{"key":"z"}`, "signed_curve25519:C": `{"key":"c"}`}),
			api.ErrKeyConflict, nil},
		{"two fallback keys of one algorithm", api.KeyUpload{FallbackKeys: map[string]json.RawMessage{
			"signed_curve25519:F1": json.RawMessage(`{"key":"f1"}`), "signed_curve25519:F2": json.RawMessage(`{"key":"f2"}`)}},
			api.ErrTwoFallbackKeys, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counts, err := u.UploadKeys(ctx, "alice", "D1", tc.up)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if tc.err == nil && !maps.Equal(counts, tc.counts) {
				t.Fatalf("counts %v, want %v", counts, tc.counts)
			}
		})
	}
	// The refused upload stored nothing: C is not there.
	if c, _ := u.OneTimeKeyCounts(ctx, "alice", "D1"); c["signed_curve25519"] != 1 {
		t.Fatalf("a refused upload stored keys: %v", c)
	}
}

func TestQueryAndClaimKeys(t *testing.T) {
	u, _ := keysAPI(t)
	ctx := context.Background()
	const alice = "@alice:example.org"
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	name := "Alice's phone"
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "D1", DisplayName: &name}); err != nil {
		t.Fatal(err)
	}
	up := api.KeyUpload{
		DeviceKeys:   deviceKeys(alice, "D1", "k1"),
		OneTimeKeys:  map[string]json.RawMessage{"signed_curve25519:A": json.RawMessage(`{"key":"a"}`)},
		FallbackKeys: map[string]json.RawMessage{"signed_curve25519:F": json.RawMessage(`{"key":"f","fallback":true}`)},
	}
	if _, err := u.UploadKeys(ctx, "alice", "D1", up); err != nil {
		t.Fatal(err)
	}
	res, err := u.QueryKeys(ctx, map[string][]api.DeviceID{alice: nil, "@nobody:example.org": nil, "@alice:elsewhere.org": nil})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || len(res["@nobody:example.org"]) != 0 {
		t.Fatalf("query answered %v (other servers' users are skipped, unknown local ones empty)", res)
	}
	var got struct {
		Keys     map[string]string `json:"keys"`
		Unsigned struct {
			Name string `json:"device_display_name"`
		} `json:"unsigned"`
	}
	if err := json.Unmarshal(res[alice]["D1"], &got); err != nil || got.Keys["ed25519:D1"] != "k1" || got.Unsigned.Name != name {
		t.Fatalf("device keys %s, %v", res[alice]["D1"], err)
	}
	if types, _ := u.UnusedFallbackKeyTypes(ctx, "alice", "D1"); !slices.Equal(types, []string{"signed_curve25519"}) {
		t.Fatalf("unused fallback types %v", types)
	}
	claim := map[string]map[api.DeviceID]string{alice: {"D1": "signed_curve25519", "D9": "signed_curve25519"}}
	for i, want := range []string{`{"key":"a"}`, `{"key":"f","fallback":true}`, `{"key":"f","fallback":true}`} {
		got, err := u.ClaimKeys(ctx, claim)
		if err != nil || len(got[alice]) != 1 {
			t.Fatalf("claim %d: %v %v", i, got, err)
		}
		for _, k := range got[alice]["D1"] {
			if string(k) != want {
				t.Fatalf("claim %d got %s, want %s", i, k, want)
			}
		}
	}
	if types, _ := u.UnusedFallbackKeyTypes(ctx, "alice", "D1"); len(types) != 0 {
		t.Fatalf("fallback still unused after its claim: %v", types)
	}
}
