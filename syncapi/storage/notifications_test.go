package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestNotifications: events written with their room's common outcome and
// the users whose outcome differs are counted per user and thread within
// a window (a mention highlights, a muted user counts nothing, one's own
// events never count), listed newest first from the user's join on with
// pagination and only=highlight, written once when redelivered, and gone
// with a redaction.
func TestNotifications(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		writeNotifications(t, s)
		counts, err := s.NotificationCounts(ctx, "@u:x", "!r:x", 100, 200)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ThreadCounts{}
		for _, c := range counts {
			got[c.ThreadID] = c
		}
		// Positions 101..200: 33 multiples of 3 (thread), 67 others;
		// highlights at multiples of 10: 10, of which 3 (120, 150, 180)
		// in the thread. u sent 150 (still counted as the room's common
		// outcome for others only): 32 in the thread, 2 highlights there.
		want := map[string]ThreadCounts{
			"$root": {ThreadID: "$root", Notifications: 32, Highlights: 2},
			"":      {ThreadID: "", Notifications: 67, Highlights: 7},
		}
		if len(got) != 2 || got[""] != want[""] || got["$root"] != want["$root"] {
			t.Errorf("u's counts %+v, want %+v", got, want)
		}
		if c, err := s.NotificationCounts(ctx, "@muted:x", "!r:x", 0, 300); err != nil || len(c) != 0 {
			t.Errorf("muted user's counts: %+v, %v", c, err)
		}
		checkListing(t, s)
		if err := s.DeleteNotifications(ctx, "$e300"); err != nil {
			t.Fatal(err)
		}
		page, err := s.Notifications(ctx, "@u:x", map[string]int64{"!r:x": 0}, 1<<62, 1, false)
		if err != nil || len(page) != 1 || page[0].Pos != 299 {
			t.Fatalf("after redacting the newest: %+v, %v", page, err)
		}
	})
}

// writeNotifications writes 300 events of !r:x from @s:x (150 from @u:x):
// every third in a thread, u highlighted by every tenth, @muted:x never
// notified. Twice: the second time is a redelivery.
func writeNotifications(t *testing.T, s *Storage) {
	t.Helper()
	notify := Outcome{Notify: true, Actions: json.RawMessage(`["notify"]`)}
	loud := Outcome{Notify: true, Highlight: true, Actions: json.RawMessage(`["notify",{"set_tweak":"highlight"}]`)}
	for range 2 {
		for pos := int64(1); pos <= 300; pos++ {
			ev := NotifyEvent{RoomID: "!r:x", Pos: pos, EventID: fmt.Sprintf("$e%d", pos), Sender: "@s:x", TS: 1000 + pos, Common: notify}
			if pos%3 == 0 {
				ev.ThreadID = "$root"
			}
			if pos == 150 {
				ev.Sender = "@u:x"
			}
			users := []NotifyUser{{UserID: "@muted:x", Outcome: Outcome{Actions: json.RawMessage(`[]`)}}}
			if pos%10 == 0 && pos != 150 {
				users = append(users, NotifyUser{UserID: "@u:x", Outcome: loud})
			}
			if err := s.InsertNotifications(context.Background(), ev, users); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkListing lists u's and v's notifications.
func checkListing(t *testing.T, s *Storage) {
	t.Helper()
	ctx := context.Background()
	room := map[string]int64{"!r:x": 0}
	page, err := s.Notifications(ctx, "@u:x", room, 1<<62, 5, false)
	if err != nil || len(page) != 5 || page[0].Pos != 300 || page[4].Pos != 296 {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	loud := `["notify",{"set_tweak":"highlight"}]`
	if !page[0].Highlight || page[0].ThreadID != "$root" || page[0].TS != 1300 || string(page[0].Actions) != loud {
		t.Errorf("u's own outcome read back as %+v", page[0])
	}
	if page[1].Highlight || string(page[1].Actions) != `["notify"]` || page[1].EventID != "$e299" {
		t.Errorf("the common outcome read back as %+v", page[1])
	}
	rest, err := s.Notifications(ctx, "@u:x", room, 296, 1000, false)
	if err != nil || len(rest) != 294 || rest[0].Pos != 295 {
		t.Fatalf("second page: %d rows, %v (295 down to 1, without u's own 150)", len(rest), err)
	}
	hl, err := s.Notifications(ctx, "@u:x", room, 1<<62, 1000, true)
	if err != nil || len(hl) != 29 || hl[0].Pos != 300 {
		t.Fatalf("highlights: %d rows, %v", len(hl), err)
	}
	v, err := s.Notifications(ctx, "@v:x", map[string]int64{"!r:x": 250}, 1<<62, 20, false)
	if err != nil || len(v) != 20 || v[19].Pos != 281 {
		t.Fatalf("v, joined at 250, first page: %d rows, %v", len(v), err)
	}
	if v, err = s.Notifications(ctx, "@v:x", map[string]int64{"!r:x": 250}, 281, 100, false); err != nil || len(v) != 30 {
		t.Fatalf("v's second page: %d rows, %v (251..280)", len(v), err)
	}
	if m, err := s.Notifications(ctx, "@muted:x", room, 1<<62, 10, false); err != nil || len(m) != 0 {
		t.Fatalf("muted user's list: %+v, %v", m, err)
	}
}
