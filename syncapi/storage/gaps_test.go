package storage

import (
	"context"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestLastGap: an event stored with Gap marks its position in its room; a
// redelivery marks nothing twice; LastGap finds the newest mark in a range
// of one room only.
func TestLastGap(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		msg := func(room, id string, gap bool) int64 {
			js := []byte(fmt.Sprintf(`{"event_id":%q,"type":"m.room.message","content":{}}`, id))
			e := &Event{ID: id, RoomID: room, Type: "m.room.message", Sender: "@a:x", JSON: js, Gap: gap}
			pos, _, err := s.InsertEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		a := msg("!r:x", "$a", false)
		g1 := msg("!r:x", "$g1", true)
		msg("!other:x", "$o", true)
		b := msg("!r:x", "$b", false)
		g2 := msg("!r:x", "$g2", true)
		if again := msg("!r:x", "$g2", true); again != g2 {
			t.Fatalf("a redelivered event at %d, first at %d", again, g2)
		}
		c := msg("!r:x", "$c", false)
		for _, tc := range []struct {
			name     string
			from, to int64
			want     int64
			ok       bool
		}{
			{"none before the first gap", a - 1, a, 0, false},
			{"the first", a, b, g1, true},
			{"the newest of two", a - 1, c, g2, true},
			{"the range ends before the second", g1, g2 - 1, 0, false},
			{"the range starts at the second (excluded)", g2, c, 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, ok, err := s.LastGap(ctx, "!r:x", tc.from, tc.to)
				if err != nil || got != tc.want || ok != tc.ok {
					t.Fatalf("LastGap(%d, %d) = %d %v %v, want %d %v", tc.from, tc.to, got, ok, err, tc.want, tc.ok)
				}
			})
		}
	})
}
