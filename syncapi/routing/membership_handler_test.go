package routing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TestUnsignedMembership: timeline events carry the reader's membership at
// the event (spec: ClientEvent unsigned.membership), including the change
// the event itself made, and unsigned.transaction_id for the device that
// sent them, on every endpoint that returns timeline events.
func TestUnsignedMembership(t *testing.T) {
	e := newEnv(t)
	sent, err := e.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{
		RoomID:   e.room,
		Sender:   e.alice.ID,
		DeviceID: e.alice.Device,
		TxnID:    "txn-1",
		Type:     "m.room.message",
		Content:  json.RawMessage(`{"msgtype":"m.text","body":"with a txn"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitStored(t, sent)

	// bob's view of the room from its start: before his invite, invited,
	// joined.
	res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?dir=f&limit=100"), e.bob.Token, nil)
	res.Want(t, http.StatusOK)
	seen := map[string]string{}
	for _, ev := range decodeMessages(t, res).Chunk {
		key := ev.Type
		if ev.StateKey != nil && *ev.StateKey == e.bob.ID {
			key += " " + ev.Content["membership"].(string)
		}
		if _, ok := seen[key]; !ok {
			seen[key] = ev.Unsigned.Membership
		}
		if ev.Unsigned.TransactionID != "" {
			t.Fatalf("bob sees alice's transaction ID on %s", ev.EventID)
		}
	}
	for key, want := range map[string]string{
		"m.room.create":        "leave",
		"m.room.member invite": "invite",
		"m.room.member join":   "join",
		"m.room.message":       "join",
	} {
		if seen[key] != want {
			t.Errorf("bob's membership at the first %s: %q, want %q", key, seen[key], want)
		}
	}

	// The sending device sees its transaction ID wherever the event shows.
	for name, path := range map[string]string{
		"messages": roomPath(e.room, "messages?dir=b&limit=1"),
		"event":    roomPath(e.room, "event/"+url.PathEscape(sent)),
	} {
		t.Run(name, func(t *testing.T) {
			res := e.Do(t, http.MethodGet, path, e.alice.Token, nil)
			res.Want(t, http.StatusOK)
			var ev clientEvent
			if name == "messages" {
				ev = decodeMessages(t, res).Chunk[0]
			} else {
				res.Decode(t, &ev)
			}
			if ev.EventID != sent || ev.Unsigned.TransactionID != "txn-1" || ev.Unsigned.Membership != "join" {
				t.Fatalf("alice's own event: %+v", ev)
			}
		})
	}
	t.Run("sync", func(t *testing.T) {
		tl := doSync(t, e.Fixture, e.alice, "").Rooms.Join[e.room].Timeline.Events
		last := tl[len(tl)-1]
		if last.EventID != sent || last.Unsigned.TransactionID != "txn-1" {
			t.Fatalf("alice's own event in /sync: %+v", last)
		}
	})
}
