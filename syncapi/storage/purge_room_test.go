package storage

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/api"
)

// fillRoom stores, for roomID, a row in each of RoomTables: a state event,
// a message after a gap, a reply (a relation), a receipt and notifications.
func fillRoom(t *testing.T, s *Storage, roomID string) {
	t.Helper()
	ctx := context.Background()
	empty := ""
	ev := func(id, typ string, sk *string, content any, gap bool) *Event {
		js, err := json.Marshal(map[string]any{"event_id": id, "type": typ, "state_key": sk, "content": content})
		if err != nil {
			t.Fatal(err)
		}
		return &Event{ID: id, RoomID: roomID, Type: typ, Sender: "@a:x", StateKey: sk, JSON: js, Gap: gap}
	}
	msg := "$m" + roomID
	for _, e := range []*Event{
		ev("$t"+roomID, "m.room.topic", &empty, map[string]string{"topic": "t"}, false),
		ev(msg, "m.room.message", nil, map[string]string{"body": "hi"}, true),
		ev("$r"+roomID, "m.room.message", nil, map[string]any{"body": "re", "m.relates_to": map[string]string{
			"rel_type": "m.thread", "event_id": msg}}, false),
	} {
		if _, _, err := s.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutReceipt(ctx, &api.Receipt{RoomID: roomID, UserID: "@b:x", Type: api.ReceiptRead, EventID: msg, TS: 1},
		nil); err != nil {
		t.Fatal(err)
	}
	pos, err := s.MaxPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InsertNotifications(ctx, NotifyEvent{RoomID: roomID, Pos: pos, EventID: msg, Sender: "@a:x", TS: 1,
		Common: Outcome{Notify: true, Actions: json.RawMessage(`["notify"]`)}},
		[]NotifyUser{{UserID: "@b:x", Outcome: Outcome{Notify: true, Highlight: true, Actions: json.RawMessage(`[]`)}}}); err != nil {
		t.Fatal(err)
	}
}

func TestPurgeRoom(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		fillRoom(t, s, "!gone:x")
		fillRoom(t, s, "!kept:x")
		for _, room := range []string{"!gone:x", "!kept:x"} {
			rows, err := s.CountRoomRows(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range rows {
				if n == 0 {
					t.Fatalf("%s has no row in %s to purge", room, table)
				}
			}
		}
		maxPos, err := s.PurgeRoom(ctx, "!gone:x", true)
		if err != nil || maxPos == 0 {
			t.Fatalf("PurgeRoom = %d, %v", maxPos, err)
		}
		for room, want := range map[string]bool{"!gone:x": false, "!kept:x": true} {
			rows, err := s.CountRoomRows(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range rows {
				if (n > 0) != want {
					t.Errorf("%s: %d rows in %s", room, n, table)
				}
			}
		}
		// The purged room's events wait for the search backend to drop them.
		queued, err := s.SearchPurges(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"$m!gone:x", "$r!gone:x", "$t!gone:x"}; !slices.Equal(queued, want) {
			t.Fatalf("queued %v, want %v", queued, want)
		}
		if err := s.DoneSearchPurges(ctx, queued); err != nil {
			t.Fatal(err)
		}
		if queued, err = s.SearchPurges(ctx, 100); err != nil || len(queued) != 0 {
			t.Fatalf("queue after done: %v, %v", queued, err)
		}
		// Again (a redelivery): nothing to do.
		if _, err := s.PurgeRoom(ctx, "!gone:x", true); err != nil {
			t.Fatal(err)
		}
	})
}

// Every sync table with a room_id column is purged with the room.
func TestPurgeCoversEveryRoomTable(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		if _, err := New(ctx, db); err != nil {
			t.Fatal(err)
		}
		q := `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = 'room_id' AND table_name LIKE 'syncapi\_%'`
		if db.Dialect() == sqlutil.SQLite {
			q = `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
				WHERE m.type = 'table' AND p.name = 'room_id' AND m.name LIKE 'syncapi\_%' ESCAPE '\'`
		}
		tables, err := sqlutil.Select(ctx, db, func(sc sqlutil.Scanner) (string, error) {
			var s string
			return s, sc.Scan(&s)
		}, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) < len(RoomTables) {
			t.Fatalf("found only %v", tables)
		}
		for _, table := range tables {
			if !slices.Contains(RoomTables, table) {
				t.Errorf("table %s has a room_id column but is not purged", table)
			}
		}
	})
}
