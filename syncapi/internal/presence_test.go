package internal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// TestPresenceService, on both databases and the real durable bus: a local
// change is stored at the next position, published on PresenceTopic and
// wakes the users sharing a room; a remote update is stored once (a
// repeat that changes nothing visible is not), an invalid one never.
func TestPresenceService(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		store, err := storage.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bus.NewDurable(ctx, db, bus.Options{}, logrus.New(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		published := make(chan api.PresenceUpdate, 4)
		if _, err := b.Subscribe(ctx, api.PresenceTopic, "test", func(_ context.Context, m *bus.Message) error {
			var u api.PresenceUpdate
			if err := json.Unmarshal(m.Body, &u); err != nil {
				t.Error(err)
			}
			published <- u
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n := NewNotifier(1, []MemberRow{
			{RoomID: "!r:x", UserID: "@a:x", Membership: "join"},
			{RoomID: "!r:x", UserID: "@b:x", Membership: "join"},
		})
		p, err := NewPresence(ctx, true, store, b, n, time.Now, logrus.New())
		if err != nil {
			t.Fatal(err)
		}
		bobWakes := n.Wakes("@b:x")
		msg := "here"
		if err := p.Tracker.Set(ctx, "@a:x", api.PresenceOnline, &msg); err != nil {
			t.Fatal(err)
		}
		if p.Pos() != 1 || n.Wakes("@b:x") == bobWakes {
			t.Fatalf("after a local change: position %d (want 1), bob woken: %v", p.Pos(), n.Wakes("@b:x") != bobWakes)
		}
		select {
		case u := <-published:
			if u.UserID != "@a:x" || u.Presence != api.PresenceOnline || u.StatusMsg == nil || *u.StatusMsg != msg || !u.CurrentlyActive {
				t.Fatalf("published %+v", u)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the change was not published")
		}
		remote := api.PresenceUpdate{UserID: "@r:y", Presence: api.PresenceUnavailable, LastActiveTS: 5}
		for range 2 {
			if err := p.StoreRemote(ctx, remote); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.StoreRemote(ctx, api.PresenceUpdate{UserID: "@r:y", Presence: "busy"}); err != nil {
			t.Fatal(err)
		}
		if p.Pos() != 2 {
			t.Fatalf("position %d after one remote change sent twice and one invalid, want 2", p.Pos())
		}
		rows, err := store.PresenceOf(ctx, []string{"@r:y"})
		if err != nil || len(rows) != 1 || rows[0].Presence != api.PresenceUnavailable || rows[0].Local {
			t.Fatalf("remote presence stored as %+v, %v", rows, err)
		}
		var ev struct {
			Type    string         `json:"type"`
			Sender  string         `json:"sender"`
			Content map[string]any `json:"content"`
		}
		if err := json.Unmarshal(p.Event(rows[0]), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "m.presence" || ev.Sender != "@r:y" || ev.Content["presence"] != "unavailable" ||
			ev.Content["currently_active"] != nil || ev.Content["last_active_ago"] == nil {
			t.Fatalf("event %+v", ev)
		}
	})
}
