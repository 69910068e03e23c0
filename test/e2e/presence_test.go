package e2e

import (
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// presenceOf returns the content of sender's m.presence event in a sync
// response, or nil.
func presenceOf(resp *mautrix.RespSync, sender id.UserID) map[string]any {
	for _, ev := range resp.Presence.Events {
		if ev.Type == event.EphemeralEventPresence && ev.Sender == sender {
			return ev.Content.Raw
		}
	}
	return nil
}

// syncUntilPresence long-polls c from since until sender's presence is
// want (and, when set, the status message msg); it returns the content.
func syncUntilPresence(t *testing.T, c *mautrix.Client, since string, sender id.UserID, want, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp := syncOnce(t, c, since, 5*time.Second)
		since = resp.NextBatch
		if p := presenceOf(resp, sender); p != nil && p["presence"] == want && (msg == "" || p["status_msg"] == msg) {
			return p
		}
	}
	t.Fatalf("%s never saw %s %s (%q)", c.UserID, sender, want, msg)
	return nil
}

// TestPresenceFederation: alice on one.test sets herself online with a
// status message; bob on two.test, sharing a room, sees it in /sync (an
// m.presence EDU) and by GET; then she goes idle and he sees that too.
func TestPresenceFederation(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			_, alice, bob := startPair(t, d)
			sharedRoom(t, "presence", alice, bob)
			c := ctx(t)
			since := syncOnce(t, bob, "", 0).NextBatch
			if err := alice.SetPresence(c, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "on a train"}); err != nil {
				t.Fatal(err)
			}
			p := syncUntilPresence(t, bob, since, alice.UserID, "online", "on a train")
			if ago, ok := p["last_active_ago"].(float64); !ok || ago < 0 || ago > 60_000 {
				t.Fatalf("last_active_ago %v, want a few seconds at most", p["last_active_ago"])
			}
			got, err := bob.GetPresence(c, alice.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Presence != event.PresenceOnline || got.StatusMsg != "on a train" {
				t.Fatalf("bob's GET of alice: %+v, want online, on a train", got)
			}
			since = syncOnce(t, bob, "", 0).NextBatch
			if err := alice.SetPresence(c, mautrix.ReqPresence{Presence: event.PresenceUnavailable}); err != nil {
				t.Fatal(err)
			}
			syncUntilPresence(t, bob, since, alice.UserID, "unavailable", "")
		})
	}
}

// TestPresenceDisabledE2E: with presence.enabled false, setting presence
// is accepted and has no effect: nothing in /sync, GET answers offline.
func TestPresenceDisabledE2E(t *testing.T) {
	cfg := testConfig(t, sqltest.URL(t, sqlutil.SQLite))
	cfg.Presence.Enabled = false
	srv := startServer(t, cfg)
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	publicRoom(t, alice, bob)
	c := ctx(t)
	since := syncOnce(t, bob, "", 0).NextBatch
	if err := alice.SetPresence(c, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "hidden"}); err != nil {
		t.Fatalf("setting presence while disabled: %v", err)
	}
	resp := syncOnce(t, bob, since, 2*time.Second)
	if len(resp.Presence.Events) != 0 {
		t.Fatalf("bob's sync carried presence with presence disabled: %d events", len(resp.Presence.Events))
	}
	got, err := bob.GetPresence(c, alice.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Presence != event.PresenceOffline || got.StatusMsg != "" {
		t.Fatalf("GET of alice with presence disabled: %+v, want offline", got)
	}
}
