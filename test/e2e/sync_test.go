package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// syncOnce runs one /sync with the client's credentials.
func syncOnce(t *testing.T, c *mautrix.Client, since string, timeout time.Duration) *mautrix.RespSync {
	t.Helper()
	cctx, cancel := context.WithTimeout(context.Background(), timeout+20*time.Second)
	defer cancel()
	resp, err := c.SyncRequest(cctx, int(timeout.Milliseconds()), since, "", false, "")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp
}

func bodies(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		if b, ok := e.Content.Raw["body"].(string); ok {
			out = append(out, b)
		}
	}
	return out
}

// TestSyncDirectChat: the friend-request flow over /sync — the invite shows
// up in rooms.invite, the join and each message reach the other side within
// one long-poll — on SQLite and PostgreSQL.
func TestSyncDirectChat(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")

		aliceInit := syncOnce(t, alice, "", 0)
		bobInit := syncOnce(t, bob, "", 0)
		if len(bobInit.Rooms.Invite) != 0 || len(bobInit.Rooms.Join) != 0 {
			t.Fatalf("bob starts with rooms: %+v", bobInit.Rooms)
		}

		// Bob long-polls; alice's invite must end it.
		bobNext := make(chan *mautrix.RespSync, 1)
		go func() { bobNext <- syncOnce(t, bob, bobInit.NextBatch, 10*time.Second) }()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		dm, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			Preset:   "trusted_private_chat",
			IsDirect: true,
			Invite:   []id.UserID{bob.UserID},
		})
		if err != nil {
			t.Fatal(err)
		}
		inv := <-bobNext
		if time.Since(start) > 5*time.Second {
			t.Fatalf("invite took %v to arrive", time.Since(start))
		}
		room, ok := inv.Rooms.Invite[dm.RoomID]
		if !ok {
			t.Fatalf("invite not in rooms.invite: %+v", inv.Rooms)
		}
		sawInvite := false
		for _, e := range room.State.Events {
			if e.Type == event.StateMember && e.GetStateKey() == string(bob.UserID) &&
				e.Content.Raw["membership"] == "invite" && e.Content.Raw["is_direct"] == true {
				sawInvite = true
			}
		}
		if !sawInvite {
			t.Fatal("stripped state lacks bob's direct invite")
		}

		// Alice long-polls; bob's join (the accepted friend request) ends it.
		aliceSince := syncOnce(t, alice, aliceInit.NextBatch, 0).NextBatch
		aliceNext := make(chan *mautrix.RespSync, 1)
		go func() { aliceNext <- syncOnce(t, alice, aliceSince, 10*time.Second) }()
		time.Sleep(100 * time.Millisecond)
		if _, err := bob.JoinRoomByID(ctx(t), dm.RoomID); err != nil {
			t.Fatal(err)
		}
		got := <-aliceNext
		joined := false
		for _, e := range got.Rooms.Join[dm.RoomID].Timeline.Events {
			if e.Type == event.StateMember && e.GetStateKey() == string(bob.UserID) && e.Content.Raw["membership"] == "join" {
				joined = true
			}
		}
		if !joined {
			t.Fatalf("alice did not see bob join: %+v", got.Rooms.Join)
		}
		aliceSince = got.NextBatch

		// Bob's first sync after joining has the room with full state.
		bobJoined := syncOnce(t, bob, inv.NextBatch, 0)
		jr, ok := bobJoined.Rooms.Join[dm.RoomID]
		if !ok || len(jr.State.Events)+len(jr.Timeline.Events) < 5 {
			t.Fatalf("bob's joined room: %+v", bobJoined.Rooms)
		}
		if _, ok := bobJoined.Rooms.Invite[dm.RoomID]; ok {
			t.Fatal("room still under invite after joining")
		}
		bobSince := bobJoined.NextBatch

		// Messages both ways, each within one long-poll.
		for i, pair := range []struct {
			from, to *mautrix.Client
			since    *string
		}{{bob, alice, &aliceSince}, {alice, bob, &bobSince}, {bob, alice, &aliceSince}} {
			next := make(chan *mautrix.RespSync, 1)
			// Catch up first, so the long-poll waits for this message only.
			since := syncOnce(t, pair.to, *pair.since, 0).NextBatch
			go func() { next <- syncOnce(t, pair.to, since, 10*time.Second) }()
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			body := "message " + string(rune('A'+i))
			if _, err := sendTextTxn(ctx(t), pair.from, dm.RoomID, body, "t"+body); err != nil {
				t.Fatal(err)
			}
			resp := <-next
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("message %d took %v", i, d)
			}
			if b := bodies(resp.Rooms.Join[dm.RoomID].Timeline.Events); len(b) != 1 || b[0] != body {
				t.Fatalf("message %d: got %v", i, b)
			}
			// One unread: the recipient's own message came before it.
			if u := resp.Rooms.Join[dm.RoomID].UnreadNotifications; u == nil || u.NotificationCount != 1 || u.HighlightCount != 0 {
				t.Fatalf("message %d: unread %+v, want 1 notification", i, u)
			}
			*pair.since = resp.NextBatch
		}

		// A mention highlights; the sender's own view counts nothing.
		if _, err := bob.SendMessageEvent(ctx(t), dm.RoomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "alice?",
			"m.mentions": map[string]any{"user_ids": []string{string(alice.UserID)}}}); err != nil {
			t.Fatal(err)
		}
		var mentioned *mautrix.RespSync
		for i := 0; i < 10; i++ {
			mentioned = syncOnce(t, alice, aliceSince, 5*time.Second)
			aliceSince = mentioned.NextBatch
			if len(bodies(mentioned.Rooms.Join[dm.RoomID].Timeline.Events)) > 0 {
				break
			}
		}
		if u := mentioned.Rooms.Join[dm.RoomID].UnreadNotifications; u == nil || u.NotificationCount != 2 || u.HighlightCount != 1 {
			t.Fatalf("after a mention: unread %+v, want 2 notifications, 1 highlight", u)
		}
		if u := syncOnce(t, bob, "", 0).Rooms.Join[dm.RoomID].UnreadNotifications; u == nil || u.NotificationCount != 0 {
			t.Fatalf("sender's own unread %+v, want 0", u)
		}

		// The sender's own sync carries its transaction ID.
		own := syncOnce(t, bob, "", 0)
		foundTxn := false
		for _, e := range own.Rooms.Join[dm.RoomID].Timeline.Events {
			if e.Unsigned.TransactionID == "tmessage A" {
				foundTxn = true
			}
		}
		if !foundTxn {
			t.Fatal("no transaction_id on the sender's own event")
		}

		// A sync with nothing new waits for its timeout, then returns empty.
		start = time.Now()
		quiet := syncOnce(t, alice, aliceSince, 300*time.Millisecond)
		if time.Since(start) < 250*time.Millisecond || len(quiet.Rooms.Join) != 0 {
			t.Fatalf("quiet sync returned after %v with %+v", time.Since(start), quiet.Rooms.Join)
		}

		// Bob leaves (friend deleted): alice sees it; bob gets rooms.leave.
		if _, err := bob.LeaveRoom(ctx(t), dm.RoomID); err != nil {
			t.Fatal(err)
		}
		// Sync until the leave arrives (the stream may first deliver what
		// came before it).
		var left *mautrix.RespSync
		for i := 0; i < 10; i++ {
			left = syncOnce(t, bob, bobSince, 5*time.Second)
			bobSince = left.NextBatch
			if _, ok := left.Rooms.Leave[dm.RoomID]; ok {
				break
			}
		}
		if _, ok := left.Rooms.Leave[dm.RoomID]; !ok {
			t.Fatalf("no rooms.leave for bob: %+v", left.Rooms)
		}
		sawLeave := false
		for i := 0; i < 10 && !sawLeave; i++ {
			resp := syncOnce(t, alice, aliceSince, 5*time.Second)
			aliceSince = resp.NextBatch
			if jr, ok := resp.Rooms.Join[dm.RoomID]; ok {
				for _, e := range jr.Timeline.Events {
					if e.Type == event.StateMember && e.GetStateKey() == string(bob.UserID) && e.Content.Raw["membership"] == "leave" {
						sawLeave = true
					}
				}
			}
		}
		if !sawLeave {
			t.Fatal("alice did not see bob leave")
		}
	})
}

