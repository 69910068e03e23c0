package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// directFixture writes member events and memberships the way the
// roomserver does.
type directFixture struct {
	t   testing.TB
	s   *storage.Storage
	seq int
}

func (f *directFixture) member(room storage.RoomNID, user, membership string, ts int64, content string) {
	f.t.Helper()
	ctx := context.Background()
	f.seq++
	id := fmt.Sprintf("$ev%d", f.seq)
	js := fmt.Sprintf(`{"type":"m.room.member","state_key":%q,"sender":%q,"content":%s}`, user, user, content)
	nid, _, err := f.s.InsertEvent(ctx, &storage.Event{ID: id, RoomNID: room, Type: "m.room.member", StateKey: strp(user),
		Sender: user, OriginServerTS: ts, JSON: []byte(js)})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.SetMembership(ctx, room, user, membership, nid); err != nil {
		f.t.Fatal(err)
	}
}

func (f *directFixture) invite(roomID, user, sender, reason, outside string, ts int64) {
	f.t.Helper()
	err := f.s.NoteDirectInvite(context.Background(), storage.DirectInvite{RoomID: roomID, UserID: user, Sender: sender,
		EventID: "$inv-" + roomID + user, TS: ts, Reason: reason, Outside: outside})
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestTwoPersonRooms(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		f := &directFixture{t: t, s: s}
		const alice, bob, carol, dan = "@alice:x", "@bob:x", "@carol:x", "@dan:y"
		dm := insertRoom(t, s, "!dm:x")       // alice + bob, direct invite
		plain := insertRoom(t, s, "!plain:x") // alice + carol, no direct invite
		group := insertRoom(t, s, "!group:x") // alice, bob, carol: never two-person
		left := insertRoom(t, s, "!left:x")   // alice + dan, dan left
		remote := insertRoom(t, s, "!rem:y")  // alice + dan (remote), direct invite of alice
		f.member(dm, alice, "join", 100, `{"membership":"join"}`)
		f.member(dm, bob, "join", 150, `{"membership":"join","displayname":"Bob"}`)
		f.invite("!dm:x", bob, alice, "hi", "", 120)
		f.member(plain, alice, "join", 200, `{"membership":"join"}`)
		f.member(plain, carol, "join", 180, `{"membership":"join"}`)
		for i, u := range []string{alice, bob, carol} {
			f.member(group, u, "join", int64(300+i), `{"membership":"join"}`)
		}
		f.member(left, alice, "join", 400, `{"membership":"join"}`)
		f.member(left, dan, "leave", 410, `{"membership":"leave"}`)
		f.member(remote, dan, "join", 500, `{"membership":"join","displayname":"Dan","avatar_url":"mxc://y/a"}`)
		f.member(remote, alice, "join", 520, `{"membership":"join"}`)
		f.invite("!rem:y", alice, dan, "", "invite", 510)

		cases := []struct {
			user string
			want []storage.TwoPersonRoom
		}{
			{alice, []storage.TwoPersonRoom{
				{RoomID: "!dm:x", Other: bob, MyJoinTS: 100, OtherJoinTS: 150, Direct: true},
				{RoomID: "!plain:x", Other: carol, MyJoinTS: 200, OtherJoinTS: 180},
				{RoomID: "!rem:y", Other: dan, MyJoinTS: 520, OtherJoinTS: 500, Direct: true},
			}},
			{bob, []storage.TwoPersonRoom{{RoomID: "!dm:x", Other: alice, MyJoinTS: 150, OtherJoinTS: 100, Direct: true}}},
			{dan, []storage.TwoPersonRoom{{RoomID: "!rem:y", Other: alice, MyJoinTS: 500, OtherJoinTS: 520, Direct: true}}},
			{"@nobody:x", nil},
		}
		for _, tc := range cases {
			t.Run(tc.user, func(t *testing.T) {
				got, err := s.TwoPersonRooms(ctx, tc.user, "x")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, tc.want, func(a, b storage.TwoPersonRoom) bool {
					a.OtherJoin, b.OtherJoin = nil, nil
					return fmt.Sprint(a) == fmt.Sprint(b)
				}) {
					t.Fatalf("TwoPersonRooms(%s) = %+v; want %+v", tc.user, got, tc.want)
				}
			})
		}
		// The other's join event comes along (their profile in the room).
		got, _ := s.TwoPersonRooms(ctx, alice, "x")
		if want := `"displayname":"Dan"`; !strings.Contains(string(got[2].OtherJoin), want) {
			t.Fatalf("other's join = %s; want it to hold %s", got[2].OtherJoin, want)
		}

		// A third joiner makes the DM a group: no longer two-person.
		f.member(dm, carol, "join", 160, `{"membership":"join"}`)
		if got, _ := s.TwoPersonRooms(ctx, bob, "x"); len(got) != 0 {
			t.Fatalf("TwoPersonRooms(bob) with a third member = %+v; want none", got)
		}
	})
}

