package internal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// clock is the roomserver's time in a test: set, never slept for.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// retentionRoom creates a room whose m.room.retention policy keeps
// messages for maxLifetime (0: a room without a policy).
func retentionRoom(t *testing.T, rs *Roomserver, maxLifetime time.Duration) string {
	t.Helper()
	req := api.CreateRoomRequest{Creator: alice, Preset: "private_chat"}
	if maxLifetime > 0 {
		content, _ := json.Marshal(map[string]int64{"max_lifetime": maxLifetime.Milliseconds()})
		req.InitialState = []api.StateEvent{{Type: retentionEventType, Content: content}}
	}
	id, err := rs.CreateRoom(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// contentOf is an event's content as the roomserver stores it now.
func contentOf(t *testing.T, f *fixture, eventID string) string {
	t.Helper()
	ev, err := f.store.EventByID(context.Background(), eventID)
	if err != nil {
		t.Fatalf("reading %s: %v", eventID, err)
	}
	var pdu struct {
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(ev.JSON, &pdu); err != nil {
		t.Fatal(err)
	}
	return string(pdu.Content)
}

// TestRetentionNeverPurgesAHeldRoom: the retention job strips the messages
// older than a room's max_lifetime, keeps state and the room's latest
// event, tells consumers, and never touches a room under legal hold —
// until the hold is released. Time is the roomserver's clock, moved on.
func TestRetentionNeverPurgesAHeldRoom(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		rs := f.rs
		c := &clock{t: time.Now()}
		rs.now = c.now
		rs.opts.Retention = config.Retention{Enabled: true}
		purged := make(chan api.OutputPurgedEvents, 10)
		if _, err := f.bus.Subscribe(ctx, api.OutputTopic, "test", func(_ context.Context, m *bus.Message) error {
			var out api.OutputPurgedEvents
			if err := json.Unmarshal(m.Body, &out); err == nil && out.Type == api.OutputTypePurgedEvents {
				purged <- out
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		var rooms []string
		for _, life := range []time.Duration{time.Hour, time.Hour, 0} {
			rooms = append(rooms, retentionRoom(t, rs, life))
			c.add(time.Millisecond) // room IDs derive from the create event
		}
		held, open, forever := rooms[0], rooms[1], rooms[2]
		old := map[string][]string{}
		for _, room := range []string{held, open, forever} {
			old[room] = []string{sendText(t, rs, room, alice, "old one"), sendText(t, rs, room, alice, "old two")}
		}
		c.add(2 * time.Hour)
		latest := map[string]string{}
		for _, room := range []string{held, open, forever} {
			latest[room] = sendText(t, rs, room, alice, "new")
		}
		if _, err := rs.PlaceLegalHold(ctx, api.LegalHold{RoomID: held, Reason: "case 42", By: alice}); err != nil {
			t.Fatal(err)
		}

		run, err := rs.RunRetention(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if run != (api.RetentionRun{Rooms: 2, Held: 1, Purged: 2}) {
			t.Fatalf("run %+v, want 2 rooms with a policy, 1 held, 2 purged", run)
		}
		for _, id := range old[open] {
			if got := contentOf(t, f, id); got != "{}" {
				t.Fatalf("expired %s keeps %s", id, got)
			}
		}
		for _, room := range []string{held, forever} {
			for _, id := range append(old[room], latest[room]) {
				if got := contentOf(t, f, id); got == "{}" {
					t.Fatalf("%s of a room that is held or keeps everything was purged", id)
				}
			}
		}
		if got := contentOf(t, f, latest[open]); got == "{}" {
			t.Fatal("the latest message was purged")
		}
		if _, err := rs.StateEvent(ctx, open, retentionEventType, ""); err != nil {
			t.Fatalf("state lost: %v", err)
		}
		select {
		case out := <-purged:
			if out.RoomID != open || !slices.Equal(out.EventIDs, old[open]) {
				t.Fatalf("purge output %+v, want %s's %v", out, open, old[open])
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no purge on the output log")
		}
		// The room goes on after a purge.
		sendText(t, rs, open, alice, "still here")

		_, err = rs.PurgeHistory(ctx, api.PurgeHistoryRequest{RoomID: held, UpToTS: c.now().UnixMilli()})
		if !errors.Is(err, api.ErrLegalHold) {
			t.Fatalf("purge_history of a held room: %v, want ErrLegalHold", err)
		}
		if ok, err := rs.ReleaseLegalHold(ctx, held); !ok || err != nil {
			t.Fatalf("release: %v %v", ok, err)
		}
		if run, err = rs.RunRetention(ctx); err != nil || run.Purged != 2 || run.Held != 0 {
			t.Fatalf("after the release: %+v %v", run, err)
		}
		for _, id := range old[held] {
			if got := contentOf(t, f, id); got != "{}" {
				t.Fatalf("released room's %s keeps %s", id, got)
			}
		}
	})
}

// TestLegalHolds: a hold is stored durably with who placed it and since
// when, placing it again changes only the reason, and unknown rooms and
// disabled retention are refused.
func TestLegalHolds(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		rs := f.rs
		room := retentionRoom(t, rs, 0)
		if h, err := rs.LegalHold(ctx, room); h != nil || err != nil {
			t.Fatalf("a new room's hold: %v %v", h, err)
		}
		first, err := rs.PlaceLegalHold(ctx, api.LegalHold{RoomID: room, Reason: "audit", By: alice, Since: 1000})
		if err != nil || first != (api.LegalHold{RoomID: room, Reason: "audit", By: alice, Since: 1000}) {
			t.Fatalf("placed %+v %v", first, err)
		}
		again, err := rs.PlaceLegalHold(ctx, api.LegalHold{RoomID: room, Reason: "lawsuit", By: bob, Since: 2000})
		if err != nil || again != (api.LegalHold{RoomID: room, Reason: "lawsuit", By: alice, Since: 1000}) {
			t.Fatalf("placed again %+v %v", again, err)
		}
		// Durable: another roomserver on the same database sees it.
		other := newFixture(t, db)
		if h, err := other.rs.LegalHold(ctx, room); err != nil || h == nil || *h != again {
			t.Fatalf("read back %+v %v", h, err)
		}
		if _, err := rs.PlaceLegalHold(ctx, api.LegalHold{RoomID: "!nope:test.local"}); !errors.Is(err, api.ErrRoomNotFound) {
			t.Fatalf("hold of an unknown room: %v", err)
		}
		if ok, err := rs.ReleaseLegalHold(ctx, room); !ok || err != nil {
			t.Fatalf("release %v %v", ok, err)
		}
		if ok, err := rs.ReleaseLegalHold(ctx, room); ok || err != nil {
			t.Fatalf("second release %v %v", ok, err)
		}
		if _, err := rs.RunRetention(ctx); !errors.Is(err, api.ErrRetentionOff) {
			t.Fatalf("retention run while disabled: %v", err)
		}
	})
}

func TestClampLifetime(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name                                     string
		maxLife, minLife, allowedMin, allowedMax time.Duration
		want                                     time.Duration
	}{
		{"no policy", 0, 0, h, 10 * h, 0},
		{"within bounds", 5 * h, 0, h, 10 * h, 5 * h},
		{"raised to the allowed minimum", h / 2, 0, h, 10 * h, h},
		{"lowered to the allowed maximum", 20 * h, 0, h, 10 * h, 10 * h},
		{"no bounds", 20 * h, 0, 0, 0, 20 * h},
		{"never below min_lifetime", 2 * h, 3 * h, 0, 0, 3 * h},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := clampLifetime(tc.maxLife, tc.minLife, tc.allowedMin, tc.allowedMax); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
