package routing_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

// ephemeralBody is the part of a /sync answer the typing and receipt
// tests look at.
type ephemeralBody struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Ephemeral struct {
				Events []struct {
					Type    string          `json:"type"`
					RoomID  string          `json:"room_id"`
					Content json.RawMessage `json:"content"`
				} `json:"events"`
			} `json:"ephemeral"`
			AccountData         struct{ Events []clientEvent } `json:"account_data"`
			UnreadNotifications map[string]int                 `json:"unread_notifications"`
		} `json:"join"`
	} `json:"rooms"`
}

// typing is the room's m.typing user_ids, and whether there was one.
func (b ephemeralBody) typing(roomID string) ([]string, bool) {
	for _, ev := range b.Rooms.Join[roomID].Ephemeral.Events {
		if ev.Type == "m.typing" {
			var c struct {
				UserIDs []string `json:"user_ids"`
			}
			_ = json.Unmarshal(ev.Content, &c)
			return c.UserIDs, true
		}
	}
	return nil, false
}

// receipts is the room's m.receipt content: event → type → user → data.
func (b ephemeralBody) receipts(roomID string) map[string]map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]map[string]any{}
	for _, ev := range b.Rooms.Join[roomID].Ephemeral.Events {
		if ev.Type == "m.receipt" {
			_ = json.Unmarshal(ev.Content, &out)
		}
	}
	return out
}

// syncEphemeral syncs as u after since (initial when ""), waiting up to 5 s
// for something new.
func syncEphemeral(t *testing.T, f *fixture.Fixture, u *fixture.User, since string) ephemeralBody {
	t.Helper()
	q := url.Values{"timeout": {"5000"}}
	if since != "" {
		q.Set("since", since)
	}
	res := f.Do(t, http.MethodGet, syncPath+"?"+q.Encode(), u.Token, nil)
	res.Want(t, http.StatusOK)
	var b ephemeralBody
	res.Decode(t, &b)
	for _, jr := range b.Rooms.Join {
		for _, ev := range jr.Ephemeral.Events {
			if ev.RoomID != "" {
				t.Fatalf("an ephemeral event carries room_id: %+v", ev)
			}
		}
	}
	return b
}

// syncUntil syncs as u from since until ok says the answer has what the
// test waits for (10 s at most), and returns that answer.
func syncUntil(t *testing.T, f *fixture.Fixture, u *fixture.User, since string, ok func(ephemeralBody) bool) ephemeralBody {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b := syncEphemeral(t, f, u, since)
		if ok(b) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /sync never had what was awaited; last: %+v", u.ID, b)
		}
		since = b.NextBatch
	}
}

