package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestSearchFeed: the search indexer's feed reads live events after a
// position in order and backfilled history below one, highest first,
// never outliers; progress per backend starts at zero and is kept.
func TestSearchFeed(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		empty := ""
		ev := func(id string) *Event {
			js, _ := json.Marshal(map[string]any{"event_id": id, "type": "m.room.message"})
			return &Event{ID: id, RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x", JSON: js}
		}
		ids := func(evs []*Event, err error) string {
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range evs {
				out = append(out, e.ID)
			}
			return fmt.Sprint(out)
		}
		outlier := ev("$state")
		outlier.Type, outlier.StateKey, outlier.Outlier = "m.room.topic", &empty, true
		var pos []int64
		for _, e := range []*Event{outlier, ev("$1"), ev("$2"), ev("$3")} {
			p, _, err := s.InsertEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			pos = append(pos, p)
		}
		if got := ids(s.EventsAfter(ctx, 0, 10)); got != "[$1 $2 $3]" {
			t.Fatalf("after 0: %s", got)
		}
		if got := ids(s.EventsAfter(ctx, pos[1], 1)); got != "[$2]" {
			t.Fatalf("after $1, limit 1: %s", got)
		}
		if got := ids(s.EventsAfter(ctx, pos[3], 10)); got != "[]" {
			t.Fatalf("after the last: %s", got)
		}
		if got := ids(s.EventsBefore(ctx, 0, 10)); got != "[]" {
			t.Fatalf("before 0 with only an outlier there: %s", got)
		}
		if _, err := s.InsertHistory(ctx, []*Event{ev("$h2"), ev("$h1")}); err != nil {
			t.Fatal(err)
		}
		if got := ids(s.EventsBefore(ctx, 0, 10)); got != "[$h2 $h1]" {
			t.Fatalf("history: %s", got)
		}
		h, _ := s.EventsBefore(ctx, 0, 1)
		if got := ids(s.EventsBefore(ctx, h[0].Pos, 10)); got != "[$h1]" {
			t.Fatalf("history below $h2: %s", got)
		}
		if n, err := s.CountEvents(ctx); err != nil || n != 5 {
			t.Fatalf("count %d %v, want 5 (no outlier)", n, err)
		}

		if p, err := s.GetSearchProgress(ctx, "sql"); err != nil || p != (SearchProgress{}) {
			t.Fatalf("new backend's progress %+v %v", p, err)
		}
		for _, want := range []SearchProgress{{Pos: 3, Low: -2}, {Pos: 7, Low: -9}} {
			if err := s.SetSearchProgress(ctx, "sql", want); err != nil {
				t.Fatal(err)
			}
			if got, err := s.GetSearchProgress(ctx, "sql"); err != nil || got != want {
				t.Fatalf("progress %+v %v, want %+v", got, err, want)
			}
		}
		if p, err := s.GetSearchProgress(ctx, "elasticsearch:x"); err != nil || p != (SearchProgress{}) {
			t.Fatalf("other backend's progress %+v %v", p, err)
		}
	})
}
