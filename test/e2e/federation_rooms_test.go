package e2e

import (
	"fmt"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// TestFederationBackfill: alice of one says 250 things (and changes the
// topic on the way) before bob of two joins. Bob's server learns the room's
// state with the join and nothing of its history; paging back with
// /messages fetches that history from one on demand, in batches, and bob
// sees every message once, in order, then the room's creation, then no
// further page. /sync shows none of the history, and the history survives
// a restart of two.
func TestFederationBackfill(t *testing.T) {
	t.Parallel() // one of the longest: runs beside the other long ones once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f, alice, bob := startPair(t, d)
			two := f.servers["two.test"]
			c := ctx(t)
			carol := register(t, two, "carol", "long enough")
			room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", Topic: "first topic"})
			if err != nil {
				t.Fatal(err)
			}
			const n = 250
			var want []string
			for i := 0; i < n; i++ {
				if i == n/2 {
					topic := map[string]any{"topic": "second topic"}
					if _, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", topic); err != nil {
						t.Fatal(err)
					}
				}
				body := fmt.Sprintf("old %03d", i)
				if _, err := alice.SendText(c, room.RoomID, body); err != nil {
					t.Fatal(err)
				}
				want = append(want, body)
			}
			if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
				t.Fatal(err)
			}
			// The join brings the state, not the history: bob's first sync
			// has the current topic and a timeline that starts at his join.
			var bobSync *mautrix.RespSync
			waitFor(t, "the room in bob's sync", func() bool {
				bobSync = syncOnce(t, bob, "", 0)
				_, ok := bobSync.Rooms.Join[room.RoomID]
				return ok
			})
			jr := bobSync.Rooms.Join[room.RoomID]
			if len(bodies(jr.Timeline.Events)) != 0 {
				t.Fatalf("bob's sync timeline holds history: %v", bodies(jr.Timeline.Events))
			}
			topic := ""
			for _, e := range jr.State.Events {
				if e.Type == event.StateTopic {
					topic, _ = e.Content.Raw["topic"].(string)
				}
			}
			if topic != "second topic" {
				t.Fatalf("bob's state has topic %q", topic)
			}

			// Bob pages back 40 at a time; two backfills from one as he goes.
			page := func(u *mautrix.Client) (got []string, topics []string, last *event.Event) {
				from := ""
				for i := 0; i < 50; i++ {
					msgs, err := u.Messages(c, room.RoomID, from, "", mautrix.DirectionBackward, nil, 40)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range msgs.Chunk {
						if b, ok := e.Content.Raw["body"].(string); ok {
							got = append(got, b)
						}
						if e.Type == event.StateTopic {
							s, _ := e.Content.Raw["topic"].(string)
							topics = append(topics, s)
						}
						last = e
					}
					if msgs.End == "" {
						return got, topics, last
					}
					from = msgs.End
				}
				t.Fatal("more than 50 pages")
				return
			}
			got, topics, last := page(bob)
			slices.Reverse(got)
			if !slices.Equal(got, want) {
				d := firstDiff(got, want)
				t.Fatalf("bob's history: %d messages, want %d in order; first difference at %d: %v",
					len(got), len(want), d, got[max(0, d-2):min(len(got), d+3)])
			}
			if fmt.Sprint(topics) != "[second topic first topic]" {
				t.Fatalf("topic changes in bob's history: %v", topics)
			}
			if last == nil || last.Type != event.StateCreate {
				t.Fatalf("bob's history ends with %v, not the room's creation", last)
			}
			// The history is bob's server's now: carol, on the same server,
			// reads the same without any duplicates.
			if _, err := carol.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
				t.Fatal(err)
			}
			got, _, _ = page(carol)
			slices.Reverse(got)
			if !slices.Equal(got, want) {
				t.Fatalf("carol's history: %d messages, want %d", len(got), len(want))
			}
			// Sync, incremental or initial, does not show backfilled events.
			next := syncOnce(t, bob, bobSync.NextBatch, 0)
			if jr, ok := next.Rooms.Join[room.RoomID]; ok && len(bodies(jr.Timeline.Events)) != 0 {
				t.Fatalf("bob's incremental sync shows history: %v", bodies(jr.Timeline.Events))
			}
			if _, err := alice.SendText(c, room.RoomID, "new"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the new message in bob's sync", func() bool {
				s := syncOnce(t, bob, "", 0)
				return slices.Equal(bodies(s.Rooms.Join[room.RoomID].Timeline.Events), []string{"new"})
			})
			// After a restart of two, the history is still there, in order.
			f.restart(t, "two.test")
			bob.HomeserverURL = mustParse(t, f.servers["two.test"].ClientURL())
			got, _, _ = page(bob)
			slices.Reverse(got)
			if !slices.Equal(got, append(slices.Clone(want), "new")) {
				t.Fatalf("bob's history after a restart: %d messages", len(got))
			}
		})
	}
}

