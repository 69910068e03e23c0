package e2e

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestKnockOneServer: bob knocks on alice's room on their server; alice
// refuses (kick), bob knocks again and rescinds his knock (leave), knocks
// once more, alice accepts (invite) and bob joins.
func TestKnockOneServer(t *testing.T) {
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	knockAcceptRefuse(t, alice, bob, "")
}

// TestKnockFederated: the same across servers: bob of two knocks through
// one (make_knock, send_knock), sees the room's stripped state, is refused
// and accepted by alice of one, and joins.
func TestKnockFederated(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	knockAcceptRefuse(t, alice, bob, "one.test")
}

// knockAcceptRefuse runs the knock, refuse, knock, rescind, knock, accept,
// join story,
// knocking through via ("": none, a room of the knocker's server).
func knockAcceptRefuse(t *testing.T, alice, bob *mautrix.Client, via string) {
	t.Helper()
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", RoomVersion: "10", Name: "Door",
		InitialState: []*event.Event{{Type: event.StateJoinRules, Content: event.Content{Raw: map[string]any{"join_rule": "knock"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var viaList []string
	if via != "" {
		viaList = []string{via}
	}
	knock := func() string {
		resp, err := bob.KnockRoom(c, room.RoomID.String(), &mautrix.ReqKnockRoom{Via: viaList, Reason: "let me in"})
		if err != nil || resp.RoomID != room.RoomID {
			t.Fatalf("knocking: %+v, %v", resp, err)
		}
		return waitSection(t, bob, "", "bob's knock", func(r *mautrix.RespSync) bool {
			k, ok := r.Rooms.Knock[room.RoomID]
			return ok && hasState(k.State.Events, event.StateCreate, "") && hasState(k.State.Events, event.StateRoomName, "") &&
				hasState(k.State.Events, event.StateMember, bob.UserID.String())
		})
	}
	since := knock()
	waitMembership(t, alice, room.RoomID, bob.UserID, event.MembershipKnock)
	// Refused.
	if _, err := alice.KickUser(c, room.RoomID, &mautrix.ReqKickUser{UserID: bob.UserID, Reason: "not now"}); err != nil {
		t.Fatal(err)
	}
	waitSection(t, bob, since, "the refusal in bob's sync", func(r *mautrix.RespSync) bool { return r.Rooms.Leave[room.RoomID] != nil })
	// Knocked again and rescinded (a leave: through one's make_leave and
	// send_leave when bob's server is not in the room).
	since = knock()
	waitMembership(t, alice, room.RoomID, bob.UserID, event.MembershipKnock)
	if _, err := bob.LeaveRoom(c, room.RoomID); err != nil {
		t.Fatalf("rescinding the knock: %v", err)
	}
	waitSection(t, bob, since, "the rescinded knock in bob's sync", func(r *mautrix.RespSync) bool {
		return r.Rooms.Leave[room.RoomID] != nil
	})
	waitMembership(t, alice, room.RoomID, bob.UserID, event.MembershipLeave)
	// Knocked again, accepted.
	since = knock()
	waitMembership(t, alice, room.RoomID, bob.UserID, event.MembershipKnock)
	if _, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
		t.Fatal(err)
	}
	waitSection(t, bob, since, "the acceptance in bob's sync", func(r *mautrix.RespSync) bool { return r.Rooms.Invite[room.RoomID] != nil })
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: viaList}); err != nil {
		t.Fatalf("joining after the knock was accepted: %v", err)
	}
	waitMembership(t, alice, room.RoomID, bob.UserID, event.MembershipJoin)
}

// waitSection syncs c from since until ok holds for a response, and
// returns that response's next_batch.
func waitSection(t *testing.T, c *mautrix.Client, since, what string, ok func(*mautrix.RespSync) bool) string {
	t.Helper()
	var next string
	waitFor(t, what, func() bool {
		resp := syncOnce(t, c, since, time.Second)
		next = resp.NextBatch
		if since != "" {
			since = next
		}
		return ok(resp)
	})
	return next
}

// waitMembership waits until c sees user's membership of room become m.
func waitMembership(t *testing.T, c *mautrix.Client, room id.RoomID, user id.UserID, m event.Membership) {
	t.Helper()
	waitFor(t, string(user)+" "+string(m)+" in "+string(c.UserID)+"'s view", func() bool {
		var content struct {
			Membership event.Membership `json:"membership"`
		}
		err := c.StateEvent(context.Background(), room, event.StateMember, user.String(), &content)
		if err != nil || content.Membership != m {
			time.Sleep(20 * time.Millisecond) // polling the state: no long-poll to wait on
			return false
		}
		return true
	})
}

// hasState reports whether evs hold a state event of type typ and key.
func hasState(evs []*event.Event, typ event.Type, key string) bool {
	for _, ev := range evs {
		if ev.Type == typ && ev.StateKey != nil && *ev.StateKey == key {
			return true
		}
	}
	return false
}
