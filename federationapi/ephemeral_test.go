package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// heard collects what the federation component hands the sync component
// on one topic, per room.
type heard struct {
	mu   sync.Mutex
	got  map[string][]map[string]any // room ID → bodies
	mark chan string                 // marker bodies' IDs
}

const markerUser = "@marker:test"

func listen(t *testing.T, b bus.Bus, topic string) *heard {
	t.Helper()
	h := &heard{got: map[string][]map[string]any{}, mark: make(chan string, 16)}
	sub, err := b.Subscribe(context.Background(), topic, "ephemeral-test", func(_ context.Context, msg *bus.Message) error {
		var body map[string]any
		_ = json.Unmarshal(msg.Body, &body)
		if body["user_id"] == markerUser {
			h.mark <- body["event_id"].(string)
			return nil
		}
		h.mu.Lock()
		h.got[msg.Key] = append(h.got[msg.Key], body)
		h.mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return h
}

// settle publishes a marker keyed by room and waits for it: what the
// transaction published for the room before it has then been delivered
// (the bus keeps one key's order).
func (h *heard) settle(t *testing.T, b bus.Bus, topic, room, id string) []map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user_id": markerUser, "event_id": id})
	if err := b.Publish(context.Background(), topic, room, body, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-h.mark:
		if got != id {
			t.Fatalf("marker %s, want %s", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the marker never came")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.got[room]
	delete(h.got, room)
	return out
}

// TestEphemeralEDUs: m.typing and m.receipt EDUs are handed to the sync
// component for the origin's own users joined to the room, and dropped
// otherwise, and when the room's server ACL denies the origin (MSC4163);
// receipt types other than m.read are dropped.
func TestEphemeralEDUs(t *testing.T) {
	f := newFed(t)
	if err := f.api.StartSending(context.Background(), f.Bus); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.api.Close() })
	typing, receipts := listen(t, f.Bus, syncapi.TypingTopic), listen(t, f.Bus, syncapi.ReceiptInputTopic)
	alice, rita := f.User(t, "alice"), remoteUser("rita")
	hall, denied, lonely := f.publicRoom(t, alice), f.publicRoom(t, alice), f.publicRoom(t, alice)
	f.joinRemote(t, hall, rita)
	f.joinRemote(t, denied, rita)
	f.state(t, alice, denied, "m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{"remote.test"}})
	msg := f.Send(t, alice, hall, "read me")

	typingEDU := func(room, user string) map[string]any {
		return map[string]any{"edu_type": "m.typing", "content": map[string]any{"room_id": room, "user_id": user, "typing": true}}
	}
	receiptEDU := func(room, user, rtype string) map[string]any {
		return map[string]any{"edu_type": "m.receipt", "content": map[string]any{room: map[string]any{rtype: map[string]any{
			user: map[string]any{"event_ids": []string{msg}, "data": map[string]any{"ts": 5, "thread_id": "main"}}}}}}
	}
	tests := []struct {
		name, room string
		edu        map[string]any
		topic      string
		h          *heard
		want       int
	}{
		{"typing", hall, typingEDU(hall, rita), syncapi.TypingTopic, typing, 1},
		{"typing of another server's user", hall, typingEDU(hall, "@sam:stranger.test"), syncapi.TypingTopic, typing, 0},
		{"typing in a room the user is not in", lonely, typingEDU(lonely, rita), syncapi.TypingTopic, typing, 0},
		{"typing through the ACL", denied, typingEDU(denied, rita), syncapi.TypingTopic, typing, 0},
		{"receipt", hall, receiptEDU(hall, rita, "m.read"), syncapi.ReceiptInputTopic, receipts, 1},
		{"private receipt", hall, receiptEDU(hall, rita, "m.read.private"), syncapi.ReceiptInputTopic, receipts, 0},
		{"receipt of another server's user", hall, receiptEDU(hall, "@sam:stranger.test", "m.read"),
			syncapi.ReceiptInputTopic, receipts, 0},
		{"receipt through the ACL", denied, receiptEDU(denied, rita, "m.read"), syncapi.ReceiptInputTopic, receipts, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txn := map[string]any{"origin": "remote.test", "origin_server_ts": 1, "pdus": []any{}, "edus": []any{tc.edu}}
			f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send/eph"+strconv.Itoa(i), txn).Want(t, http.StatusOK)
			got := tc.h.settle(t, f.Bus, tc.topic, tc.room, "$mark"+strconv.Itoa(i))
			if len(got) != tc.want {
				t.Fatalf("handed on %v, want %d", got, tc.want)
			}
			if tc.want == 1 && (got[0]["user_id"] != rita || got[0]["room_id"] != tc.room) {
				t.Fatalf("handed on %v", got[0])
			}
			if tc.topic == syncapi.ReceiptInputTopic && tc.want == 1 && (got[0]["event_id"] != msg || got[0]["thread_id"] != "main") {
				t.Fatalf("receipt %v, want %s in thread main", got[0], msg)
			}
		})
	}
}
