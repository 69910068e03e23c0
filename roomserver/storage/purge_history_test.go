package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// TestPurgeCandidates: a purge takes a room's message events before a time
// and below a depth, never state, rejected or already purged events, nor
// another room's; MarkPurged keeps the row with its new JSON.
func TestPurgeCandidates(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room, other := insertRoom(t, s, "!r:x"), insertRoom(t, s, "!o:x")
		add := func(id string, room storage.RoomNID, depth, ts int64, stateKey *string, rejected bool) storage.EventNID {
			nid, _, err := s.InsertEvent(ctx, &storage.Event{ID: id, RoomNID: room, Type: "m.room.message", StateKey: stateKey,
				Sender: "@a:x", Depth: depth, OriginServerTS: ts, Rejected: rejected, JSON: []byte(`{"content":{"body":"` + id + `"}}`)})
			if err != nil {
				t.Fatal(err)
			}
			return nid
		}
		add("$state", room, 1, 100, strp(""), false)
		old := add("$old", room, 2, 100, nil, false)
		add("$rejected", room, 3, 100, nil, true)
		add("$deep", room, 10, 100, nil, false)
		add("$new", room, 4, 500, nil, false)
		add("$elsewhere", other, 2, 100, nil, false)
		ids := func(b storage.PurgeBounds, after storage.EventNID) []string {
			cs, err := s.PurgeCandidates(ctx, room, b, after, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range cs {
				out = append(out, c.ID)
			}
			return out
		}
		tests := []struct {
			name  string
			b     storage.PurgeBounds
			after storage.EventNID
			want  []string
		}{
			{"by time", storage.PurgeBounds{BeforeTS: 200}, 0, []string{"$old", "$deep"}},
			{"by depth", storage.PurgeBounds{BeforeDepth: 5}, 0, []string{"$old", "$new"}},
			{"both", storage.PurgeBounds{BeforeTS: 200, BeforeDepth: 5}, 0, []string{"$old"}},
			{"paged", storage.PurgeBounds{BeforeTS: 200}, old, []string{"$deep"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := ids(tc.b, tc.after); !equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		if err := s.MarkPurged(ctx, old, []byte(`{"content":{}}`)); err != nil {
			t.Fatal(err)
		}
		if got := ids(storage.PurgeBounds{BeforeTS: 200}, 0); !equal(got, []string{"$deep"}) {
			t.Fatalf("after purging $old: %v", got)
		}
		ev, err := s.EventByID(ctx, "$old")
		if err != nil || string(ev.JSON) != `{"content":{}}` {
			t.Fatalf("purged row %v %v", ev, err)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPurgeRows: a purge's status is stored, and those a stopped process
// left active are failed at the next start.
func TestPurgeRows(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		for _, id := range []string{"done", "cut"} {
			if err := s.InsertPurge(ctx, storage.Purge{ID: id, RoomID: "!r:x", Status: "active"}, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.UpdatePurge(ctx, storage.Purge{ID: "done", Status: "complete", Purged: 12}, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.FailPurges(ctx, "interrupted", 3); err != nil {
			t.Fatal(err)
		}
		done, err := s.PurgeByID(ctx, "done")
		if err != nil || *done != (storage.Purge{ID: "done", RoomID: "!r:x", Status: "complete", Purged: 12}) {
			t.Fatalf("done: %+v %v", done, err)
		}
		cut, err := s.PurgeByID(ctx, "cut")
		if err != nil || *cut != (storage.Purge{ID: "cut", RoomID: "!r:x", Status: "failed", Error: "interrupted"}) {
			t.Fatalf("cut: %+v %v", cut, err)
		}
		if _, err := s.PurgeByID(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown purge: %v", err)
		}
	})
}