// firstDiff is the first index where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFederationInviteKnownRoom: invites to a server that has the room
// already — one that is in it (a second user of two), and one that was in
// it and left (alice, banned and unbanned by bob of two, then invited
// again; her server missed the events since her ban).
func TestFederationInviteKnownRoom(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	two := f.servers["two.test"]
	c := ctx(t)
	bob2 := register(t, two, "bob2", "long enough")
	invitedTo := func(u *mautrix.Client, room string) func() bool {
		return func() bool {
			_, ok := syncOnce(t, u, "", 0).Rooms.Invite[id.RoomID(room)]
			return ok
		}
	}

	// Alice's private room: bob is invited and joins, then bob2.
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*mautrix.Client{bob, bob2} {
		if _, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: u.UserID}); err != nil {
			t.Fatalf("inviting %s: %v", u.UserID, err)
		}
		waitFor(t, "the invite of "+u.UserID.String(), invitedTo(u, room.RoomID.String()))
		if _, err := u.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
			t.Fatalf("%s joining: %v", u.UserID, err)
		}
	}

	// Bob's public room: alice joins, is banned, unbanned, invited again.
	room2, err := bob.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.JoinRoom(c, room2.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"two.test"}}); err != nil {
		t.Fatal(err)
	}
	since := syncOnce(t, alice, "", 0).NextBatch
	if _, err := bob.BanUser(c, room2.RoomID, &mautrix.ReqBanUser{UserID: alice.UserID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice sees her ban", func() bool {
		_, ok := syncOnce(t, alice, since, 0).Rooms.Leave[room2.RoomID]
		return ok
	})
	if _, err := bob.UnbanUser(c, room2.RoomID, &mautrix.ReqUnbanUser{UserID: alice.UserID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.InviteUser(c, room2.RoomID, &mautrix.ReqInviteUser{UserID: alice.UserID}); err != nil {
		t.Fatalf("inviting alice again: %v", err)
	}
	waitFor(t, "alice's new invite", invitedTo(alice, room2.RoomID.String()))
	if _, err := alice.JoinRoom(c, room2.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"two.test"}}); err != nil {
		t.Fatalf("alice joining again: %v", err)
	}
}

// TestFederationRejoin: bob of two joins alice's room, leaves, and joins
// again after alice said 20 things: the events he missed bridge his
// server's old timeline and his new join, and paging back shows all of
// alice's messages once, in order, down to the room's creation.
func TestFederationRejoin(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	one := f.servers["one.test"]
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	say := func(n int, prefix string) {
		for i := 0; i < n; i++ {
			body := fmt.Sprintf("%s %02d", prefix, i)
			if _, err := alice.SendText(c, room.RoomID, body); err != nil {
				t.Fatal(err)
			}
			want = append(want, body)
		}
	}
	say(5, "first")
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	say(5, "while in")
	waitFor(t, "bob has alice's messages", func() bool {
		msgs, err := bob.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
		return err == nil && len(msgs.Chunk) == 1 && msgs.Chunk[0].Content.Raw["body"] == "while in 04"
	})
	if _, err := bob.LeaveRoom(c, room.RoomID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one sees bob leave", func() bool {
		m, err := one.Roomserver.Membership(c, room.RoomID.String(), bob.UserID.String())
		return err == nil && m == "leave"
	})
	say(20, "while away")
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatalf("bob joining again: %v", err)
	}
	var got []string
	from := ""
	for page := 0; page < 20; page++ {
		msgs, err := bob.Messages(c, room.RoomID, from, "", mautrix.DirectionBackward, nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range msgs.Chunk {
			if b, ok := e.Content.Raw["body"].(string); ok {
				got = append(got, b)
			}
		}
		if msgs.End == "" {
			break
		}
		from = msgs.End
	}
	slices.Reverse(got)
	if !slices.Equal(got, want) {
		t.Fatalf("bob's history after rejoining: %v", got)
	}
}

