package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestStateEventAt: one state event as of a position is the latest of its
// type and state key at or before it, whatever came later or elsewhere.
func TestStateEventAt(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		empty, other := "", "x"
		insert := func(id, room, typ string, stateKey *string) int64 {
			t.Helper()
			p, _, err := s.InsertEvent(ctx, &Event{ID: id, RoomID: room, Type: typ, Sender: "@a:x", StateKey: stateKey, JSON: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		p1 := insert("$hv1", "!r:x", "m.room.history_visibility", &empty)
		insert("$other-key", "!r:x", "m.room.history_visibility", &other)
		insert("$other-room", "!s:x", "m.room.history_visibility", &empty)
		p2 := insert("$hv2", "!r:x", "m.room.history_visibility", &empty)
		for _, tc := range []struct {
			pos  int64
			want string
		}{{p1, "$hv1"}, {p2 - 1, "$hv1"}, {p2, "$hv2"}, {p2 + 10, "$hv2"}} {
			e, err := s.StateEventAt(ctx, "!r:x", "m.room.history_visibility", "", tc.pos)
			if err != nil || e.ID != tc.want {
				t.Errorf("at %d: %v %v, want %s", tc.pos, e, err, tc.want)
			}
		}
		if _, err := s.StateEventAt(ctx, "!r:x", "m.room.history_visibility", "", p1-1); !errors.Is(err, ErrNotFound) {
			t.Errorf("before any: %v, want ErrNotFound", err)
		}
	})
}
