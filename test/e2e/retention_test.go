package e2e

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestRetentionAndLegalHold: two rooms keep messages for 1.5 s
// (m.room.retention); one is under legal hold. The purge job (every
// 100 ms) empties the other room's history but its latest message, while
// the held room keeps everything, even through a run an admin triggers;
// once the hold is released, the next run purges it too.
func TestRetentionAndLegalHold(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, sqltest.URL(t, sqlutil.SQLite))
	cfg.Retention = config.Retention{Enabled: true, PurgeInterval: config.Duration(100 * time.Millisecond)}
	srv := startServer(t, cfg)
	adm := sharedSecretRegister(t, srv, "auditor", "an auditor's password", true)
	admTok, _ := adm.Body["access_token"].(string)
	if admTok == "" {
		t.Fatalf("admin registration: %d %v", adm.Status, adm.Body)
	}
	alice := register(t, srv, "alice", "long enough")
	lifetime := 1500 * time.Millisecond
	retention := []*event.Event{{
		Type:     event.NewEventType("m.room.retention"),
		StateKey: ptr(""),
		Content:  event.Content{Raw: map[string]any{"max_lifetime": lifetime.Milliseconds()}},
	}}
	var held, open id.RoomID
	for _, r := range []*id.RoomID{&held, &open} {
		resp, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat", InitialState: retention})
		if err != nil {
			t.Fatal(err)
		}
		*r = resp.RoomID
	}
	holdURL := srv.ClientURL() + "/_synapse/admin/v1/rooms/" + url.PathEscape(string(held)) + "/legal_hold"
	r := do(t, "PUT", holdURL, admTok, map[string]any{"hold": true, "reason": "investigation 1"})
	if r.Status != 200 || r.Body["hold"] != true {
		t.Fatalf("placing the hold: %d %v", r.Status, r.Body)
	}
	for _, room := range []id.RoomID{held, open} {
		for _, body := range []string{"old 1", "old 2"} {
			if _, err := alice.SendText(ctx(t), room, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(lifetime + 100*time.Millisecond) // the old messages expire
	for _, room := range []id.RoomID{held, open} {
		if _, err := alice.SendText(ctx(t), room, "new"); err != nil {
			t.Fatal(err)
		}
	}

	waitBodies(t, alice, open, []string{"new"})
	runURL := srv.ClientURL() + "/_synapse/admin/v1/retention/run"
	if r := do(t, "POST", runURL, admTok, nil); r.Status != 200 || r.Body["held"] != float64(1) {
		t.Fatalf("retention run: %d %v", r.Status, r.Body)
	}
	if got := historyBodies(t, alice, held); !slices.Equal(got, []string{"new", "old 2", "old 1"}) {
		t.Fatalf("the held room's history is %q", got)
	}

	if r := do(t, "DELETE", holdURL, admTok, nil); r.Status != 200 || r.Body["hold"] != false {
		t.Fatalf("releasing the hold: %d %v", r.Status, r.Body)
	}
	if r := do(t, "POST", runURL, admTok, nil); r.Status != 200 || r.Body["held"] != float64(0) {
		t.Fatalf("retention run after the release: %d %v", r.Status, r.Body)
	}
	waitBodies(t, alice, held, []string{"new"})
}

// historyBodies are the message bodies of a room's history, newest first.
func historyBodies(t *testing.T, c *mautrix.Client, room id.RoomID) []string {
	t.Helper()
	resp, err := c.Messages(ctx(t), room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	return bodies(resp.Chunk)
}

// waitBodies waits until a room's history is want (the purge reaches the
// sync stream through the bus).
func waitBodies(t *testing.T, c *mautrix.Client, room id.RoomID, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := historyBodies(t, c, room)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's history is %q after 10s, want %q", room, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