// TestFederationInviteEnds: invites to a server not in the room end in
// every way a user sees: the inviter rescinds one (a kick of the invitee,
// which reaches only the invitee's server), the invitee rejects one in a
// room everyone has left (the inviting server takes the leave with no user
// of its own in the room), and one accepted shows the invite it replaced in
// the join's unsigned.prev_content.
func TestFederationInviteEnds(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	one := f.servers["one.test"]
	c := ctx(t)
	newRoom := func(direct bool) id.RoomID {
		t.Helper()
		r, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bob.UserID}, IsDirect: direct})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "bob's invite", func() bool {
			_, ok := syncOnce(t, bob, "", 0).Rooms.Invite[r.RoomID]
			return ok
		})
		return r.RoomID
	}
	leftIn := func(since string, room id.RoomID) func() bool {
		return func() bool {
			_, ok := syncOnce(t, bob, since, 0).Rooms.Leave[room]
			return ok
		}
	}

	// Rescinded.
	rescinded := newRoom(false)
	since := syncOnce(t, bob, "", 0).NextBatch
	if _, err := alice.KickUser(c, rescinded, &mautrix.ReqKickUser{UserID: bob.UserID, Reason: "sorry"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob sees the invite taken back", leftIn(since, rescinded))

	// Rejected in an emptied room.
	emptied := newRoom(false)
	if _, err := alice.LeaveRoom(c, emptied); err != nil {
		t.Fatal(err)
	}
	since = syncOnce(t, bob, "", 0).NextBatch
	if _, err := bob.LeaveRoom(c, emptied); err != nil {
		t.Fatalf("rejecting the invite to an emptied room: %v", err)
	}
	waitFor(t, "bob sees his rejection", leftIn(since, emptied))
	waitFor(t, "one has bob's rejection", func() bool {
		m, err := one.Roomserver.Membership(c, emptied.String(), bob.UserID.String())
		return err == nil && m == "leave"
	})

	// Kicked by someone other than the inviter: bob's server cannot check
	// the room's power levels, and only the inviter may take an invite
	// back, so bob stays invited. A message alice sends after the kick, in
	// the room bob shares with her (the same queue to two), marks when
	// two has had the kick.
	alice2 := register(t, one, "alice2", "long enough")
	shared := newRoom(false)
	if _, err := bob.JoinRoom(c, shared.String(), nil); err != nil {
		t.Fatal(err)
	}
	other, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{alice2.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice2.JoinRoom(c, other.RoomID.String(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := alice2.InviteUser(c, other.RoomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's invite from alice2", func() bool {
		_, ok := syncOnce(t, bob, "", 0).Rooms.Invite[other.RoomID]
		return ok
	})
	if _, err := alice.KickUser(c, other.RoomID, &mautrix.ReqKickUser{UserID: bob.UserID}); err != nil {
		t.Fatal(err)
	}
	marker, err := alice.SendText(c, shared, "after the kick")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the marker at two", func() bool {
		_, err := bob.GetEvent(c, shared, marker.EventID)
		return err == nil
	})
	if _, ok := syncOnce(t, bob, "", 0).Rooms.Invite[other.RoomID]; !ok {
		t.Fatal("a kick by someone other than the inviter took bob's invite back")
	}

	// Accepted: the join replaced the invite.
	direct := newRoom(true)
	if _, err := bob.JoinRoom(c, direct.String(), nil); err != nil {
		t.Fatal(err)
	}
	var prev map[string]any
	waitFor(t, "bob's join with the invite as prev_content", func() bool {
		msgs, err := bob.Messages(c, direct, "", "", mautrix.DirectionBackward, nil, 5)
		if err != nil {
			return false
		}
		for _, e := range msgs.Chunk {
			if e.Type == event.StateMember && e.GetStateKey() == bob.UserID.String() && e.Content.Raw["membership"] == "join" {
				if e.Unsigned.PrevContent == nil {
					return false
				}
				prev = e.Unsigned.PrevContent.Raw
				return true
			}
		}
		return false
	})
	if prev["membership"] != "invite" || prev["is_direct"] != true {
		t.Fatalf("prev_content of bob's join: %v", prev)
	}
}
