package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/api"
)

// TestReceipts: a receipt moves forward only, gets a new stream position
// each time it moves, announces itself in its transaction, and reads back
// per room, bounded, with private receipts for their owner only.
func TestReceipts(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		const room, other, alice, bob = "!r:x", "!o:x", "@alice:x", "@bob:x"
		evPos := map[string]int64{}
		for i := 1; i <= 4; i++ {
			id := fmt.Sprintf("$e%d", i)
			js, _ := json.Marshal(map[string]any{"event_id": id, "type": "m.room.message"})
			p, _, err := s.InsertEvent(ctx, &Event{ID: id, RoomID: room, Type: "m.room.message", Sender: bob, JSON: js})
			if err != nil {
				t.Fatal(err)
			}
			evPos[id] = p
		}
		var announced []int64
		put := func(r api.Receipt) bool {
			t.Helper()
			stored, err := s.PutReceipt(ctx, &r, func(_ context.Context, r *api.Receipt) error {
				announced = append(announced, r.Pos)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return stored
		}
		read := func(user, event, thread string) api.Receipt {
			return api.Receipt{RoomID: room, UserID: user, Type: api.ReceiptRead, EventID: event, ThreadID: thread, TS: 7}
		}
		steps := []struct {
			name string
			r    api.Receipt
			want bool
		}{
			{"first receipt", read(alice, "$e2", ""), true},
			{"same event again", read(alice, "$e2", ""), false},
			{"an earlier event", read(alice, "$e1", ""), false},
			{"a later event", read(alice, "$e3", ""), true},
			{"another thread is another receipt", read(alice, "$e1", "main"), true},
			{"bob's", read(bob, "$e4", ""), true},
			{"private", api.Receipt{RoomID: room, UserID: bob, Type: api.ReceiptReadPrivate, EventID: "$e4", TS: 8}, true},
			{"unknown event", api.Receipt{RoomID: other, UserID: bob, Type: api.ReceiptRead, EventID: "$far", TS: 9}, true},
		}
		for _, st := range steps {
			if got := put(st.r); got != st.want {
				t.Fatalf("%s: stored %v, want %v", st.name, got, st.want)
			}
		}
		if len(announced) != 6 {
			t.Fatalf("announced %v, want 6 positions", announced)
		}
		max, err := s.MaxReceiptPos(ctx)
		if err != nil || max != announced[5] {
			t.Fatalf("MaxReceiptPos %d %v, want %d", max, err, announced[5])
		}
		all, err := s.ReceiptsSince(ctx, []string{room, other}, alice, 0, max, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 4 { // alice's two, bob's public one, the other room's; not bob's private
			t.Fatalf("alice sees %d receipts: %+v", len(all), all)
		}
		if all[0].EventID != "$e3" || all[0].TS != 7 || all[1].ThreadID != "main" {
			t.Fatalf("receipts out of order or incomplete: %+v", all)
		}
		mine, err := s.ReceiptsSince(ctx, []string{room}, bob, announced[2], max, 100)
		if err != nil || len(mine) != 2 || mine[1].Type != api.ReceiptReadPrivate {
			t.Fatalf("bob since %d: %+v %v, want his public and private receipts", announced[2], mine, err)
		}
		bounded, err := s.ReceiptsSince(ctx, []string{room}, bob, 0, max, 1)
		if err != nil || len(bounded) != 1 || bounded[0].Pos != announced[4] {
			t.Fatalf("bounded to 1: %+v %v, want the newest", bounded, err)
		}
		upTo, err := s.ReadUpTo(ctx, room, bob)
		if err != nil || upTo != evPos["$e4"] {
			t.Fatalf("bob read up to %d %v, want %d", upTo, err, evPos["$e4"])
		}
		if upTo, _ = s.ReadUpTo(ctx, room, alice); upTo != evPos["$e3"] {
			t.Fatalf("alice read up to %d, want %d (unthreaded beats main's earlier)", upTo, evPos["$e3"])
		}
	})
}

// TestReceiptAnnounceFails: a receipt whose announcement fails is not
// stored (the two share one transaction).
func TestReceiptAnnounceFails(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s, err := New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := api.Receipt{RoomID: "!r:x", UserID: "@a:x", Type: api.ReceiptRead, EventID: "$e", TS: 1}
		_, err = s.PutReceipt(ctx, &r, func(context.Context, *api.Receipt) error { return fmt.Errorf("bus down") })
		if err == nil {
			t.Fatal("PutReceipt succeeded though its announcement failed")
		}
		if p, _ := s.MaxReceiptPos(ctx); p != 0 {
			t.Fatalf("receipt stored at %d after a failed announcement", p)
		}
	})
}
