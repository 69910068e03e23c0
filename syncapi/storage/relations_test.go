package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// relEvent is a client event of room !r:x, related to parent by relType
// when both are set.
func relEvent(id, sender, evType, parent, relType string) *Event {
	content := map[string]any{"body": id}
	if parent != "" {
		content["m.relates_to"] = map[string]string{"event_id": parent, "rel_type": relType}
	}
	js, _ := json.Marshal(map[string]any{"event_id": id, "type": evType, "sender": sender, "room_id": "!r:x", "content": content})
	return &Event{ID: id, RoomID: "!r:x", Type: evType, Sender: sender, JSON: js}
}

func eventIDs(evs []*Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// TestRelationIndex: live events with an m.relates_to are indexed and page
// by stream position with rel_type and type filters; a plain reply is not
// a relationship; a redacted child leaves the index; summaries count per
// rel_type with the user's participation; threads order by latest reply.
func TestRelationIndex(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		reply := relEvent("$reply", "@b:x", "m.room.message", "", "")
		reply.JSON = []byte(`{"event_id":"$reply","type":"m.room.message",
			"content":{"m.relates_to":{"m.in_reply_to":{"event_id":"$root"}}}}`)
		// An event of another room claiming $root as its thread: not a
		// child of $root.
		elsewhere := relEvent("$other", "@d:x", "m.room.message", "$root", "m.thread")
		elsewhere.RoomID = "!other:x"
		for _, e := range []*Event{
			relEvent("$root", "@a:x", "m.room.message", "", ""),
			relEvent("$t1", "@b:x", "m.room.message", "$root", "m.thread"),
			relEvent("$edit", "@a:x", "m.room.message", "$root", "m.replace"),
			reply,
			relEvent("$t2", "@c:x", "m.dummy", "$root", "m.thread"),
			relEvent("$root2", "@a:x", "m.room.message", "", ""),
			relEvent("$u1", "@a:x", "m.room.message", "$root2", "m.thread"),
			elsewhere,
		} {
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		page := func(q RelationsQuery) string {
			q.Lo, q.Hi, q.Limit = -1<<62, 1<<62, 10
			if q.From == 0 {
				q.From = 1 << 62
				if !q.Backwards {
					q.From = -1 << 62
				}
			}
			evs, err := s.RelatedEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(eventIDs(evs))
		}
		for _, tc := range []struct {
			q    RelationsQuery
			want string
		}{
			{RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}, Backwards: true}, "[$t2 $edit $t1]"},
			{RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}}, "[$t1 $edit $t2]"},
			{RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}, RelType: "m.thread", Backwards: true}, "[$t2 $t1]"},
			{RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}, RelType: "m.thread", EventType: "m.room.message"}, "[$t1]"},
			{RelationsQuery{RoomID: "!r:x", Parents: []string{"$nothing"}}, "[]"},
		} {
			if got := page(tc.q); got != tc.want {
				t.Errorf("%+v: got %s, want %s", tc.q, got, tc.want)
			}
		}
		// Paging from a position: only what lies beyond it.
		t1, _ := s.EventByID(ctx, "$t1")
		if got := page(RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}, From: t1.Pos}); got != "[$edit $t2]" {
			t.Errorf("forwards from $t1: %s", got)
		}
		sums, err := s.RelationSummaries(ctx, []string{"$root", "$root2", "$t1"}, "@b:x", 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]RelationSummary{}
		otherRooms := 0
		for _, r := range sums {
			if r.RoomID != "!r:x" {
				// Summed apart: the caller drops it (not the parent's room).
				otherRooms++
				continue
			}
			got[r.ParentID+" "+r.RelType] = r
		}
		if otherRooms != 1 {
			t.Errorf("%d summaries of other rooms, want 1", otherRooms)
		}
		if len(got) != 3 || got["$root m.thread"].Count != 2 || !got["$root m.thread"].ByUser ||
			got["$root m.replace"].Count != 1 || got["$root m.replace"].ByUser || got["$root2 m.thread"].ByUser {
			t.Errorf("summaries %+v", got)
		}
		threads := func(participant string) string {
			q := ThreadsQuery{RoomID: "!r:x", Participant: participant, Lo: -1 << 62, Hi: 1 << 62, Before: 1 << 62, Limit: 10}
			ts, err := s.Threads(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, th := range ts {
				out = append(out, th.RootID)
			}
			return fmt.Sprint(out)
		}
		if got := threads(""); got != "[$root2 $root]" {
			t.Errorf("threads: %s", got)
		}
		if got := threads("@c:x"); got != "[$root]" {
			t.Errorf("threads @c took part in: %s", got)
		}
		// The root's sender took part in both.
		if got := threads("@a:x"); got != "[$root2 $root]" {
			t.Errorf("threads @a took part in: %s", got)
		}
		// A redaction strips m.relates_to: the child leaves the index.
		if err := s.ReplaceEventJSON(ctx, "$t2", []byte(`{"event_id":"$t2","type":"m.dummy","content":{},"unsigned":{}}`)); err != nil {
			t.Fatal(err)
		}
		if got := page(RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"}, RelType: "m.thread"}); got != "[$t1]" {
			t.Errorf("after redacting $t2: %s", got)
		}
		if got := threads("@c:x"); got != "[]" {
			t.Errorf("threads @c took part in after the redaction: %s", got)
		}
	})
}

// TestRelationIndexHistory: backfilled events are indexed at their history
// positions, below the live ones.
func TestRelationIndexHistory(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.InsertEvent(ctx, relEvent("$live", "@a:x", "m.reaction", "$root", "m.annotation")); err != nil {
			t.Fatal(err)
		}
		n, err := s.InsertHistory(ctx, []*Event{
			relEvent("$old2", "@b:x", "m.reaction", "$root", "m.annotation"),
			relEvent("$root", "@a:x", "m.room.message", "", ""),
		})
		if err != nil || n != 2 {
			t.Fatalf("placed %d: %v", n, err)
		}
		evs, err := s.RelatedEvents(ctx, RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"},
			Lo: -1 << 62, Hi: 1 << 62, From: 1 << 62,
			Backwards: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(eventIDs(evs)); got != "[$live $old2]" || evs[1].Pos >= 0 {
			t.Fatalf("relations %s (positions %v)", got, evs)
		}
	})
}

// TestRelationMigration: migration 008 indexes the events stored before it
// (rebuilt here by dropping the table and its version row, then migrating
// again over stored events): related events only, a plain reply left out.
func TestRelationMigration(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		reply := relEvent("$reply", "@b:x", "m.room.message", "", "")
		reply.JSON = []byte(`{"event_id":"$reply","type":"m.room.message",
			"content":{"m.relates_to":{"m.in_reply_to":{"event_id":"$r"}}}}`)
		for _, e := range []*Event{
			relEvent("$root", "@a:x", "m.room.message", "", ""),
			relEvent("$t1", "@b:x", "m.room.message", "$root", "m.thread"),
			relEvent("$like", "@b:x", "m.reaction", "$root", "m.annotation"),
			reply,
		} {
			if _, _, err := s.InsertEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{`DROP TABLE syncapi_relations`,
			`DELETE FROM myelin_schema_versions WHERE component = 'syncapi' AND version = 8`} {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if s, err = New(ctx, db); err != nil {
			t.Fatal(err)
		}
		evs, err := s.RelatedEvents(ctx, RelationsQuery{RoomID: "!r:x", Parents: []string{"$root"},
			Lo: -1 << 62, Hi: 1 << 62, From: -1 << 62, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(eventIDs(evs)); got != "[$t1 $like]" {
			t.Fatalf("after migrating stored events: %s", got)
		}
	})
}
