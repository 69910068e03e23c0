package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func otk(alg, id string) storage.OneTimeKey {
	return storage.OneTimeKey{Algorithm: alg, KeyID: id, KeyJSON: json.RawMessage(`{"key":"` + id + `"}`)}
}

func TestDeviceKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		name := "phone"
		for _, id := range []api.DeviceID{"A", "B", "C"} {
			if err := s.UpsertDevice(ctx, "alice", id, &name, 1, "", ""); err != nil {
				t.Fatal(err)
			}
		}
		if k, err := s.DeviceKeys(ctx, "alice", "A"); err != nil || k != nil {
			t.Fatalf("keys before upload = %s, %v", k, err)
		}
		keysA := json.RawMessage(`{"device_id":"A","keys":{"ed25519:A":"x"}}`)
		for _, id := range []api.DeviceID{"A", "B"} {
			if err := s.SetDeviceKeys(ctx, "alice", id, keysA); err != nil {
				t.Fatal(err)
			}
		}
		replaced := json.RawMessage(`{"device_id":"B","keys":{}}`)
		if err := s.SetDeviceKeys(ctx, "alice", "B", replaced); err != nil {
			t.Fatal(err)
		}
		if k, err := s.DeviceKeys(ctx, "alice", "B"); err != nil || string(k) != string(replaced) {
			t.Fatalf("keys of B = %s, %v", k, err)
		}
		all, err := s.QueryDeviceKeys(ctx, "alice", nil)
		if err != nil || len(all) != 2 || all[0].DeviceID != "A" || all[0].DisplayName != "phone" ||
			string(all[0].KeyJSON) != string(keysA) {
			t.Fatalf("all device keys = %+v, %v", all, err)
		}
		some, err := s.QueryDeviceKeys(ctx, "alice", []api.DeviceID{"B", "C", "Z"})
		if err != nil || len(some) != 1 || some[0].DeviceID != "B" {
			t.Fatalf("keys of B, C, Z = %+v, %v", some, err)
		}
		if none, err := s.QueryDeviceKeys(ctx, "bob", nil); err != nil || len(none) != 0 {
			t.Fatalf("bob's keys = %+v, %v", none, err)
		}
	})
}

func TestOneTimeAndFallbackKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		// Two uploads: the first call's keys are claimed before the second's,
		// whatever their IDs.
		first := []storage.OneTimeKey{otk("signed_curve25519", "9"), otk("curve25519", "c")}
		if err := s.InsertOneTimeKeys(ctx, "alice", "A", first); err != nil {
			t.Fatal(err)
		}
		again := otk("signed_curve25519", "9")
		again.KeyJSON = json.RawMessage(`{"key":"other"}`)
		if err := s.InsertOneTimeKeys(ctx, "alice", "A", []storage.OneTimeKey{otk("signed_curve25519", "1"), again}); err != nil {
			t.Fatal(err)
		}
		held, err := s.OneTimeKeys(ctx, "alice", "A", []string{"signed_curve25519:9", "signed_curve25519:7"})
		if err != nil || len(held) != 1 || string(held["signed_curve25519:9"]) != `{"key":"9"}` {
			t.Fatalf("held keys = %v, %v (an insert must not replace a key)", held, err)
		}
		counts, err := s.OneTimeKeyCounts(ctx, "alice", "A")
		if err != nil || !maps.Equal(counts, map[string]int{"signed_curve25519": 2, "curve25519": 1}) {
			t.Fatalf("counts = %v, %v", counts, err)
		}
		if err := s.SetFallbackKey(ctx, "alice", "A", otk("signed_curve25519", "f1")); err != nil {
			t.Fatal(err)
		}
		if algs, err := s.UnusedFallbackKeyTypes(ctx, "alice", "A"); err != nil || !slices.Equal(algs, []string{"signed_curve25519"}) {
			t.Fatalf("unused fallback types = %v, %v", algs, err)
		}
		for i, want := range []string{"9", "1", "f1", "f1"} {
			k, ok, err := s.ClaimKey(ctx, "alice", "A", "signed_curve25519")
			if err != nil || !ok || k.KeyID != want || string(k.KeyJSON) != `{"key":"`+want+`"}` {
				t.Fatalf("claim %d = %+v %v %v, want key %s", i, k, ok, err, want)
			}
		}
		if algs, _ := s.UnusedFallbackKeyTypes(ctx, "alice", "A"); len(algs) != 0 {
			t.Fatalf("used fallback key still unused: %v", algs)
		}
		// The same fallback key again stays used; a new one is unused.
		if err := s.SetFallbackKey(ctx, "alice", "A", otk("signed_curve25519", "f1")); err != nil {
			t.Fatal(err)
		}
		if algs, _ := s.UnusedFallbackKeyTypes(ctx, "alice", "A"); len(algs) != 0 {
			t.Fatalf("re-uploaded used fallback key became unused: %v", algs)
		}
		if err := s.SetFallbackKey(ctx, "alice", "A", otk("signed_curve25519", "f2")); err != nil {
			t.Fatal(err)
		}
		if k, ok, _ := s.ClaimKey(ctx, "alice", "A", "signed_curve25519"); !ok || k.KeyID != "f2" {
			t.Fatalf("claim after new fallback = %+v %v", k, ok)
		}
		if k, ok, err := s.ClaimKey(ctx, "alice", "B", "signed_curve25519"); err != nil || ok {
			t.Fatalf("claim of a device without keys = %+v %v %v", k, ok, err)
		}
		if algs, _ := s.UnusedFallbackKeyTypes(ctx, "alice", "A"); len(algs) != 0 {
			t.Fatalf("fallback still unused after its claim: %v", algs)
		}
	})
}

func TestDeleteDevicesRemovesKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for _, id := range []api.DeviceID{"A", "B"} {
			if err := s.UpsertDevice(ctx, "alice", id, nil, 1, "", ""); err != nil {
				t.Fatal(err)
			}
			if err := s.SetDeviceKeys(ctx, "alice", id, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := s.InsertOneTimeKeys(ctx, "alice", id, []storage.OneTimeKey{otk("signed_curve25519", "1")}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetFallbackKey(ctx, "alice", id, otk("signed_curve25519", "f")); err != nil {
				t.Fatal(err)
			}
		}
		if _, n, err := s.DeleteDevices(ctx, "alice", []api.DeviceID{"A"}, ""); err != nil || n != 1 {
			t.Fatalf("delete A: %d %v", n, err)
		}
		if k, _ := s.DeviceKeys(ctx, "alice", "A"); k != nil {
			t.Fatal("device keys of a deleted device survive")
		}
		if c, _ := s.OneTimeKeyCounts(ctx, "alice", "A"); len(c) != 0 {
			t.Fatalf("one-time keys of a deleted device survive: %v", c)
		}
		if _, ok, _ := s.ClaimKey(ctx, "alice", "A", "signed_curve25519"); ok {
			t.Fatal("a deleted device's key was claimed")
		}
		if k, _ := s.DeviceKeys(ctx, "alice", "B"); k == nil {
			t.Fatal("another device's keys went with it")
		}
		if _, n, err := s.DeleteDevices(ctx, "alice", []api.DeviceID{"A"}, ""); err != nil || n != 0 {
			t.Fatalf("deleting a deleted device: %d %v", n, err)
		}
	})
}

func TestDeviceListChanges(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if users, latest, err := s.DeviceListChanges(ctx, 0, -1); err != nil || len(users) != 0 || latest != 0 {
			t.Fatalf("empty stream = %v %d %v", users, latest, err)
		}
		var last int64
		for _, u := range []string{"@b:x", "@a:x", "@b:x", "@c:x"} {
			pos, err := s.AppendDeviceListChange(ctx, u)
			if err != nil || pos <= last {
				t.Fatalf("position %d after %d, %v", pos, last, err)
			}
			last = pos
		}
		users, latest, err := s.DeviceListChanges(ctx, 0, -1)
		if err != nil || latest != last || !slices.Equal(users, []string{"@a:x", "@b:x", "@c:x"}) {
			t.Fatalf("all changes = %v %d %v", users, latest, err)
		}
		// (1, 3]: the second and third changes.
		users, _, err = s.DeviceListChanges(ctx, 1, 3)
		if err != nil || !slices.Equal(users, []string{"@a:x", "@b:x"}) {
			t.Fatalf("changes in (1, 3] = %v %v", users, err)
		}
		if users, _, _ := s.DeviceListChanges(ctx, last, -1); len(users) != 0 {
			t.Fatalf("changes after the latest = %v", users)
		}
		// A change inside a transaction that rolls back leaves no trace.
		boom := fmt.Errorf("boom")
		err = s.WithTx(ctx, func(ctx context.Context) error {
			if _, err := s.AppendDeviceListChange(ctx, "@d:x"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("rolled back transaction: %v", err)
		}
		if _, latest, _ := s.DeviceListChanges(ctx, 0, -1); latest != last {
			t.Fatalf("rolled back change moved the stream to %d", latest)
		}
	})
}

// TestConcurrentClaims: 50 claimers on 20 one-time keys and a fallback key
// of one device. Every one-time key goes to exactly one claimer, oldest
// upload first overall, and the other 30 get the fallback key.
func TestConcurrentClaims(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		const keys, claimers = 20, 50
		for i := range keys {
			k := otk("signed_curve25519", fmt.Sprintf("k%02d", i))
			if err := s.InsertOneTimeKeys(ctx, "alice", "A", []storage.OneTimeKey{k}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetFallbackKey(ctx, "alice", "A", otk("signed_curve25519", "fb")); err != nil {
			t.Fatal(err)
		}
		got := make([]string, claimers)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, ok, err := s.ClaimKey(ctx, "alice", "A", "signed_curve25519")
				if err != nil || !ok {
					t.Errorf("claimer %d: %v %v", i, ok, err)
					return
				}
				got[i] = k.KeyID
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for i := range keys {
			if id := fmt.Sprintf("k%02d", i); seen[id] != 1 {
				t.Errorf("key %s handed out %d times", id, seen[id])
			}
		}
		if seen["fb"] != claimers-keys {
			t.Errorf("fallback key handed out %d times, want %d (all: %v)", seen["fb"], claimers-keys, seen)
		}
		if c, _ := s.OneTimeKeyCounts(ctx, "alice", "A"); len(c) != 0 {
			t.Errorf("keys left: %v", c)
		}
	})
}
