package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/storage"
)

// search runs a directory search and returns the user IDs found.
func search(t *testing.T, s *storage.Storage, q storage.DirectoryQuery) ([]string, bool) {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 10
	}
	entries, limited, err := s.SearchDirectory(context.Background(), q)
	if err != nil {
		t.Fatalf("search %q: %v", q.Term, err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.UserID)
	}
	return ids, limited
}

func wantIDs(t *testing.T, s *storage.Storage, q storage.DirectoryQuery, want ...string) {
	t.Helper()
	got, _ := search(t, s, q)
	if !slices.Equal(got, want) {
		t.Errorf("search %q (restricted %v) = %v, want %v", q.Term, q.Restricted, got, want)
	}
}

func TestUserDirectorySearch(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for _, e := range []storage.DirectoryEntry{
			{UserID: "@user-1-alice:hs1", Local: true, DisplayName: "Alice Cooper", AvatarURL: "mxc://hs1/a"},
			{UserID: "@ali:hs1", Local: true, DisplayName: "Ali Baba", Signature: "Open sesame"},
			{UserID: "@zhang:hs1", Local: true, DisplayName: "张三丰", Signature: "太极拳 master"},
			{UserID: "@bob:other.example", DisplayName: "Bob Ökonom"},
		} {
			if err := s.SetDirectoryEntry(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		q := func(term string) storage.DirectoryQuery {
			return storage.DirectoryQuery{Term: term, Searcher: "@eve:hs1"}
		}
		wantIDs(t, s, q("ali"), "@ali:hs1", "@user-1-alice:hs1") // the exact word first
		wantIDs(t, s, q("ALICE"), "@user-1-alice:hs1")
		wantIDs(t, s, q("alice coo"), "@user-1-alice:hs1")
		wantIDs(t, s, q("alice baba"))
		wantIDs(t, s, q("@user"), "@user-1-alice:hs1")
		wantIDs(t, s, q("@user-1-alice:hs1"), "@user-1-alice:hs1")
		wantIDs(t, s, q("@bob:other"), "@bob:other.example")
		wantIDs(t, s, q("sesame"), "@ali:hs1")
		wantIDs(t, s, q("三丰"), "@zhang:hs1")
		wantIDs(t, s, q("张"), "@zhang:hs1")
		wantIDs(t, s, q("极"), "@zhang:hs1")
		wantIDs(t, s, q("丰三"))
		wantIDs(t, s, q("ökon"), "@bob:other.example")
		wantIDs(t, s, q("   "))
		wantIDs(t, s, q("lice")) // words match by prefix only

		// A profile change replaces the terms.
		if err := s.SetDirectoryEntry(ctx, storage.DirectoryEntry{UserID: "@ali:hs1", Local: true, DisplayName: "Ali"}); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, s, q("baba"))
		wantIDs(t, s, q("sesame"))
		entries, _, err := s.SearchDirectory(ctx, storage.DirectoryQuery{Term: "alice", Limit: 10})
		if err != nil || len(entries) != 1 || entries[0].DisplayName != "Alice Cooper" || entries[0].AvatarURL != "mxc://hs1/a" {
			t.Fatalf("entries = %+v, %v", entries, err)
		}
		// Deactivation removes the entry.
		if err := s.DeleteDirectoryEntry(ctx, "@user-1-alice:hs1"); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, s, q("alice"))
	})
}

func TestUserDirectoryLimit(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		var entries []storage.DirectoryEntry
		for i := range 450 {
			entries = append(entries, storage.DirectoryEntry{
				UserID: fmt.Sprintf("@u%03d:hs1", i), Local: true, DisplayName: fmt.Sprintf("Sam %d", i),
			})
		}
		if err := s.InsertDirectoryEntries(ctx, entries); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			term        string
			limit, want int
			limited     bool
		}{
			{"sam", 10, 10, true},
			{"sam", 450, 450, false},
			{"sam", 500, 450, false},
			{"sam 12", 10, 10, true}, // 12 and 120…129
			{"sam 123", 10, 1, false},
			{"sam 1", 5, 5, true},
			{"u44", 100, 10, false},
		} {
			got, limited := search(t, s, storage.DirectoryQuery{Term: tc.term, Limit: tc.limit})
			if len(got) != tc.want || limited != tc.limited {
				t.Errorf("%q limit %d: %d results, limited %v; want %d, %v", tc.term, tc.limit, len(got), limited, tc.want, tc.limited)
			}
			if len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("%q: duplicates in %v", tc.term, got)
			}
		}
	})
}

func TestUserDirectoryRooms(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for _, e := range []storage.DirectoryEntry{
			{UserID: "@alice:hs1", Local: true, DisplayName: "Alice"},
			{UserID: "@bob:hs1", Local: true, DisplayName: "Bob"},
			{UserID: "@eve:hs1", Local: true, DisplayName: "Eve"},
			{UserID: "@carol:remote", DisplayName: "Carol"},
		} {
			if err := s.SetDirectoryEntry(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// A private room of alice and carol; bob alone in a public one.
		must(s.SetDirectoryMember(ctx, "!priv:hs1", "@alice:hs1", true))
		must(s.SetDirectoryMember(ctx, "!priv:hs1", "@carol:remote", false))
		must(s.SetDirectoryMember(ctx, "!pub:hs1", "@bob:hs1", true))
		must(s.SetDirectoryRoomJoinPublic(ctx, "!pub:hs1", true))
		as := func(me, term string) storage.DirectoryQuery {
			return storage.DirectoryQuery{Term: term, Searcher: me, Restricted: true}
		}
		wantIDs(t, s, as("@alice:hs1", "carol"), "@carol:remote")
		wantIDs(t, s, as("@eve:hs1", "carol"))
		wantIDs(t, s, as("@eve:hs1", "bob"), "@bob:hs1")
		wantIDs(t, s, as("@eve:hs1", "alice"))
		wantIDs(t, s, as("@alice:hs1", "alice")) // not oneself through a shared room
		wantIDs(t, s, as("@bob:hs1", "bob"), "@bob:hs1")
		wantIDs(t, s, storage.DirectoryQuery{Term: "eve", Searcher: "@alice:hs1"}, "@eve:hs1")

		must(s.SetDirectoryRoomJoinPublic(ctx, "!pub:hs1", false))
		wantIDs(t, s, as("@eve:hs1", "bob"))
		must(s.SetDirectoryRoomWorldReadable(ctx, "!pub:hs1", true))
		wantIDs(t, s, as("@eve:hs1", "bob"), "@bob:hs1")

		// The last local member leaves: the room is forgotten, and carol,
		// in no other known room, leaves the directory.
		must(s.RemoveDirectoryMember(ctx, "!priv:hs1", "@alice:hs1"))
		wantIDs(t, s, storage.DirectoryQuery{Term: "carol", Searcher: "@alice:hs1"})
		wantIDs(t, s, storage.DirectoryQuery{Term: "alice", Searcher: "@bob:hs1"}, "@alice:hs1")
	})
}
