package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

func TestMemberships(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		// Created in this order, so room NID order is z, a, m: not the
		// alphabetical order of the IDs.
		z := insertRoom(t, s, "!z:x")
		a := insertRoom(t, s, "!a:x")
		m := insertRoom(t, s, "!m:x")
		set := func(room storage.RoomNID, user, membership string, ev storage.EventNID) {
			t.Helper()
			if err := s.SetMembership(ctx, room, user, membership, ev); err != nil {
				t.Fatalf("SetMembership(%d, %s, %s): %v", room, user, membership, err)
			}
		}
		expectMembership := func(room storage.RoomNID, user, want string, wantEv storage.EventNID) {
			t.Helper()
			got, ev, err := s.Membership(ctx, room, user)
			if err != nil || got != want || ev != wantEv {
				t.Fatalf("Membership(%d, %s) = %q, %d, %v; want %q, %d", room, user, got, ev, err, want, wantEv)
			}
		}
		expectRooms := func(user, membership string, want ...string) {
			t.Helper()
			got, err := s.RoomsOf(ctx, user, membership)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("RoomsOf(%s, %s) = %q, %v; want %q", user, membership, got, err, want)
			}
		}
		expectMembers := func(room storage.RoomNID, membership string, want ...string) {
			t.Helper()
			got, err := s.MembersOf(ctx, room, membership)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("MembersOf(%d, %s) = %q, %v; want %q", room, membership, got, err, want)
			}
		}

		expectMembership(z, "@nobody:x", "leave", 0)
		expectMembership(999, "@nobody:x", "leave", 0)
		expectRooms("@nobody:x", "join")
		expectMembers(z, "join")

		// Joined in an order that is neither NID nor alphabetical order.
		set(m, "@alice:x", "join", 11)
		set(z, "@alice:x", "join", 12)
		set(a, "@alice:x", "join", 13)
		expectRooms("@alice:x", "join", "!z:x", "!a:x", "!m:x")
		expectMembership(a, "@alice:x", "join", 13)

		set(m, "@zed:x", "join", 21)
		set(m, "@amy:x", "invite", 22)
		set(m, "@mo:x", "join", 23)
		set(m, "@amy:x", "join", 24)
		set(m, "@bo:x", "invite", 25)
		expectMembers(m, "join", "@alice:x", "@amy:x", "@mo:x", "@zed:x")
		expectMembers(m, "invite", "@bo:x")
		expectMembership(m, "@amy:x", "join", 24)
		expectRooms("@amy:x", "invite")
		expectRooms("@amy:x", "join", "!m:x")

		// A change replaces the user's membership of that room only.
		set(a, "@alice:x", "leave", 14)
		expectMembership(a, "@alice:x", "leave", 14)
		expectRooms("@alice:x", "join", "!z:x", "!m:x")
		expectRooms("@alice:x", "leave", "!a:x")
		expectMembers(a, "join")
		expectMembers(a, "leave", "@alice:x")

		// Forgetting hides the room only for a membership of leave or ban.
		forget := []struct {
			membership string
			hidden     bool
		}{
			{"join", false},
			{"invite", false},
			{"knock", false},
			{"leave", true},
			{"ban", true},
		}
		for i, f := range forget {
			user := "@forgetter" + f.membership + ":x"
			ev := storage.EventNID(100 + i)
			set(z, user, f.membership, ev)
			set(a, user, f.membership, ev+50)
			if err := s.Forget(ctx, z, user); err != nil {
				t.Fatalf("Forget(%s): %v", f.membership, err)
			}
			if f.hidden {
				expectRooms(user, f.membership, "!a:x")
			} else {
				expectRooms(user, f.membership, "!z:x", "!a:x")
			}
			// The membership itself is unchanged, and the room still lists
			// the user.
			expectMembership(z, user, f.membership, ev)
			if got, _ := s.MembersOf(ctx, z, f.membership); !slices.Contains(got, user) {
				t.Fatalf("MembersOf(z, %s) = %q, missing %s after Forget", f.membership, got, user)
			}
		}

		// Forget is per user: another user who left the same room still sees it.
		set(a, "@bob:x", "leave", 30)
		if err := s.Forget(ctx, a, "@alice:x"); err != nil {
			t.Fatal(err)
		}
		expectRooms("@alice:x", "leave")
		expectRooms("@bob:x", "leave", "!a:x")
		// Forgetting twice, or a room one never had, is harmless.
		if err := s.Forget(ctx, a, "@alice:x"); err != nil {
			t.Fatal(err)
		}
		if err := s.Forget(ctx, z, "@nobody:x"); err != nil {
			t.Fatal(err)
		}
		expectMembership(z, "@nobody:x", "leave", 0)

		// A later join clears the forget, so leaving again lists the room.
		set(a, "@alice:x", "join", 15)
		expectRooms("@alice:x", "join", "!z:x", "!a:x", "!m:x")
		set(a, "@alice:x", "leave", 16)
		expectRooms("@alice:x", "leave", "!a:x")
	})
}
