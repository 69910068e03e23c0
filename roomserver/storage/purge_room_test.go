package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// keptTables hold rows about a room that outlive its purge: what admins
// did to it (docs/decisions.md, "Deleting rooms").
var keptTables = []string{"roomserver_blocked_rooms", "roomserver_room_deletes", "roomserver_purges", "roomserver_legal_holds"}

// roomColumns are the columns that tie a row to a room.
var roomColumns = []string{"room_nid", "room_id", "event_id", "snapshot_nid"}

// Every roomserver table with a column that ties its rows to a room is
// purged or deliberately kept: a table added later without a thought for
// purges fails here.
func TestPurgeCoversEveryRoomTable(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		open(t, db)
		purged := map[string]bool{}
		for _, rt := range storage.RoomTables {
			purged[rt.Table] = true
		}
		for table, cols := range tableColumns(t, db) {
			tied := slices.ContainsFunc(cols, func(c string) bool { return slices.Contains(roomColumns, c) })
			if tied && !purged[table] && !slices.Contains(keptTables, table) {
				t.Errorf("table %s (columns %v) is neither purged with a room nor kept", table, cols)
			}
		}
	})
}

// tableColumns lists the roomserver's tables and their columns.
func tableColumns(t *testing.T, db *sqlutil.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	q := `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name LIKE 'roomserver\_%'`
	if db.Dialect() == sqlutil.SQLite {
		q = `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name LIKE 'roomserver\_%' ESCAPE '\'`
	}
	type col struct{ table, name string }
	rows, err := sqlutil.Select(ctx, db, func(sc sqlutil.Scanner) (col, error) {
		var c col
		return c, sc.Scan(&c.table, &c.name)
	}, q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, c := range rows {
		out[c.table] = append(out[c.table], c.name)
	}
	if len(out) < 10 {
		t.Fatalf("found only tables %v", out)
	}
	return out
}

// PurgeRoom of a room that is not there (purged already) succeeds and
// reports it was not found.
func TestPurgeUnknownRoom(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		s := open(t, db)
		found, err := s.PurgeRoom(context.Background(), "!gone:test.local")
		if err != nil || found {
			t.Fatalf("PurgeRoom = %v, %v", found, err)
		}
	})
}
