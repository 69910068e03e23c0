package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// exportRoom stores events of one room at the given depths (in that
// order of storage, so storage order and DAG order differ), by @a then @b
// alternately, and returns their NIDs by ID.
func exportRoom(
	t *testing.T, s *storage.Storage, room storage.RoomNID, depths map[string]int64, order []string,
) map[string]storage.EventNID {
	t.Helper()
	nids := map[string]storage.EventNID{}
	for i, id := range order {
		sender := "@a:x"
		if i%2 == 1 {
			sender = "@b:x"
		}
		nid, _, err := s.InsertEvent(context.Background(), &storage.Event{ID: id, RoomNID: room, Type: "m.room.message",
			Sender: sender, Depth: depths[id], JSON: []byte(`{"content":{"body":"` + id + `"}}`)})
		if err != nil {
			t.Fatal(err)
		}
		nids[id] = nid
	}
	return nids
}

func ids(evs []*storage.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestEventsInDAGOrder(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room, other := insertRoom(t, s, "!r:x"), insertRoom(t, s, "!o:x")
		// $d arrived first but is deepest; $b and $c share a depth (a fork).
		exportRoom(t, s, room, map[string]int64{"$a": 1, "$b": 2, "$c": 2, "$d": 3, "$e": 4},
			[]string{"$d", "$a", "$b", "$c", "$e"})
		exportRoom(t, s, other, map[string]int64{"$x": 1}, []string{"$x"})
		var got []string
		var pos storage.Position
		for {
			page, err := s.EventsInDAGOrder(ctx, room, pos, 2, "")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page)...)
			if len(page) < 2 {
				break
			}
			pos = storage.Position{Depth: page[len(page)-1].Depth, NID: page[len(page)-1].NID}
		}
		if want := []string{"$a", "$b", "$c", "$d", "$e"}; !slices.Equal(got, want) {
			t.Fatalf("pages = %v, want %v", got, want)
		}
		bySender, err := s.EventsInDAGOrder(ctx, room, storage.Position{}, 10, "@a:x")
		if err != nil || !slices.Equal(ids(bySender), []string{"$b", "$d", "$e"}) {
			t.Fatalf("@a's events = %v, %v", ids(bySender), err)
		}
		if n, err := s.CountEvents(ctx, room); err != nil || n != 5 {
			t.Fatalf("CountEvents = %d, %v", n, err)
		}
	})
}

func TestRedactionHistory(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		room := insertRoom(t, s, "!r:x")
		nids := exportRoom(t, s, room, map[string]int64{"$old": 1, "$new": 2, "$kept": 3}, []string{"$old", "$new", "$kept"})
		for id, ts := range map[string]int64{"$old": 1000, "$new": 5000} {
			if err := s.SetRedacted(ctx, id, "$r"+id, []byte(`{"content":{}}`), ts); err != nil {
				t.Fatal(err)
			}
		}
		// Redacting again keeps the first original, not the redacted form.
		if err := s.SetRedacted(ctx, "$new", "$again", []byte(`{"content":{}}`), 6000); err != nil {
			t.Fatal(err)
		}
		all := []storage.EventNID{nids["$old"], nids["$new"], nids["$kept"]}
		got, err := s.RedactedOriginals(ctx, all, 0)
		if err != nil || len(got) != 2 || string(got[nids["$new"]].JSON) != `{"content":{"body":"$new"}}` ||
			got[nids["$new"]].RedactedBy != "$r$new" || got[nids["$new"]].RedactedTS != 5000 {
			t.Fatalf("RedactedOriginals = %+v, %v", got, err)
		}
		if e, err := s.EventByID(ctx, "$new"); err != nil || string(e.JSON) != `{"content":{}}` {
			t.Fatalf("the event keeps its redacted form: %+v, %v", e, err)
		}
		// Past retention (redacted before 2000): hidden, then pruned.
		if got, err := s.RedactedOriginals(ctx, all, 2000); err != nil || len(got) != 1 || got[nids["$new"]].JSON == nil {
			t.Fatalf("RedactedOriginals since 2000 = %+v, %v", got, err)
		}
		if n, err := s.PruneRedactedOriginals(ctx, 2000); err != nil || n != 1 {
			t.Fatalf("PruneRedactedOriginals = %d, %v", n, err)
		}
		if got, err := s.RedactedOriginals(ctx, all, 0); err != nil || len(got) != 1 {
			t.Fatalf("after pruning = %+v, %v", got, err)
		}
	})
}

func TestRoomsOfUser(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		a, b := insertRoom(t, s, "!a:x"), insertRoom(t, s, "!b:x")
		for room, m := range map[storage.RoomNID]string{a: "join", b: "leave"} {
			if err := s.SetMembership(ctx, room, "@u:x", m, 1); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RoomsOfUser(ctx, "@u:x")
		want := []storage.UserRoom{{RoomID: "!a:x", Membership: "join"}, {RoomID: "!b:x", Membership: "leave"}}
		if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("RoomsOfUser = %+v, %v", got, err)
		}
		if got, err := s.RoomsOfUser(ctx, "@nobody:x"); err != nil || len(got) != 0 {
			t.Fatalf("RoomsOfUser(nobody) = %+v, %v", got, err)
		}
	})
}
