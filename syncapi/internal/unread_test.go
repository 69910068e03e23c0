package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/storage"
)

func TestUnreadCounts(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		store, err := storage.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		recent := NewRecent(0)
		const room, alice, bob = "!r:test", "@alice:test", "@bob:test"
		n := 0
		var lastPos int64
		send := func(sender, evType string, content map[string]any) *storage.Event {
			n++
			id := fmt.Sprintf("$e%d", n)
			js, _ := json.Marshal(map[string]any{"event_id": id, "room_id": room, "sender": sender, "type": evType, "content": content})
			ev := &storage.Event{ID: id, RoomID: room, Type: evType, Sender: sender, TS: int64(n), JSON: js}
			pos, stored, err := store.InsertEvent(ctx, ev)
			if err != nil || !stored {
				t.Fatal(stored, err)
			}
			ev.Pos, lastPos = pos, pos
			recent.Add(ev)
			return ev
		}
		text := func(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }
		u := NewUnread(store, recent)
		check := func(u *Unread, user string, wantN, wantH int) {
			t.Helper()
			gotN, gotH, err := u.Counts(ctx, room, user, lastPos)
			if err != nil || gotN != wantN || gotH != wantH {
				t.Fatalf("%s: counts %d/%d (%v), want %d/%d", user, gotN, gotH, err, wantN, wantH)
			}
		}
		send(alice, "m.room.create", map[string]any{})
		check(u, alice, 0, 0)
		check(u, bob, 0, 0)
		send(bob, "m.room.message", text("one"))
		send(bob, "m.room.message", map[string]any{"msgtype": "m.notice", "body": "a bot"})
		send(bob, "m.room.message", map[string]any{
			"msgtype":    "m.text",
			"body":       "hey alice",
			"m.mentions": map[string]any{"user_ids": []string{alice}},
		})
		send(bob, "m.reaction", map[string]any{})
		send(bob, "m.room.encrypted", map[string]any{"algorithm": "m.megolm.v1.aes-sha2"})
		check(u, alice, 3, 1) // one, the mention, the encrypted event
		check(u, bob, 0, 0)   // their own
		// A restarted server (empty cache, empty memory) counts the same
		// from the database.
		check(NewUnread(store, NewRecent(lastPos)), alice, 3, 1)
		// Alice answering marks the room read for her.
		send(alice, "m.room.message", text("hi bob"))
		check(u, alice, 0, 0)
		check(u, bob, 1, 0)
		// A redacted message no longer counts.
		ev := send(bob, "m.room.message", text("oops"))
		js, _ := json.Marshal(map[string]any{
			"event_id": ev.ID,
			"room_id":  room,
			"sender":   bob,
			"type":     "m.room.message",
			"content":  map[string]any{},
			"unsigned": map[string]any{"redacted_because": map[string]any{"type": "m.room.redaction"}},
		})
		if err := store.ReplaceEventJSON(ctx, ev.ID, js); err != nil {
			t.Fatal(err)
		}
		check(NewUnread(store, NewRecent(lastPos)), alice, 0, 0)
		// More events than the ring holds since the cached position: the
		// count is brought forward from the database.
		for i := 0; i < recentPerRoom+10; i++ {
			send(bob, "m.room.message", text("flood"))
		}
		fresh := NewRecent(lastPos) // memory lost the room
		check(NewUnread(store, fresh), alice, recentPerRoom+10, 0)
		check(u, alice, recentPerRoom+10, 0) // the cached entry is too old for memory
		// Read receipts move the read point: a threaded receipt for
		// another thread does not, a main-timeline one does; the cache is
		// dropped when a receipt arrives.
		mid := send(bob, "m.room.message", text("middle"))
		send(bob, "m.room.message", text("after the receipt"))
		check(u, alice, recentPerRoom+12, 0)
		receipt := func(typ, thread string) {
			r := api.Receipt{RoomID: room, UserID: alice, Type: typ, EventID: mid.ID, ThreadID: thread, TS: 1}
			if _, err := store.PutReceipt(ctx, &r, nil); err != nil {
				t.Fatal(err)
			}
			u.Forget(room, alice)
		}
		receipt(api.ReceiptRead, "$root")
		check(u, alice, recentPerRoom+12, 0)
		receipt(api.ReceiptReadPrivate, api.ThreadMain)
		check(u, alice, 1, 0)
		check(NewUnread(store, NewRecent(lastPos)), alice, 1, 0)
		check(u, bob, 0, 0)
	})
}