func TestTypingHandler(t *testing.T) {
	e := newEnv(t)
	path := func(u *fixture.User) string { return roomPath(e.room, "typing/"+url.PathEscape(u.ID)) }
	cases := append(authCases(path(e.alice)),
		forbidden("another user's typing", e.bob.Token, path(e.alice)),
		forbidden("not in the room", e.carol.Token, path(e.carol)),
		forbidden("left the room", e.dave.Token, path(e.dave)),
		reqCase{name: "not JSON", token: e.alice.Token, path: path(e.alice), body: "nope",
			status: http.StatusBadRequest, errcode: "M_NOT_JSON"},
		reqCase{name: "typing missing", token: e.alice.Token, path: path(e.alice), body: map[string]any{"timeout": 1000},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		reqCase{name: "typing not a boolean", token: e.alice.Token, path: path(e.alice), body: map[string]any{"typing": "yes"},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		reqCase{name: "negative timeout", token: e.alice.Token, path: path(e.alice), body: map[string]any{"typing": true, "timeout": -1},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "starts typing", token: e.alice.Token, path: path(e.alice), body: map[string]any{"typing": true, "timeout": 30000},
			status: http.StatusOK},
	)
	bobSince := syncEphemeral(t, e.Fixture, e.bob, "").NextBatch
	run(t, e.Fixture, http.MethodPut, cases)

	b := syncUntil(t, e.Fixture, e.bob, bobSince, func(b ephemeralBody) bool { _, ok := b.typing(e.room); return ok })
	if users, _ := b.typing(e.room); !slices.Equal(users, []string{e.alice.ID}) {
		t.Fatalf("bob sees %v typing, want alice", users)
	}
	if users, ok := syncEphemeral(t, e.Fixture, e.bob, "").typing(e.room); !ok || !slices.Equal(users, []string{e.alice.ID}) {
		t.Fatalf("bob's initial sync shows %v typing (%v), want alice", users, ok)
	}
	if _, ok := syncEphemeral(t, e.Fixture, e.carol, "").Rooms.Join[e.room]; ok {
		t.Fatal("carol, not in the room, sees it")
	}
	e.Do(t, http.MethodPut, path(e.alice), e.alice.Token, map[string]any{"typing": false}).Want(t, http.StatusOK)
	b = syncUntil(t, e.Fixture, e.bob, b.NextBatch, func(b ephemeralBody) bool { _, ok := b.typing(e.room); return ok })
	if users, _ := b.typing(e.room); len(users) != 0 {
		t.Fatalf("bob sees %v typing after alice stopped", users)
	}
}

func TestReceiptHandler(t *testing.T) {
	e := newEnv(t)
	path := func(receiptType, eventID string) string {
		return roomPath(e.room, "receipt/"+receiptType+"/"+url.PathEscape(eventID))
	}
	read := path("m.read", e.msgs[1])
	bobSince := syncEphemeral(t, e.Fixture, e.bob, "").NextBatch
	cases := append(authCases(read),
		invalidParam("unknown receipt type", e.alice.Token, path("m.seen", e.msgs[1])),
		reqCase{name: "empty thread_id", token: e.alice.Token, path: read, body: map[string]any{"thread_id": ""},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "thread_id neither main nor an event", token: e.alice.Token, path: read, body: map[string]any{"thread_id": "x"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "thread_id not a string", token: e.alice.Token, path: read, body: map[string]any{"thread_id": 1},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		reqCase{name: "thread_id on the read marker", token: e.alice.Token, path: path("m.fully_read", e.msgs[1]),
			body: map[string]any{"thread_id": "main"}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		forbidden("not in the room", e.carol.Token, read),
		notFound("unknown event", e.alice.Token, path("m.read", "$nope")),
		notFound("another room's event", e.alice.Token, path("m.read", e.otherMsg)),
		reqCase{name: "public", token: e.alice.Token, path: read, body: map[string]any{}, status: http.StatusOK},
		reqCase{name: "private", token: e.alice.Token, path: path("m.read.private", e.msgs[2]), body: map[string]any{},
			status: http.StatusOK},
		reqCase{name: "main thread", token: e.alice.Token, path: path("m.read", e.msgs[0]), body: map[string]any{"thread_id": "main"},
			status: http.StatusOK},
		reqCase{name: "read marker", token: e.alice.Token, path: path("m.fully_read", e.msgs[1]), body: map[string]any{},
			status: http.StatusOK},
	)
	run(t, e.Fixture, http.MethodPost, cases)

	mine := syncEphemeral(t, e.Fixture, e.alice, "")
	rs := mine.receipts(e.room)
	if _, ok := rs[e.msgs[1]]["m.read"][e.alice.ID]; !ok {
		t.Fatalf("alice's public receipt missing from her sync: %v", rs)
	}
	if _, ok := rs[e.msgs[2]]["m.read.private"][e.alice.ID]; !ok {
		t.Fatalf("alice's private receipt missing from her sync: %v", rs)
	}
	if th := rs[e.msgs[0]]["m.read"][e.alice.ID]["thread_id"]; th != "main" {
		t.Fatalf("alice's main-thread receipt has thread_id %v", th)
	}
	if !hasFullyRead(mine, e.room, e.msgs[1]) {
		t.Fatal("the read marker is not in alice's room account data")
	}
	b := syncUntil(t, e.Fixture, e.bob, bobSince, func(b ephemeralBody) bool { return len(b.receipts(e.room)) > 0 })
	for ev, byType := range b.receipts(e.room) {
		if _, ok := byType["m.read.private"]; ok {
			t.Fatalf("bob sees a private receipt on %s: %v", ev, byType)
		}
	}
}

// hasFullyRead reports whether b's room account data has m.fully_read at
// eventID.
func hasFullyRead(b ephemeralBody, roomID, eventID string) bool {
	for _, ev := range b.Rooms.Join[roomID].AccountData.Events {
		if ev.Type == "m.fully_read" && ev.Content["event_id"] == eventID {
			return true
		}
	}
	return false
}

func TestReadMarkersHandler(t *testing.T) {
	e := newEnv(t)
	path := roomPath(e.room, "read_markers")
	both := map[string]any{"m.fully_read": e.msgs[1], "m.read": e.msgs[1]}
	cases := append(authCases(path),
		reqCase{name: "not in the room", token: e.carol.Token, path: path, body: both,
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		reqCase{name: "unknown event", token: e.alice.Token, path: path, body: map[string]any{"m.read": "$nope"},
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		reqCase{name: "not an event ID", token: e.alice.Token, path: path, body: map[string]any{"m.fully_read": "nope"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "marker not a string", token: e.alice.Token, path: path, body: map[string]any{"m.fully_read": 3},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		reqCase{name: "marker and receipt", token: e.alice.Token, path: path, body: both, status: http.StatusOK},
		reqCase{name: "private receipt", token: e.bob.Token, path: path, body: map[string]any{"m.read.private": e.msgs[2]},
			status: http.StatusOK},
	)
	run(t, e.Fixture, http.MethodPost, cases)
	b := syncEphemeral(t, e.Fixture, e.alice, "")
	if _, ok := b.receipts(e.room)[e.msgs[1]]["m.read"][e.alice.ID]; !ok || !hasFullyRead(b, e.room, e.msgs[1]) {
		t.Fatalf("alice's receipt or read marker missing: %v", b.receipts(e.room))
	}
	if _, ok := b.receipts(e.room)[e.msgs[2]]; ok {
		t.Fatal("alice sees bob's private receipt")
	}
}

// TestTypingWebSocket: the sync WebSocket carries typing as /sync does.
func TestTypingWebSocket(t *testing.T) {
	e := newEnv(t)
	ws := dialWS(t, e.Fixture, e.bob, "")
	_ = ws.frameRaw() // the initial sync
	e.Do(t, http.MethodPut, roomPath(e.room, "typing/"+url.PathEscape(e.alice.ID)), e.alice.Token,
		map[string]any{"typing": true}).Want(t, http.StatusOK)
	for i := 0; ; i++ {
		var b ephemeralBody
		if err := json.Unmarshal(ws.frameRaw(), &b); err != nil {
			t.Fatal(err)
		}
		if users, ok := b.typing(e.room); ok {
			if !slices.Equal(users, []string{e.alice.ID}) {
				t.Fatalf("the WebSocket shows %v typing, want alice", users)
			}
			return
		}
		if i == 5 {
			t.Fatal("no typing in five frames")
		}
	}
}