// TestHistory pages a room's history back to its creation and forward again
// with no gaps or duplicates.
func TestHistory(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 45
		for i := 0; i < n; i++ {
			if _, err := alice.SendText(ctx(t), room.RoomID, "m"+string(rune('0'+i/10))+string(rune('0'+i%10))); err != nil {
				t.Fatal(err)
			}
		}
		// Wait until the sync stream has everything.
		deadline := time.Now().Add(10 * time.Second)
		var total int
		for time.Now().Before(deadline) {
			resp, err := alice.Messages(ctx(t), room.RoomID, "", "", mautrix.DirectionBackward, nil, 1000)
			if err != nil {
				t.Fatal(err)
			}
			total = len(resp.Chunk)
			if len(bodies(resp.Chunk)) == n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		var back []*event.Event
		from := ""
		for pages := 0; pages < 100; pages++ {
			resp, err := alice.Messages(ctx(t), room.RoomID, from, "", mautrix.DirectionBackward, nil, 7)
			if err != nil {
				t.Fatal(err)
			}
			back = append(back, resp.Chunk...)
			if resp.End == "" {
				break
			}
			from = resp.End
		}
		if len(back) != total {
			t.Fatalf("paged back %d events, room has %d", len(back), total)
		}
		if back[len(back)-1].Type != event.StateCreate {
			t.Fatalf("history does not end at the create event: %s", back[len(back)-1].Type)
		}
		seen := map[id.EventID]bool{}
		for _, e := range back {
			if seen[e.ID] {
				t.Fatalf("duplicate %s", e.ID)
			}
			seen[e.ID] = true
		}
		b := bodies(back)
		for i := 0; i < n; i++ {
			want := "m" + string(rune('0'+(n-1-i)/10)) + string(rune('0'+(n-1-i)%10))
			if b[i] != want {
				t.Fatalf("backwards message %d = %s, want %s", i, b[i], want)
			}
		}
		// Forward again from the start.
		var fwd []*event.Event
		from = ""
		for pages := 0; pages < 100; pages++ {
			resp, err := alice.Messages(ctx(t), room.RoomID, from, "", mautrix.DirectionForward, nil, 6)
			if err != nil {
				t.Fatal(err)
			}
			fwd = append(fwd, resp.Chunk...)
			if resp.End == "" {
				break
			}
			from = resp.End
		}
		if len(fwd) != total || fwd[0].Type != event.StateCreate {
			t.Fatalf("forward: %d events (want %d), first %s", len(fwd), total, fwd[0].Type)
		}
		for i := range fwd {
			if fwd[i].ID != back[len(back)-1-i].ID {
				t.Fatalf("forward and backward differ at %d", i)
			}
		}
		// A non-member may not read.
		eve := register(t, srv, "eve", "long enough")
		if _, err := eve.Messages(ctx(t), room.RoomID, "", "", mautrix.DirectionBackward, nil, 10); err == nil {
			t.Fatal("non-member read history")
		}
	})
}

