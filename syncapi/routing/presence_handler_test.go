package routing_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi"
	"github.com/myelin-im/myelin/test/fixture"
)

func presencePath(userID string) string {
	return "/_matrix/client/v3/presence/" + url.PathEscape(userID) + "/status"
}

// presenceBody is the part of a /sync answer the presence tests look at.
type presenceBody struct {
	NextBatch string `json:"next_batch"`
	Presence  struct {
		Events []struct {
			Type    string         `json:"type"`
			Sender  string         `json:"sender"`
			Content map[string]any `json:"content"`
		} `json:"events"`
	} `json:"presence"`
}

// of returns the content of sender's m.presence event, or nil.
func (b presenceBody) of(sender string) map[string]any {
	for _, ev := range b.Presence.Events {
		if ev.Type == "m.presence" && ev.Sender == sender {
			return ev.Content
		}
	}
	return nil
}

func syncPresence(t *testing.T, f *fixture.Fixture, u *fixture.User, query string) presenceBody {
	t.Helper()
	res := f.Do(t, http.MethodGet, syncPath+"?"+query, u.Token, nil)
	res.Want(t, http.StatusOK)
	var b presenceBody
	res.Decode(t, &b)
	return b
}

// TestPutPresence: only one's own presence can be set, to one of the three
// states, with an optional status message of bounded length.
func TestPutPresence(t *testing.T) {
	e := newEnv(t)
	own := presencePath(e.alice.ID)
	cases := append(authCases(own),
		forbidden("another user", e.alice.Token, presencePath(e.bob.ID)),
		reqCase{name: "missing presence", token: e.alice.Token, path: own, body: map[string]any{"status_msg": "x"},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		reqCase{name: "unknown state", token: e.alice.Token, path: own, body: map[string]any{"presence": "busy"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "status_msg not a string", token: e.alice.Token, path: own,
			body: map[string]any{"presence": "online", "status_msg": 3}, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		reqCase{name: "status_msg too long", token: e.alice.Token, path: own,
			body:   map[string]any{"presence": "online", "status_msg": strings.Repeat("x", 5000)},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		reqCase{name: "not JSON", token: e.alice.Token, path: own, body: "{", status: http.StatusBadRequest, errcode: "M_NOT_JSON"},
		reqCase{name: "online with a message", token: e.alice.Token, path: own,
			body: map[string]any{"presence": "online", "status_msg": "here"}, status: http.StatusOK},
	)
	run(t, e.Fixture, http.MethodPut, cases)
}

// TestGetPresence: one's own presence and that of users sharing a room
// are readable; a user sharing none is refused; an unknown one is offline.
func TestGetPresence(t *testing.T) {
	e := newEnv(t)
	e.Do(t, http.MethodPut, presencePath(e.alice.ID), e.alice.Token,
		map[string]any{"presence": "online", "status_msg": "here"}).Want(t, http.StatusOK)
	isOnline := func(t *testing.T, res *fixture.Response) {
		c := res.JSON()
		if c["presence"] != "online" || c["status_msg"] != "here" || c["currently_active"] != true {
			t.Fatalf("presence %v, want online, here, currently active", c)
		}
		if ago, ok := c["last_active_ago"].(float64); !ok || ago < 0 || ago > 60_000 {
			t.Fatalf("last_active_ago %v, want a few ms", c["last_active_ago"])
		}
	}
	cases := append(authCases(presencePath(e.alice.ID)),
		reqCase{name: "own", token: e.alice.Token, path: presencePath(e.alice.ID), status: http.StatusOK, check: isOnline},
		reqCase{name: "sharing a room", token: e.bob.Token, path: presencePath(e.alice.ID), status: http.StatusOK, check: isOnline},
		forbidden("sharing no room", e.carol.Token, presencePath(e.alice.ID)),
		forbidden("left the shared room", e.dave.Token, presencePath(e.alice.ID)),
		invalidParam("not a user ID", e.alice.Token, presencePath("alice")),
		reqCase{name: "never set", token: e.alice.Token, path: presencePath(e.bob.ID), status: http.StatusOK,
			check: func(t *testing.T, res *fixture.Response) {
				if c := res.JSON(); c["presence"] != "offline" {
					t.Fatalf("presence %v, want offline", c)
				}
			}},
	)
	run(t, e.Fixture, http.MethodGet, cases)
}

// TestSyncPresence: /sync carries the presence of users sharing a room —
// all of it in an initial sync, the changes after the token's presence
// position in an incremental one, which a change ends early — and never
// that of others; set_presence=unavailable marks the syncing user idle.
func TestSyncPresence(t *testing.T) {
	e := newEnv(t)
	put := func(u *fixture.User, body map[string]any) {
		e.Do(t, http.MethodPut, presencePath(u.ID), u.Token, body).Want(t, http.StatusOK)
	}
	put(e.alice, map[string]any{"presence": "online", "status_msg": "here"})
	first := syncPresence(t, e.Fixture, e.bob, "timeout=0")
	if c := first.of(e.alice.ID); c == nil || c["presence"] != "online" || c["status_msg"] != "here" {
		t.Fatalf("bob's initial sync: alice's presence %v, want online, here", c)
	}
	if c := first.of(e.bob.ID); c == nil || c["presence"] != "online" {
		t.Fatalf("bob's initial sync: his own presence %v, want online (his sync brought him online)", c)
	}
	if c := syncPresence(t, e.Fixture, e.carol, "timeout=0").of(e.alice.ID); c != nil {
		t.Fatalf("carol, sharing no room with alice, saw her presence %v", c)
	}
	// Nothing new: the long-poll waits; a change ends it.
	quiet := syncPresence(t, e.Fixture, e.bob, "timeout=0&since="+url.QueryEscape(first.NextBatch))
	if len(quiet.Presence.Events) != 0 {
		t.Fatalf("incremental sync with no change carried %d presence events", len(quiet.Presence.Events))
	}
	got := make(chan presenceBody, 1)
	go func() {
		res := e.Do(t, http.MethodGet, syncPath+"?timeout=10000&since="+url.QueryEscape(quiet.NextBatch), e.bob.Token, nil)
		var b presenceBody
		res.Decode(t, &b)
		got <- b
	}()
	syncPresence(t, e.Fixture, e.alice, "timeout=0&set_presence=unavailable")
	b := <-got
	if c := b.of(e.alice.ID); c == nil || c["presence"] != "unavailable" {
		t.Fatalf("bob's long-poll: alice's presence %v, want unavailable", c)
	}
	if c := b.of(e.alice.ID); c["currently_active"] != nil {
		t.Fatalf("currently_active sent for an unavailable user: %v", c)
	}
	// The filter's presence section (spec: "Filtering").
	for _, tc := range []struct {
		name, filter string
		alice, bob   bool
	}{
		{"no types", `{"presence":{"types":[]}}`, false, false},
		{"not_types *", `{"presence":{"not_types":["m.*"]}}`, false, false},
		{"senders", `{"presence":{"senders":["` + e.alice.ID + `"]}}`, true, false},
		{"not_senders", `{"presence":{"not_senders":["` + e.alice.ID + `"]}}`, false, true},
		{"limit", `{"presence":{"limit":1}}`, false, false},
		{"empty", `{"presence":{}}`, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := syncPresence(t, e.Fixture, e.bob, "timeout=0&filter="+url.QueryEscape(tc.filter))
			if tc.name == "limit" {
				if len(b.Presence.Events) != 1 {
					t.Fatalf("%d events with limit 1", len(b.Presence.Events))
				}
				return
			}
			if (b.of(e.alice.ID) != nil) != tc.alice || (b.of(e.bob.ID) != nil) != tc.bob {
				t.Fatalf("alice's presence shown: %v (want %v), bob's: %v (want %v)",
					b.of(e.alice.ID) != nil, tc.alice, b.of(e.bob.ID) != nil, tc.bob)
			}
		})
	}
}

// TestPresenceDisabled: with presence off, PUT is accepted and ignored,
// GET answers offline and /sync carries no presence.
func TestPresenceDisabled(t *testing.T) {
	f := fixture.NewOn(t, sqltest.Open(t, sqlutil.SQLite))
	s, err := syncapi.New(context.Background(), f.ServerName, f.DB, f.Bus, f.Users, f.Rooms, nil, f.Router, f.Log,
		syncapi.WithPresence(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	room := f.Room(t, alice)
	f.Invite(t, alice, bob, room)
	f.Join(t, bob, room)
	waitJoined(t, s, bob.ID, room)
	f.Do(t, http.MethodPut, presencePath(alice.ID), alice.Token, map[string]any{"presence": "online", "status_msg": "x"}).
		Want(t, http.StatusOK)
	f.Do(t, http.MethodPut, presencePath(alice.ID), alice.Token, map[string]any{"presence": "busy"}).
		Want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	res := f.Do(t, http.MethodGet, presencePath(alice.ID), bob.Token, nil)
	res.Want(t, http.StatusOK)
	if c := res.JSON(); c["presence"] != "offline" || c["status_msg"] != nil {
		t.Fatalf("presence %v with presence disabled, want offline", c)
	}
	if b := syncPresence(t, f, bob, "timeout=0"); len(b.Presence.Events) != 0 {
		t.Fatalf("sync carried %d presence events with presence disabled", len(b.Presence.Events))
	}
}

// waitJoined waits until the sync component has seen userID join roomID.
func waitJoined(t *testing.T, s *syncapi.SyncAPI, userID, roomID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		pos := s.Notifier.Pos()
		if m, ok := s.Notifier.MembershipOf(userID, roomID); ok && m.Membership == "join" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s joining %s did not reach the sync stream within 5s", userID, roomID)
		}
		s.Notifier.WaitAdvance(ctx, pos)
	}
}

// TestPresenceOfNewPeers: a user's presence that did not change reaches
// the users who come to share a room with them: the room's members see
// the newcomer's, and the newcomer sees the members'.
func TestPresenceOfNewPeers(t *testing.T) {
	e := newEnv(t)
	bobTok := syncPresence(t, e.Fixture, e.bob, "timeout=0").NextBatch // bob online
	carolTok := syncPresence(t, e.Fixture, e.carol, "timeout=0").NextBatch
	bobTok = syncPresence(t, e.Fixture, e.bob, "timeout=0&since="+url.QueryEscape(bobTok)).NextBatch
	e.Invite(t, e.alice, e.carol, e.room)
	e.Join(t, e.carol, e.room)
	until := func(u *fixture.User, tok string, sender *fixture.User) {
		t.Helper()
		for range 20 {
			b := syncPresence(t, e.Fixture, u, "timeout=5000&since="+url.QueryEscape(tok))
			if c := b.of(sender.ID); c != nil {
				if c["presence"] != "online" {
					t.Fatalf("%s saw %s as %v, want online", u.ID, sender.ID, c)
				}
				return
			}
			tok = b.NextBatch
		}
		t.Fatalf("%s never saw the presence of %s", u.ID, sender.ID)
	}
	until(e.bob, bobTok, e.carol)
	until(e.carol, carolTok, e.bob)
}
