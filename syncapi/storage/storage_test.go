package storage

import (
	"context"
	"encoding/json"
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
			js, _ := json.Marshal(map[string]any{"event_id": id, "type": "m.room.topic", "state_key": "", "content": map[string]string{"topic": id}})
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
