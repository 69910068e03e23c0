package e2e

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// historyPage is one raw /messages answer: the keys as sent.
type historyPage struct {
	start, end string
	hasEnd     bool
	events     []map[string]any
}

// messagesPage asks srvURL's /messages backwards from `from` and keeps the
// answer's keys as they came.
func messagesPage(t *testing.T, srvURL, token string, roomID id.RoomID, from string, limit int) historyPage {
	t.Helper()
	q := url.Values{"dir": {"b"}, "limit": {fmt.Sprint(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	r := do(t, "GET", srvURL+"/_matrix/client/v3/rooms/"+url.PathEscape(roomID.String())+"/messages?"+q.Encode(), token, nil)
	if r.Status != 200 {
		t.Fatalf("/messages from %q: %d %v", from, r.Status, r.Body)
	}
	p := historyPage{}
	p.start, _ = r.Body["start"].(string)
	var end any
	end, p.hasEnd = r.Body["end"]
	p.end, _ = end.(string)
	chunk, _ := r.Body["chunk"].([]any)
	for _, e := range chunk {
		m, _ := e.(map[string]any)
		p.events = append(p.events, m)
	}
	return p
}

// historyIDs pages a room back to its start (pages of 100) and returns the
// event IDs newest first, with the pages.
func historyIDs(t *testing.T, srvURL, token string, roomID id.RoomID, from string) ([]string, []historyPage) {
	t.Helper()
	var ids []string
	var pages []historyPage
	for range 40 {
		p := messagesPage(t, srvURL, token, roomID, from, 100)
		if from != "" && p.start != from {
			t.Fatalf("page from %q starts at %q", from, p.start)
		}
		pages = append(pages, p)
		for _, e := range p.events {
			ids = append(ids, e["event_id"].(string))
		}
		if !p.hasEnd {
			return ids, pages
		}
		if p.end == "" || len(p.events) == 0 {
			t.Fatalf("a page with end %q and %d events", p.end, len(p.events))
		}
		from = p.end
	}
	t.Fatal("more than 40 pages")
	return nil, nil
}

// TestFederationBackfill1000: alice of one says 1,000 things before bob of
// two joins. Bob pages /messages back from his first sync's prev_batch,
// 100 at a time: two fetches the history from one on demand and bob gets
// every event of the room exactly once, in the order one has them, down to
// the room's creation; the page after it is empty and has no `end`. The tokens are
// positive stream positions (s123) for what two had, negative ones (s-123)
// for what it backfilled. An incremental sync after the paging shows none
// of the history; a second pass reads it again without asking one. Carol of
// three, joining later, gets the same history though two, which has it only
// as backfilled history, may be asked too.
func TestFederationBackfill1000(t *testing.T) {
	t.Parallel() // one of the longest: runs beside the other long ones once the serial tests are done
	f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test", "two.test", "three.test")
	one, two, three := f.servers["one.test"], f.servers["two.test"], f.servers["three.test"]
	alice := register(t, one, "alice", "long enough")
	bob := register(t, two, "bob", "long enough")
	carol := register(t, three, "carol", "long enough")
	// 1,000 sends take longer than ctx's 30 s under -race on a busy machine.
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		if _, err := alice.SendText(c, room.RoomID, fmt.Sprintf("old %04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// One's own view: the whole room, newest first.
	oneIDs, _ := historyIDs(t, one.ClientURL(), alice.AccessToken, room.RoomID, "")

	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	var first *mautrix.RespSync
	waitFor(t, "the room in bob's sync", func() bool {
		first = syncOnce(t, bob, "", 0)
		_, ok := first.Rooms.Join[room.RoomID]
		return ok
	})
	tl := first.Rooms.Join[room.RoomID].Timeline
	if len(bodies(tl.Events)) != 0 || !strings.HasPrefix(tl.PrevBatch, "s") || strings.HasPrefix(tl.PrevBatch, "s-") {
		t.Fatalf("bob's first sync: %d messages, prev_batch %q", len(bodies(tl.Events)), tl.PrevBatch)
	}

	got, pages := historyIDs(t, two.ClientURL(), bob.AccessToken, room.RoomID, tl.PrevBatch)
	// Bob's history from before his sync's timeline (his join) is one's,
	// each event once, in one's order.
	want := oneIDs
	if len(want) < n+5 {
		t.Fatalf("one's own history: %d events", len(want))
	}
	if !slices.Equal(got, want) {
		d := firstDiff(got, want)
		t.Fatalf("bob's history: %d events, want %d; first difference at %d", len(got), len(want), d)
	}
	// The page that reaches the room's creation still has an end (as
	// Synapse's; Complement's TestRoomImageRoundtrip wants one with every
	// non-empty chunk): the page from there is empty, without one.
	if len(pages) < 3 {
		t.Fatalf("%d pages", len(pages))
	}
	last, create := pages[len(pages)-1], pages[len(pages)-2]
	if len(last.events) != 0 || last.hasEnd {
		t.Fatalf("the page after the room's creation: %d events, end %q", len(last.events), last.end)
	}
	if typ := create.events[len(create.events)-1]["type"]; typ != "m.room.create" {
		t.Fatalf("the last non-empty page ends with %v, not the room's creation", typ)
	}
	negative := 0
	for _, p := range pages[:len(pages)-2] {
		if strings.HasPrefix(p.end, "s-") {
			negative++
		}
	}
	// Bob's server had none of it: every page but the first, whose end may
	// still be a live position, ends at a backfilled one.
	if negative < len(pages)-3 || !strings.HasPrefix(create.end, "s-") {
		t.Fatalf("%d of %d pages end at a backfilled (negative) position: %v", negative, len(pages)-2, pageEnds(pages))
	}

	t.Logf("page ends: %v", pageEnds(pages))
	// Sync after the paging: none of the history is new.
	next := syncOnce(t, bob, first.NextBatch, 0)
	if jr, ok := next.Rooms.Join[room.RoomID]; ok && len(jr.Timeline.Events) != 0 {
		t.Fatalf("bob's incremental sync shows %d events after the paging", len(jr.Timeline.Events))
	}
	// Carol of three joins after bob: her server asks one (the creator's)
	// first; two has the history only as backfilled outliers, which it
	// does not serve, and a server with nothing older is passed over.
	if _, err := carol.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	carolIDs, _ := historyIDs(t, three.ClientURL(), carol.AccessToken, room.RoomID, "")
	if len(carolIDs) < len(want)+2 || !slices.Equal(carolIDs[len(carolIDs)-len(want):], want) {
		t.Fatalf("carol's history: %d events, want the %d before bob's join and more", len(carolIDs), len(want))
	}
	// The history is two's own now: the same again with one stopped.
	f.stop(t, "one.test")
	again, _ := historyIDs(t, two.ClientURL(), bob.AccessToken, room.RoomID, tl.PrevBatch)
	if !slices.Equal(again, want) {
		t.Fatalf("bob's history with one stopped: %d events, want %d", len(again), len(want))
	}
}

// pageEnds lists the pages' end tokens.
func pageEnds(pages []historyPage) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p.end)
	}
	return out
}

// TestFederationTimestampToEvent: bob of two joins alice's room on one
// after her two messages; his server has none of the history, so
// timestamp_to_event for a time before his join asks one
// (/v1/timestamp_to_event), backfills the answer and gives it: forwards
// from before the first message, the first; backwards from between the
// second and the join, the second. /context then works on it and /messages
// from its start reaches the first.
func TestFederationTimestampToEvent(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	tick := func() int64 {
		time.Sleep(5 * time.Millisecond)
		defer time.Sleep(5 * time.Millisecond)
		return time.Now().UnixMilli()
	}
	beforeA := tick()
	a, err := alice.SendText(c, room.RoomID, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := alice.SendText(c, room.RoomID, "b")
	if err != nil {
		t.Fatal(err)
	}
	afterB := tick()
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  mautrix.Direction
		ts   int64
		want id.EventID
	}{
		{mautrix.DirectionForward, beforeA, a.EventID},
		{mautrix.DirectionBackward, afterB, b.EventID},
	} {
		got, err := bob.TimestampToEvent(c, room.RoomID, time.UnixMilli(tc.ts), tc.dir)
		if err != nil || got.EventID != tc.want {
			t.Fatalf("dir %c from %d: %+v %v, want %s", tc.dir, tc.ts, got, err, tc.want)
		}
	}
	cr := do(t, "GET", bob.HomeserverURL.String()+"/_matrix/client/v3/rooms/"+url.PathEscape(room.RoomID.String())+
		"/context/"+url.PathEscape(b.EventID.String())+"?limit=0", bob.AccessToken, nil)
	start, _ := cr.Body["start"].(string)
	if cr.Status != 200 || !strings.HasPrefix(start, "s-") {
		t.Fatalf("/context of the event found: %d %v", cr.Status, cr.Body)
	}
	msgs, err := bob.Messages(c, room.RoomID, start, "", mautrix.DirectionBackward, nil, 10)
	if err != nil || len(msgs.Chunk) == 0 || msgs.Chunk[0].ID != a.EventID {
		t.Fatalf("/messages from before the event found (%s): %v", start, err)
	}
}

// TestFederationInviteBeforeEarlierEvent: two misses alice's topic change
// (stopped meanwhile; one's queue for it then waits out its backoff) and
// gets her invite of carol first, by /invite, at once. Two fetches the
// invite's prev event (the topic) before taking the invite in, so bob's
// history has them in the room's order: the topic, then the invite.
func TestFederationInviteBeforeEarlierEvent(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	f.stop(t, "two.test")
	topic, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", map[string]any{"topic": "while two was away"})
	if err != nil {
		t.Fatal(err)
	}
	f.restart(t, "two.test")
	two := f.servers["two.test"]
	bob.HomeserverURL = mustParse(t, two.ClientURL())
	carol := register(t, two, "carol", "long enough")
	if _, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: carol.UserID}); err != nil {
		t.Fatal(err)
	}
	// Bob's history, newest first, once both are in it: the invite, then
	// the topic.
	var got []*event.Event
	waitFor(t, "the invite and the topic in bob's history", func() bool {
		msgs, err := bob.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 10)
		if err != nil {
			return false
		}
		got = msgs.Chunk
		invited, topicSeen := false, false
		for _, e := range got {
			invited = invited || e.Type == event.StateMember && e.GetStateKey() == carol.UserID.String()
			topicSeen = topicSeen || e.ID == topic.EventID
		}
		return invited && topicSeen
	})
	if got[0].GetStateKey() != carol.UserID.String() || got[1].ID != topic.EventID {
		t.Fatalf("bob's newest events %v: not the invite, then the topic %s", histEventIDs(got[:2]), topic.EventID)
	}
}
