package storage_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func backupKey(index int64, verified bool) api.BackupKey {
	return api.BackupKey{FirstMessageIndex: index, ForwardedCount: 1, IsVerified: verified, SessionData: json.RawMessage(`{"c":"x"}`)}
}

// currentBackup is the current version's number, 0 when none.
func currentBackup(t *testing.T, s *storage.Storage, localpart api.Localpart) int64 {
	t.Helper()
	b, err := s.KeyBackup(context.Background(), localpart, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		return 0
	}
	return b.Version
}

func TestKeyBackupVersions(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		if v := currentBackup(t, s, "alice"); v != 0 {
			t.Fatalf("current version before any = %d", v)
		}
		for want := int64(1); want <= 3; want++ {
			v, err := s.InsertKeyBackup(ctx, "alice", "alg", json.RawMessage(`{"public_key":"k"}`))
			if err != nil || v != want {
				t.Fatalf("version %d, %v; want %d", v, err, want)
			}
		}
		if v, err := s.InsertKeyBackup(ctx, "bob", "alg", json.RawMessage(`{}`)); err != nil || v != 1 {
			t.Fatalf("bob's first version %d, %v: versions are per user", v, err)
		}
		b, err := s.KeyBackup(ctx, "alice", 2)
		if err != nil || b.Algorithm != "alg" || string(b.AuthData) != `{"public_key":"k"}` || b.ETag != 0 || b.Count != 0 || b.Deleted {
			t.Fatalf("version 2 = %+v, %v", b, err)
		}
		if ok, err := s.SetKeyBackupAuthData(ctx, "alice", 2, json.RawMessage(`{"public_key":"new"}`)); err != nil || !ok {
			t.Fatalf("updating version 2: %v, %v", ok, err)
		}
		if b, _ := s.KeyBackup(ctx, "alice", 2); string(b.AuthData) != `{"public_key":"new"}` {
			t.Fatalf("auth_data after update %s", b.AuthData)
		}
		// Deleting the latest makes the one before it current; its number
		// is not given out again.
		for range 2 {
			if found, err := s.DeleteKeyBackup(ctx, "alice", 3); err != nil || !found {
				t.Fatalf("deleting version 3: %v, %v", found, err)
			}
		}
		if v := currentBackup(t, s, "alice"); v != 2 {
			t.Fatalf("current after deleting 3 = %d, want 2", v)
		}
		if b, _ := s.KeyBackup(ctx, "alice", 3); b == nil || !b.Deleted {
			t.Fatalf("deleted version 3 = %+v", b)
		}
		if ok, _ := s.SetKeyBackupAuthData(ctx, "alice", 3, json.RawMessage(`{}`)); ok {
			t.Fatal("a deleted version's auth_data was updated")
		}
		if found, err := s.DeleteKeyBackup(ctx, "alice", 9); err != nil || found {
			t.Fatalf("deleting an unknown version: %v, %v", found, err)
		}
		if v, _ := s.InsertKeyBackup(ctx, "alice", "alg", json.RawMessage(`{}`)); v != 4 {
			t.Fatalf("version after deleting 3 = %d, want 4", v)
		}
	})
}

func TestKeyBackupKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		v, err := s.InsertKeyBackup(ctx, "alice", "alg", json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		put := func(room, session string, k api.BackupKey) {
			t.Helper()
			if err := s.PutBackupKey(ctx, "alice", v, room, session, k); err != nil {
				t.Fatal(err)
			}
		}
		put("!a:x", "s1", backupKey(5, false))
		put("!a:x", "s2", backupKey(5, true))
		put("!b:x", "s1", backupKey(5, false))
		put("!a:x", "s1", backupKey(2, true)) // replaced
		all, err := s.BackupKeys(ctx, "alice", v, "", "")
		if err != nil || len(all) != 3 {
			t.Fatalf("all keys = %+v, %v", all, err)
		}
		if k := all[0]; k.RoomID != "!a:x" || k.SessionID != "s1" || k.Key.FirstMessageIndex != 2 || !k.Key.IsVerified ||
			k.Key.ForwardedCount != 1 || string(k.Key.SessionData) != `{"c":"x"}` {
			t.Fatalf("replaced key = %+v", k)
		}
		room, _ := s.BackupKeys(ctx, "alice", v, "!a:x", "")
		one, _ := s.BackupKeys(ctx, "alice", v, "!b:x", "s1")
		none, _ := s.BackupKeys(ctx, "alice", v, "!b:x", "s2")
		if len(room) != 2 || len(one) != 1 || one[0].RoomID != "!b:x" || len(none) != 0 {
			t.Fatalf("room %+v, one %+v, none %+v", room, one, none)
		}
		if b, _ := s.KeyBackup(ctx, "alice", v); b.Count != 3 {
			t.Fatalf("count %d, want 3", b.Count)
		}
		if err := s.BumpKeyBackupETag(ctx, "alice", v); err != nil {
			t.Fatal(err)
		}
		if b, _ := s.KeyBackup(ctx, "alice", v); b.ETag != 1 {
			t.Fatalf("etag %d after a bump", b.ETag)
		}
		if n, err := s.DeleteBackupKeys(ctx, "alice", v, "!a:x", "s2"); err != nil || n != 1 {
			t.Fatalf("deleting one session: %d, %v", n, err)
		}
		if n, err := s.DeleteBackupKeys(ctx, "alice", v, "!a:x", ""); err != nil || n != 1 {
			t.Fatalf("deleting a room: %d, %v", n, err)
		}
		put("!a:x", "s3", backupKey(0, false))
		if found, err := s.DeleteKeyBackup(ctx, "alice", v); err != nil || !found {
			t.Fatalf("deleting the version: %v, %v", found, err)
		}
		if left, _ := s.BackupKeys(ctx, "alice", v, "", ""); len(left) != 0 {
			t.Fatalf("keys left in a deleted version: %+v", left)
		}
		if ok, err := s.LockKeyBackup(ctx, "alice", v); err != nil || ok {
			t.Fatalf("locking a deleted version: %v, %v", ok, err)
		}
	})
}

// TestKeyBackupConcurrentCreation: concurrent creations by one user each
// get their own version.
func TestKeyBackupConcurrentCreation(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		s := open(t, db)
		const n = 8
		got := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := s.InsertKeyBackup(context.Background(), "alice", "alg", json.RawMessage(`{}`))
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			}()
		}
		wg.Wait()
		slices.Sort(got)
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("versions %v, want 1..%d", got, n)
			}
		}
	})
}
