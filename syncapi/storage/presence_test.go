package storage

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestPresence: each change takes the next position of the presence
// stream; a user keeps one row (the latest); changes are read by position
// window and by user; local users not offline are listed for start-up.
func TestPresence(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.PresencePos(ctx); err != nil || p != 0 {
			t.Fatalf("empty stream at %d, %v; want 0", p, err)
		}
		msg := "lunch"
		set := func(p Presence) int64 {
			t.Helper()
			pos, err := s.SetPresence(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		p1 := set(Presence{UserID: "@a:x", Presence: "online", LastActiveTS: 1000, CurrentlyActive: true, Local: true})
		p2 := set(Presence{UserID: "@b:y", Presence: "unavailable", StatusMsg: &msg, LastActiveTS: 2000})
		p3 := set(Presence{UserID: "@a:x", Presence: "offline", LastActiveTS: 3000, Local: true})
		p4 := set(Presence{UserID: "@c:x", Presence: "unavailable", LastActiveTS: 4000, Local: true})
		if p1 != 1 || p2 != 2 || p3 != 3 || p4 != 4 {
			t.Fatalf("positions %d %d %d %d, want 1 2 3 4", p1, p2, p3, p4)
		}
		if p, _ := s.PresencePos(ctx); p != 4 {
			t.Fatalf("stream at %d, want 4", p)
		}
		since, err := s.PresenceSince(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(since) != 2 || since[0].UserID != "@b:y" || since[1].UserID != "@a:x" || since[1].Presence != "offline" {
			t.Fatalf("changes in (1, 3] = %+v, want @b:y then @a:x offline", since)
		}
		b := since[0]
		if b.StatusMsg == nil || *b.StatusMsg != msg || b.Local || b.LastActiveTS != 2000 || b.Pos != 2 {
			t.Fatalf("@b:y read back as %+v", b)
		}
		of, err := s.PresenceOf(ctx, []string{"@a:x", "@nobody:x"})
		if err != nil {
			t.Fatal(err)
		}
		if len(of) != 1 || of[0].Presence != "offline" || of[0].StatusMsg != nil || !of[0].Local || of[0].CurrentlyActive {
			t.Fatalf("presence of @a:x = %+v, want the latest (offline, local)", of)
		}
		present, err := s.PresentUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(present) != 2 || present[0].Presence == "offline" || present[1].Presence == "offline" {
			t.Fatalf("present users = %+v, want @b:y and @c:x", present)
		}
		local, err := s.LocalPresence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(local) != 1 || local[0].UserID != "@c:x" {
			t.Fatalf("local users not offline = %+v, want only @c:x", local)
		}
	})
}