// TestSyncAccountData: account data reaches /sync — global under
// account_data, per room inside the joined room — and a long-poll wakes for
// it.
func TestSyncAccountData(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.SetAccountData(ctx(t), "m.direct", map[string]any{"@bob:localhost": []string{string(room.RoomID)}}); err != nil {
			t.Fatal(err)
		}
		// The sync stream follows the roomserver asynchronously: sync until
		// the new room is there.
		init := syncOnce(t, alice, "", 0)
		for i := 0; i < 50; i++ {
			if jr, ok := init.Rooms.Join[room.RoomID]; ok && len(jr.Timeline.Events) >= 6 {
				break
			}
			time.Sleep(20 * time.Millisecond)
			init = syncOnce(t, alice, "", 0)
		}
		found := false
		for _, e := range init.AccountData.Events {
			if e.Type.Type == "m.direct" {
				found = true
			}
		}
		if !found {
			t.Fatalf("initial sync lacks m.direct: %+v", init.AccountData)
		}
		next := make(chan *mautrix.RespSync, 1)
		go func() { next <- syncOnce(t, alice, init.NextBatch, 10*time.Second) }()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		tags := map[string]any{"tags": map[string]any{"u.work": map[string]any{}}}
		if err := alice.SetRoomAccountData(ctx(t), room.RoomID, "m.tag", tags); err != nil {
			t.Fatal(err)
		}
		got := <-next
		if time.Since(start) > 2*time.Second {
			t.Fatalf("account data took %v", time.Since(start))
		}
		jr, ok := got.Rooms.Join[room.RoomID]
		if !ok || len(jr.AccountData.Events) != 1 || jr.AccountData.Events[0].Type.Type != "m.tag" {
			b, _ := json.Marshal(got.Rooms.Join)
			t.Fatalf("room account data not in sync: %s", b)
		}
		if len(got.AccountData.Events) != 0 {
			t.Fatalf("unchanged global account data repeated: %+v", got.AccountData.Events)
		}
		// Nothing new: a short poll returns empty.
		quiet := syncOnce(t, alice, got.NextBatch, 200*time.Millisecond)
		if len(quiet.Rooms.Join) != 0 || len(quiet.AccountData.Events) != 0 {
			t.Fatalf("repeated data: %+v", quiet)
		}
	})
}

