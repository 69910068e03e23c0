package internal

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

func TestReplacesBackupKey(t *testing.T) {
	stored := api.BackupKey{FirstMessageIndex: 10, ForwardedCount: 5}
	verified := stored
	verified.IsVerified = true
	for _, tc := range []struct {
		name     string
		uploaded api.BackupKey
		stored   api.BackupKey
		want     bool
	}{
		{"the same key", stored, stored, false},
		{"verified over unverified", api.BackupKey{IsVerified: true, FirstMessageIndex: 99, ForwardedCount: 99}, stored, true},
		{"unverified never over verified", api.BackupKey{FirstMessageIndex: 0, ForwardedCount: 0}, verified, false},
		{"lower first index", api.BackupKey{FirstMessageIndex: 9, ForwardedCount: 99}, stored, true},
		{"higher first index", api.BackupKey{FirstMessageIndex: 11, ForwardedCount: 0}, stored, false},
		{"same index, fewer forwards", api.BackupKey{FirstMessageIndex: 10, ForwardedCount: 4}, stored, true},
		{"same index, more forwards", api.BackupKey{FirstMessageIndex: 10, ForwardedCount: 6}, stored, false},
		{"verified: lower first index", api.BackupKey{IsVerified: true, FirstMessageIndex: 9}, verified, true},
		{"verified: same index, more forwards", api.BackupKey{IsVerified: true, FirstMessageIndex: 10, ForwardedCount: 6}, verified, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := replacesBackupKey(tc.uploaded, tc.stored); got != tc.want {
				t.Fatalf("replacesBackupKey(%+v, %+v) = %v, want %v", tc.uploaded, tc.stored, got, tc.want)
			}
		})
	}
}

func TestParseBackupVersion(t *testing.T) {
	for v, want := range map[string]int64{"1": 1, "42": 42, "0": 0, "-1": 0, "01": 0, "+1": 0, "": 0, "x": 0, "99999999999999999999": 0} {
		if n, ok := parseBackupVersion(v); n != want || ok != (want != 0) {
			t.Errorf("parseBackupVersion(%q) = %d, %v; want %d", v, n, ok, want)
		}
	}
}

// TestBackupKeysConcurrentWrites: uploads racing for one session keep the
// best key, and the etag moves once per key that was written.
func TestBackupKeysConcurrentWrites(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		u := testAPIOn(t, db)
		version, err := u.CreateBackup(ctx, "alice", "m.megolm_backup.v1.curve25519-aes-sha2", json.RawMessage(`{"public_key":"k"}`))
		if err != nil {
			t.Fatal(err)
		}
		const writers = 10
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := api.BackupKey{FirstMessageIndex: int64(writers - i), SessionData: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}
				if _, err := u.PutBackupKeys(ctx, "alice", version, api.BackupKeys{"!r:x": {"s": k}}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		keys, err := u.BackupKeys(ctx, "alice", version, "!r:x", "s")
		if err != nil || keys["!r:x"]["s"].FirstMessageIndex != 1 {
			t.Fatalf("kept %+v, %v; want first_message_index 1", keys, err)
		}
		b, err := u.Backup(ctx, "alice", "")
		if err != nil || b.Count != 1 {
			t.Fatalf("backup %+v, %v", b, err)
		}
		if n, _ := strconv.Atoi(b.ETag); n < 1 || n > writers {
			t.Fatalf("etag %q after %d racing writes", b.ETag, writers)
		}
	})
}

func TestBackupVersionErrors(t *testing.T) {
	ctx := context.Background()
	u := testAPI(t)
	if _, err := u.Backup(ctx, "alice", ""); !errors.Is(err, api.ErrNoBackup) {
		t.Fatalf("no backup: %v", err)
	}
	if _, err := u.PutBackupKeys(ctx, "alice", "1", nil); !errors.Is(err, api.ErrNoBackup) {
		t.Fatalf("keys without a backup: %v", err)
	}
	v1, _ := u.CreateBackup(ctx, "alice", "a", json.RawMessage(`{}`))
	v2, _ := u.CreateBackup(ctx, "alice", "a", json.RawMessage(`{}`))
	_, err := u.PutBackupKeys(ctx, "alice", v1, nil)
	var wrong *api.WrongBackupVersionError
	if !errors.Is(err, api.ErrWrongBackupVersion) || !errors.As(err, &wrong) || wrong.Current != v2 {
		t.Fatalf("keys to the old version: %v", err)
	}
	if err := u.UpdateBackup(ctx, "alice", v1, "b", json.RawMessage(`{}`)); !errors.Is(err, api.ErrBackupAlgorithm) {
		t.Fatalf("update with another algorithm: %v", err)
	}
	if err := u.DeleteBackup(ctx, "alice", "07"); !errors.Is(err, api.ErrUnknownBackup) {
		t.Fatalf("delete of a malformed version: %v", err)
	}
}
