package storage

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestPurgeEvents: purged message events leave the timeline and the
// relation index and are queued for search once; state events named in a
// purge stay; a repeat does nothing.
func TestPurgeEvents(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		empty := ""
		evs := []*Event{
			{ID: "$topic", RoomID: "!r:x", Type: "m.room.topic", Sender: "@a:x", StateKey: &empty,
				JSON: []byte(`{"content":{"topic":"t"}}`)},
			{ID: "$msg", RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x", JSON: []byte(`{"content":{"body":"hi"}}`)},
			{ID: "$edit", RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x",
				JSON: []byte(`{"content":{"body":"* hi","m.relates_to":{"rel_type":"m.replace","event_id":"$msg"}}}`)},
			{ID: "$kept", RoomID: "!r:x", Type: "m.room.message", Sender: "@a:x", JSON: []byte(`{"content":{"body":"kept"}}`)},
		}
		for _, e := range evs {
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		removed, err := s.PurgeEvents(ctx, "!r:x", []string{"$topic", "$msg", "$edit", "$unknown"})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(removed)
		if !slices.Equal(removed, []string{"$edit", "$msg"}) {
			t.Fatalf("removed %v", removed)
		}
		for _, id := range []string{"$msg", "$edit"} {
			if _, err := s.EventByID(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s still stored: %v", id, err)
			}
		}
		for _, id := range []string{"$topic", "$kept"} {
			if _, err := s.EventByID(ctx, id); err != nil {
				t.Fatalf("%s lost: %v", id, err)
			}
		}
		if st, err := s.CurrentState(ctx, "!r:x"); err != nil || len(st) != 1 || st[0].ID != "$topic" {
			t.Fatalf("current state %v %v", st, err)
		}
		var rels int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM syncapi_relations`).Scan(&rels); err != nil || rels != 0 {
			t.Fatalf("relations left: %d %v", rels, err)
		}
		pending, err := s.SearchPurges(ctx, 10)
		if err != nil || !slices.Equal(pending, []string{"$edit", "$msg"}) {
			t.Fatalf("search purges %v %v", pending, err)
		}
		if err := s.DoneSearchPurges(ctx, pending[:1]); err != nil {
			t.Fatal(err)
		}
		if again, err := s.PurgeEvents(ctx, "!r:x", []string{"$msg", "$edit"}); err != nil || len(again) != 0 {
			t.Fatalf("repeat removed %v %v", again, err)
		}
		if pending, err = s.SearchPurges(ctx, 10); err != nil || !slices.Equal(pending, []string{"$msg"}) {
			t.Fatalf("search purges after one is done: %v %v", pending, err)
		}
	})
}
