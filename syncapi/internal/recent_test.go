package internal

import (
	"testing"

	"github.com/myelin-im/myelin/syncapi/storage"
)

func TestRecent(t *testing.T) {
	r := NewRecent(10)
	// A room known at start-up: nothing in memory answers for its past.
	if _, ok := r.Events("!old", 5, 20, 10); ok {
		t.Fatal("answered for events before start-up")
	}
	r.Add(&storage.Event{RoomID: "!old", ID: "$a", Pos: 12})
	if evs, ok := r.Events("!old", 10, 20, 10); !ok || len(evs) != 1 || evs[0].ID != "$a" {
		t.Fatalf("after floor: %v %v", evs, ok)
	}
	// A new room: everything since its create event.
	r.Add(&storage.Event{RoomID: "!new", ID: "$create", Type: "m.room.create", Pos: 100})
	if evs, ok := r.Events("!new", 0, 100, 10); !ok || len(evs) != 1 {
		t.Fatalf("new room from its start: %v %v", evs, ok)
	}
	for i := 1; i <= 100; i++ {
		r.Add(&storage.Event{RoomID: "!new", ID: "$" + string(rune('A'+i%26)), Pos: int64(100 + i)})
	}
	if _, ok := r.Events("!new", 0, 300, 10); ok {
		t.Fatal("answered for evicted events")
	}
	evs, ok := r.Events("!new", 180, 195, 5)
	if !ok || len(evs) != 5 || evs[0].Pos != 195 || evs[4].Pos != 191 {
		t.Fatalf("window: ok=%v %d events, first %v", ok, len(evs), evs)
	}
	evs, _ = r.Events("!new", 198, 300, 10)
	if len(evs) != 2 || evs[0].Pos != 200 || evs[1].Pos != 199 {
		t.Fatalf("tail: %v", evs)
	}
	r.Replace("!new", evs[0].ID, []byte(`{"redacted":true}`))
	after, _ := r.Events("!new", 199, 300, 10)
	if string(after[0].JSON) != `{"redacted":true}` || evs[0].JSON != nil {
		t.Fatalf("replace: %s (old copy %s)", after[0].JSON, evs[0].JSON)
	}
	if _, ok := r.Events("!unknown", 0, 10, 10); ok {
		t.Fatal("answered for an unknown room")
	}
}
