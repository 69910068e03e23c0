package storage

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestDirectInvitesMigration: migration 004 finds the direct invites among
// the events stored before it, on each database's JSON functions.
func TestDirectInvitesMigration(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		before := fstest.MapFS{}
		err := fs.WalkDir(migrations, "migrations", func(p string, d fs.DirEntry, err error) error {
			// The migrations before 004 only (later ones need 004 applied).
			if err != nil || d.IsDir() || d.Name() >= "004" {
				return err
			}
			b, err := fs.ReadFile(migrations, p)
			before[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlutil.MigrateDir(ctx, db, "roomserver", before, "migrations"); err != nil {
			t.Fatal(err)
		}
		s := &Storage{db: db}
		room, err := s.InsertRoom(ctx, "!r:x", "10")
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range []struct{ id, user, content string }{
			{"$direct", "@bob:x", `{"membership":"invite","is_direct":true,"reason":"hi"}`},
			{"$plain", "@carol:x", `{"membership":"invite"}`},
			{"$notinvite", "@dan:x", `{"membership":"join","is_direct":true}`},
			{"$false", "@eve:x", `{"membership":"invite","is_direct":false}`},
		} {
			js := `{"type":"m.room.member","state_key":"` + e.user + `","sender":"@alice:x","content":` + e.content + `}`
			if _, _, err := s.InsertEvent(ctx, &Event{ID: e.id, RoomNID: room, Type: "m.room.member", StateKey: &e.user,
				Sender: "@alice:x", OriginServerTS: int64(100 + i), JSON: []byte(js)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := sqlutil.MigrateDir(ctx, db, "roomserver", migrations, "migrations"); err != nil {
			t.Fatal(err)
		}
		var got []DirectInvite
		rows, err := db.Query(ctx, `SELECT room_id, user_id, sender, event_id, origin_server_ts, reason, outside_membership
			FROM roomserver_direct_invites`)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var d DirectInvite
			if err := rows.Scan(&d.RoomID, &d.UserID, &d.Sender, &d.EventID, &d.TS, &d.Reason, &d.Outside); err != nil {
				t.Fatal(err)
			}
			got = append(got, d)
		}
		want := DirectInvite{RoomID: "!r:x", UserID: "@bob:x", Sender: "@alice:x", EventID: "$direct", TS: 100, Reason: "hi"}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("after the migration: %+v; want only %+v", got, want)
		}
	})
}
