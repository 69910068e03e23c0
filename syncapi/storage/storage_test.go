package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestResolvedState: a state event that lost state resolution stays out of
// the current state, and SetCurrentState brings back the one that won.
func TestResolvedState(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		empty := ""
		topic := func(id string, notCurrent bool) *Event {
			js, _ := json.Marshal(map[string]any{
				"event_id":  id,
				"type":      "m.room.topic",
				"state_key": "",
				"content":   map[string]string{"topic": id},
			})
			return &Event{ID: id, RoomID: "!r:x", Type: "m.room.topic", Sender: "@a:x", StateKey: &empty, JSON: js, NotCurrent: notCurrent}
		}
		current := func() string {
			evs, err := s.CurrentState(ctx, "!r:x")
			if err != nil || len(evs) != 1 {
				t.Fatalf("current state: %v %v", evs, err)
			}
			return evs[0].ID
		}
		for _, e := range []*Event{topic("$a", false), topic("$b", true)} {
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if got := current(); got != "$a" {
			t.Fatalf("after a losing event: current %s, want $a", got)
		}
		if _, _, err := s.InsertEvent(ctx, topic("$c", false)); err != nil {
			t.Fatal(err)
		}
		if got := current(); got != "$c" {
			t.Fatalf("current %s, want $c", got)
		}
		// Resolution flips back to $b.
		if err := s.SetCurrentState(ctx, []string{"$b"}); err != nil {
			t.Fatal(err)
		}
		if got := current(); got != "$b" {
			t.Fatalf("after SetCurrentState: current %s, want $b", got)
		}
	})
}

// TestHistoryPositions: a join's state (outliers) and backfilled history
// take positions below the timeline, counting down; outliers stay out of
// the timeline until backfill places them; events already in the timeline
// are not placed twice; a repeated outlier is stored once.
func TestHistoryPositions(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		empty := ""
		ev := func(id string, state bool) *Event {
			js, _ := json.Marshal(map[string]any{"event_id": id, "type": "m.room.message"})
			e := &Event{ID: id, RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x", JSON: js}
			if state {
				e.Type, e.StateKey = "m.room.topic", &empty
			}
			return e
		}
		ids := func(evs []*Event) (out []string) {
			for _, e := range evs {
				out = append(out, e.ID)
			}
			return out
		}
		// The join's state, then the join.
		topic := ev("$topic", true)
		topic.Outlier = true
		for i := 0; i < 2; i++ {
			pos, stored, err := s.InsertEvent(ctx, topic)
			if err != nil || pos != -1 || stored != (i == 0) {
				t.Fatalf("outlier, attempt %d: pos %d stored %v err %v", i, pos, stored, err)
			}
		}
		if pos, _, err := s.InsertEvent(ctx, ev("$join", false)); err != nil || pos <= 0 {
			t.Fatalf("join at %d: %v", pos, err)
		}
		all, err := s.RoomEvents(ctx, "!r:x", -1<<62, 1<<62, 100, true)
		if err != nil || fmt.Sprint(ids(all)) != "[$join]" {
			t.Fatalf("timeline %v %v", ids(all), err)
		}
		if cur, err := s.CurrentState(ctx, "!r:x"); err != nil || len(cur) != 1 || cur[0].ID != "$topic" {
			t.Fatalf("current state %v %v", cur, err)
		}
		if o, err := s.OldestEvent(ctx, "!r:x"); err != nil || o.ID != "$join" {
			t.Fatalf("oldest %v %v", o, err)
		}
		// Backfill, newest first: $m2, the topic (placed now), $m1; the join
		// is in the timeline already.
		n, err := s.InsertHistory(ctx, []*Event{ev("$join", false), ev("$m2", false), ev("$topic", true), ev("$m1", false)})
		if err != nil || n != 3 {
			t.Fatalf("placed %d: %v", n, err)
		}
		all, err = s.RoomEvents(ctx, "!r:x", -1<<62, 1<<62, 100, true)
		if err != nil || fmt.Sprint(ids(all)) != "[$join $m2 $topic $m1]" {
			t.Fatalf("timeline after backfill %v %v", ids(all), err)
		}
		if all[3].Pos >= all[2].Pos || all[2].Pos >= all[1].Pos || all[1].Pos >= -1 {
			t.Fatalf("positions %d %d %d", all[1].Pos, all[2].Pos, all[3].Pos)
		}
		// Again: nothing new; the next backfill goes further down.
		if n, err := s.InsertHistory(ctx, []*Event{ev("$m1", false)}); err != nil || n != 0 {
			t.Fatalf("placed again %d: %v", n, err)
		}
		if n, err := s.InsertHistory(ctx, []*Event{ev("$m0", false)}); err != nil || n != 1 {
			t.Fatalf("placed %d: %v", n, err)
		}
		if o, err := s.OldestEvent(ctx, "!r:x"); err != nil || o.ID != "$m0" || o.Pos >= all[3].Pos {
			t.Fatalf("oldest %v %v", o, err)
		}
		// The current state is unchanged and a history-wide state read
		// still finds the topic.
		if cur, err := s.CurrentState(ctx, "!r:x"); err != nil || len(cur) != 1 || cur[0].ID != "$topic" {
			t.Fatalf("current state after backfill %v %v", cur, err)
		}
	})
}