// TestSyncVisibilityAndLazyLoading: a user who joins a room with "joined"
// history visibility sees nothing from before the join; lazy-loading sends
// only the member events of the timeline's senders.
func TestSyncVisibilityAndLazyLoading(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	carol := register(t, srv, "carol", "long enough")
	room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat",
		InitialState: historyVisibility("joined")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.JoinRoomByID(ctx(t), room.RoomID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(ctx(t), room.RoomID, "before bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoomByID(ctx(t), room.RoomID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendText(ctx(t), room.RoomID, "bob is here"); err != nil {
		t.Fatal(err)
	}
	var resp *mautrix.RespSync
	for i := 0; i < 100; i++ {
		resp = syncOnce(t, bob, "", 0)
		if jr := resp.Rooms.Join[room.RoomID]; jr != nil {
			if b := bodies(jr.Timeline.Events); len(b) > 0 && b[len(b)-1] == "bob is here" {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	jr := resp.Rooms.Join[room.RoomID]
	if jr == nil {
		t.Fatal("bob's sync never showed the room")
	}
	for _, b := range bodies(jr.Timeline.Events) {
		if b == "before bob" {
			t.Fatal("bob sees a message from before his join in a joined-visibility room")
		}
	}
	// Lazy loading: carol sent nothing in bob's timeline, so her member
	// event is not in the state.
	filter := `{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":2}}}`
	r := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/sync?filter="+url.QueryEscape(filter), bob.AccessToken, nil)
	joinSection, _ := r.Body["rooms"].(map[string]any)["join"].(map[string]any)
	roomJSON, _ := joinSection[string(room.RoomID)].(map[string]any)
	js := toJSON(roomJSON["state"])
	if r.Status != 200 || roomJSON == nil || strings.Contains(js, string(carol.UserID)) {
		t.Fatalf("lazy-loaded state holds carol's member event: %d %s", r.Status, js)
	}
	full := syncOnce(t, bob, "", 0)
	if !strings.Contains(toJSON(full.Rooms.Join[room.RoomID].State), string(carol.UserID)) {
		t.Fatal("without lazy loading carol's member event is missing")
	}
}

// TestMembersAt: /members as of a sync token, and as of the requester's
// leave once they left.
func TestMembersAt(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		dave := register(t, srv, "dave", "long enough")
		erin := register(t, srv, "erin", "long enough")
		room := publicRoom(t, alice, bob)
		members := func(c *mautrix.Client, query string) map[string]string {
			t.Helper()
			var out map[string]string
			for i := 0; i < 100; i++ {
				members := srv.ClientURL() + "/_matrix/client/v3/rooms/" + url.PathEscape(string(room)) + "/members"
				r := do(t, "GET", members+query, c.AccessToken, nil)
				if r.Status != 200 {
					t.Fatalf("members%s: %d %v", query, r.Status, r.Body)
				}
				out = map[string]string{}
				for _, e := range r.Body["chunk"].([]any) {
					ev := e.(map[string]any)
					out[ev["state_key"].(string)] = ev["content"].(map[string]any)["membership"].(string)
				}
				if len(out) >= 2 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			return out
		}
		var token string
		for i := 0; i < 100; i++ {
			s := syncOnce(t, bob, "", 0)
			token = s.NextBatch
			if jr := s.Rooms.Join[room]; jr != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := dave.JoinRoomByID(ctx(t), room); err != nil {
			t.Fatal(err)
		}
		// Wait for dave's join to reach the stream.
		for i := 0; i < 100 && len(members(alice, "")) < 3; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if now := members(alice, ""); len(now) != 3 {
			t.Fatalf("members now: %v", now)
		}
		if then := members(alice, "?at="+url.QueryEscape(token)); len(then) != 2 || then[string(dave.UserID)] != "" {
			t.Fatalf("members at the earlier token: %v", then)
		}
		if _, err := bob.LeaveRoom(ctx(t), room); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && members(alice, "")[string(bob.UserID)] != "leave"; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := erin.JoinRoomByID(ctx(t), room); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100 && len(members(alice, "")) < 4; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		asBob := members(bob, "")
		if asBob[string(erin.UserID)] != "" || asBob[string(bob.UserID)] != "leave" {
			t.Fatalf("bob sees members after his leave: %v", asBob)
		}
		if joined := members(alice, "?membership=join"); len(joined) != 3 || joined[string(bob.UserID)] != "" {
			t.Fatalf("membership=join: %v", joined)
		}
		if notJoined := members(alice, "?not_membership=join"); len(notJoined) != 1 {
			t.Fatalf("not_membership=join: %v", notJoined)
		}
		eve := register(t, srv, "eve", "long enough")
		r := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/rooms/"+url.PathEscape(string(room))+"/members", eve.AccessToken, nil)
		if r.Status != 403 {
			t.Fatalf("non-member: %d %v", r.Status, r.Body)
		}
	})
}