func TestDirectInvites(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		f := &directFixture{t: t, s: s}
		const alice, bob, carol, dan = "@alice:x", "@bob:x", "@carol:x", "@dan:y"
		// alice invited bob (pending) and carol (who rejected); dan, on
		// another server, invited alice to a room this server is not in;
		// bob invited carol but left before she answered.
		ab := insertRoom(t, s, "!ab:x")
		f.member(ab, alice, "join", 1, `{"membership":"join"}`)
		f.member(ab, bob, "invite", 2, `{"membership":"invite","is_direct":true}`)
		f.invite("!ab:x", bob, alice, "hello bob", "", 2)
		ac := insertRoom(t, s, "!ac:x")
		f.member(ac, alice, "join", 3, `{"membership":"join"}`)
		f.member(ac, carol, "invite", 4, `{"membership":"invite","is_direct":true}`)
		f.invite("!ac:x", carol, alice, "", "", 4)
		f.member(ac, carol, "leave", 5, `{"membership":"leave"}`)
		f.invite("!da:y", alice, dan, "from afar", "invite", 6)
		bc := insertRoom(t, s, "!bc:x")
		f.member(bc, bob, "join", 7, `{"membership":"join"}`)
		f.member(bc, carol, "invite", 8, `{"membership":"invite","is_direct":true}`)
		f.invite("!bc:x", carol, bob, "", "", 8)
		f.member(bc, bob, "leave", 9, `{"membership":"leave"}`)

		rooms := func(ds []storage.DirectInvite) []string {
			var out []string
			for _, d := range ds {
				out = append(out, d.RoomID+" "+d.Sender+">"+d.UserID+" "+d.Reason)
			}
			return out
		}
		cases := []struct {
			name string
			read func(context.Context, string) ([]storage.DirectInvite, error)
			user string
			want []string
		}{
			{"alice incoming: the remote one", s.IncomingDirectInvites, alice, []string{"!da:y @dan:y>@alice:x from afar"}},
			{"alice outgoing: bob's, not rejected carol's", s.OutgoingDirectInvites, alice, []string{"!ab:x @alice:x>@bob:x hello bob"}},
			{"bob incoming", s.IncomingDirectInvites, bob, []string{"!ab:x @alice:x>@bob:x hello bob"}},
			{"bob outgoing: he left the room", s.OutgoingDirectInvites, bob, nil},
			{"carol incoming: bob's still stands", s.IncomingDirectInvites, carol, []string{"!bc:x @bob:x>@carol:x "}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tc.read(ctx, tc.user)
				if err != nil || !slices.Equal(rooms(got), tc.want) {
					t.Fatalf("got %q, %v; want %q", rooms(got), err, tc.want)
				}
			})
		}

		// Rejecting the remote invite (outside the room's state) ends it.
		if err := s.SetOutsideMembership(ctx, "!da:y", alice, "leave"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.IncomingDirectInvites(ctx, alice); len(got) != 0 {
			t.Fatalf("after rejecting: incoming %q; want none", rooms(got))
		}
		// Invited again, then joined: the room's state takes over (the join
		// clears the outside membership).
		f.invite("!da:y", alice, dan, "again", "invite", 10)
		da := insertRoom(t, s, "!da:y")
		f.member(da, alice, "join", 11, `{"membership":"join"}`)
		if got, _ := s.IncomingDirectInvites(ctx, alice); len(got) != 0 {
			t.Fatalf("after joining: incoming %q; want none", rooms(got))
		}
		f.member(da, dan, "join", 12, `{"membership":"join"}`)
		if got, _ := s.TwoPersonRooms(ctx, alice, "x"); len(got) != 1 || !got[0].Direct || got[0].Other != dan {
			t.Fatalf("TwoPersonRooms(alice) = %+v; want the direct room with dan", got)
		}
	})
}
