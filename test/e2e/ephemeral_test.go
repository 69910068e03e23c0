package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// typingIn returns the user_ids of the room's m.typing event in resp, and
// whether there was one.
func typingIn(resp *mautrix.RespSync, roomID id.RoomID) ([]string, bool) {
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return nil, false
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type == "m.typing" {
			var c struct {
				UserIDs []string `json:"user_ids"`
			}
			_ = json.Unmarshal(ev.Content.VeryRaw, &c)
			return c.UserIDs, true
		}
	}
	return nil, false
}

// receiptsIn returns the room's m.receipt content in resp: event ID →
// receipt type → user ID → receipt.
func receiptsIn(resp *mautrix.RespSync, roomID id.RoomID) map[string]map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]map[string]any{}
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return out
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type == "m.receipt" {
			_ = json.Unmarshal(ev.Content.VeryRaw, &out)
		}
	}
	return out
}

// syncWaiting long-polls as c from since until ok holds for a response
// (20 s at most) and returns that response.
func syncWaiting(t *testing.T, c *mautrix.Client, since string, what string, ok func(*mautrix.RespSync) bool) *mautrix.RespSync {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := syncOnce(t, c, since, 5*time.Second)
		if ok(resp) {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out waiting for %s", c.UserID, what)
		}
		since = resp.NextBatch
	}
}

// unread is the room's notification count in resp (-1: the room is not
// in it).
func unread(resp *mautrix.RespSync, roomID id.RoomID) int {
	jr := resp.Rooms.Join[roomID]
	if jr == nil || jr.UnreadNotifications == nil {
		return -1
	}
	return jr.UnreadNotifications.NotificationCount
}

// TestTypingAndReceipts: typing reaches the other member and ends by
// itself; a stranger never sees it. Read receipts bring the unread count
// to zero; a private receipt is seen by its owner only. On SQLite and
// PostgreSQL.
func TestTypingAndReceipts(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		carol := register(t, srv, "carol", "long enough")
		room := publicRoom(t, alice, bob)
		c := ctx(t)
		bobSince := syncOnce(t, bob, "", 0).NextBatch
		carolSince := syncOnce(t, carol, "", 0).NextBatch

		if _, err := alice.UserTyping(c, room, true, time.Second); err != nil {
			t.Fatal(err)
		}
		resp := syncWaiting(t, bob, bobSince, "alice typing", func(r *mautrix.RespSync) bool {
			users, _ := typingIn(r, room)
			return slices.Equal(users, []string{alice.UserID.String()})
		})
		syncWaiting(t, bob, resp.NextBatch, "alice's typing to expire", func(r *mautrix.RespSync) bool {
			users, ok := typingIn(r, room)
			return ok && len(users) == 0
		})
		if r := syncOnce(t, carol, carolSince, time.Second); r.Rooms.Join[room] != nil {
			t.Fatalf("carol, not in the room, was told of it: %+v", r.Rooms.Join[room])
		}

		var last id.EventID
		for _, body := range []string{"one", "two", "three"} {
			sent, err := bob.SendText(c, room, body)
			if err != nil {
				t.Fatal(err)
			}
			last = sent.EventID
		}
		aliceResp := syncWaiting(t, alice, "", "three unread", func(r *mautrix.RespSync) bool { return unread(r, room) == 3 })
		if err := alice.SendReceipt(c, room, last, event.ReceiptTypeRead, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		syncWaiting(t, alice, aliceResp.NextBatch, "no unread after the receipt", func(r *mautrix.RespSync) bool {
			return unread(r, room) == 0
		})

		// A private receipt: alice's count drops, bob never sees it, but
		// sees the public receipt sent after it.
		sent, err := bob.SendText(c, room, "four")
		if err != nil {
			t.Fatal(err)
		}
		bobSince = syncOnce(t, bob, "", 0).NextBatch
		aliceResp = syncWaiting(t, alice, aliceResp.NextBatch, "one unread", func(r *mautrix.RespSync) bool { return unread(r, room) == 1 })
		if err := alice.SendReceipt(c, room, sent.EventID, event.ReceiptTypeReadPrivate, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		syncWaiting(t, alice, aliceResp.NextBatch, "the private receipt and no unread", func(r *mautrix.RespSync) bool {
			_, ok := receiptsIn(r, room)[sent.EventID.String()]["m.read.private"][alice.UserID.String()]
			return ok && unread(r, room) == 0
		})
		if err := alice.SendReceipt(c, room, sent.EventID, event.ReceiptTypeRead, map[string]any{}); err != nil {
			t.Fatal(err)
		}
		var seen []map[string]map[string]map[string]any
		syncWaiting(t, bob, bobSince, "alice's public receipt", func(r *mautrix.RespSync) bool {
			rs := receiptsIn(r, room)
			seen = append(seen, rs[sent.EventID.String()])
			_, ok := rs[sent.EventID.String()]["m.read"][alice.UserID.String()]
			return ok
		})
		for _, byType := range seen {
			if _, ok := byType["m.read.private"]; ok {
				t.Fatalf("bob saw alice's private receipt: %v", byType)
			}
		}
	})
}

// TestFederationTypingAndReceipts: typing and public receipts cross to
// the other server in the room (m.typing and m.receipt EDUs), with the
// receipt's thread; a private receipt does not.
func TestFederationTypingAndReceipts(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	room := publicRoom(t, alice)
	if _, err := bob.JoinRoom(c, room.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob joined on one.test", func() bool {
		m, err := alice.JoinedMembers(c, room)
		return err == nil && len(m.Joined) == 2
	})
	bobSince := syncOnce(t, bob, "", 0).NextBatch
	if _, err := alice.UserTyping(c, room, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	syncWaiting(t, bob, bobSince, "alice typing, across servers", func(r *mautrix.RespSync) bool {
		users, _ := typingIn(r, room)
		return slices.Equal(users, []string{alice.UserID.String()})
	})

	sent, err := alice.SendText(c, room, "read me")
	if err != nil {
		t.Fatal(err)
	}
	aliceSince := syncOnce(t, alice, "", 0).NextBatch
	waitFor(t, "the message on two.test", func() bool {
		_, err := bob.GetEvent(c, room, sent.EventID)
		return err == nil
	})
	if err := bob.SendReceipt(c, room, sent.EventID, event.ReceiptTypeReadPrivate, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.SendReceipt(c, room, sent.EventID, event.ReceiptTypeRead, map[string]any{"thread_id": "main"}); err != nil {
		t.Fatal(err)
	}
	var seen []map[string]map[string]map[string]any
	resp := syncWaiting(t, alice, aliceSince, "bob's receipt, across servers", func(r *mautrix.RespSync) bool {
		rs := receiptsIn(r, room)
		seen = append(seen, rs[sent.EventID.String()])
		_, ok := rs[sent.EventID.String()]["m.read"][bob.UserID.String()]
		return ok
	})
	got := receiptsIn(resp, room)[sent.EventID.String()]["m.read"][bob.UserID.String()]
	if got["thread_id"] != "main" || got["ts"] == nil {
		t.Fatalf("bob's receipt on one.test: %v, want thread_id main and a ts", got)
	}
	for _, byType := range seen {
		if _, ok := byType["m.read.private"]; ok {
			t.Fatalf("bob's private receipt crossed to one.test: %v", byType)
		}
	}
}
