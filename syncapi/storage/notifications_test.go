package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestNotifications: rows written in bulk (more than one INSERT's worth)
// are listed newest first, paginate by position, filter highlights, are
// written once when an event is redelivered, and count per thread within
// a window.
func TestNotifications(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var rows []Notification
		for pos := int64(1); pos <= 300; pos++ {
			thread := ""
			if pos%3 == 0 {
				thread = "$root"
			}
			rows = append(rows, Notification{
				UserID: "@u:x", Pos: pos, RoomID: "!r:x", EventID: fmt.Sprintf("$e%d", pos), ThreadID: thread,
				Highlight: pos%10 == 0, Actions: json.RawMessage(`["notify"]`), TS: 1000 + pos,
			})
		}
		rows = append(rows, Notification{UserID: "@v:x", Pos: 5, RoomID: "!r:x", EventID: "$e5", Actions: json.RawMessage(`[]`)})
		for range 2 { // the second time: a redelivery
			if err := s.InsertNotifications(ctx, rows); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.Notifications(ctx, "@u:x", 1<<62, 5, false)
		if err != nil || len(page) != 5 || page[0].Pos != 300 || page[4].Pos != 296 {
			t.Fatalf("first page: %+v, %v", page, err)
		}
		if string(page[0].Actions) != `["notify"]` || !page[0].Highlight || page[0].ThreadID != "$root" || page[0].TS != 1300 {
			t.Errorf("row read back as %+v", page[0])
		}
		page, err = s.Notifications(ctx, "@u:x", 296, 1000, false)
		if err != nil || len(page) != 295 || page[0].Pos != 295 {
			t.Fatalf("second page: %d rows, %v", len(page), err)
		}
		hl, err := s.Notifications(ctx, "@u:x", 1<<62, 1000, true)
		if err != nil || len(hl) != 30 || hl[0].Pos != 300 {
			t.Fatalf("highlights: %d rows, %v", len(hl), err)
		}
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
		// in the thread.
		want := map[string]ThreadCounts{
			"$root": {ThreadID: "$root", Notifications: 33, Highlights: 3},
			"":      {ThreadID: "", Notifications: 67, Highlights: 7},
		}
		if len(got) != 2 || got[""] != want[""] || got["$root"] != want["$root"] {
			t.Errorf("counts %+v, want %+v", got, want)
		}
		if c, err := s.NotificationCounts(ctx, "@v:x", "!r:x", 5, 300); err != nil || len(c) != 0 {
			t.Errorf("counts after the only row: %+v, %v", c, err)
		}
	})
}
