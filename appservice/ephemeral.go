package appservice

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// wantsEphemeral reports whether a service asked for ephemeral events
// (spec: registration receive_ephemeral; MSC2409's push_ephemeral and
// de.sorunome.msc2409.push_ephemeral, which bridges still write).
func wantsEphemeral(as *api.Registration) bool {
	return as.ReceiveEphemeral || as.PushEphemeral || as.MSC2409PushEphemeral
}

// startReceipts subscribes the receipts sender of a service: the public
// read receipts (m.read) of the rooms it is interested in, pushed as
// m.receipt ephemeral events (spec: "Pushing ephemeral data"), through a
// consumer group of its own on the receipt topic.
func (s *sender) startReceipts(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	sub, err := b.SubscribeBatch(ctx, syncapi.ReceiptTopic, GroupName(s.as.ID)+"_receipts", s.handleReceipts)
	if err != nil {
		return nil, fmt.Errorf("appservice %s: subscribing its receipts: %w", s.as.ID, err)
	}
	return sub, nil
}

func (s *sender) handleReceipts(ctx context.Context, msgs []*bus.Message) error {
	var ephemeral []map[string]any
	interest := roomInterest{}
	for _, m := range msgs {
		if m.Published.Before(s.since) {
			continue
		}
		var r syncapi.Receipt
		if err := json.Unmarshal(m.Body, &r); err != nil || r.RoomID == "" {
			continue
		}
		// Private receipts go only to the service of their owner (spec:
		// "Pushing ephemeral data", m.receipt).
		ok := s.ownsLocal(r.UserID)
		if !ok && r.Type == syncapi.ReceiptReadPrivate {
			continue
		}
		if !ok {
			var err error
			if ok, err = s.roomInterested(ctx, r.RoomID, interest); err != nil {
				return err
			}
		}
		if ok {
			ephemeral = append(ephemeral, receiptEDU(r))
		}
	}
	if len(ephemeral) == 0 {
		return nil
	}
	return s.pushBody(ctx, "r"+transactionID(msgs)[1:], s.ephemeralBody(ephemeral))
}

// roomInterested is the room part of interested: the room's namespace,
// aliases or members.
func (s *sender) roomInterested(ctx context.Context, roomID string, cache roomInterest) (bool, error) {
	if matchAny(s.as.Namespaces.Rooms, roomID) {
		return true, nil
	}
	if v, ok := cache[roomID]; ok {
		return v, nil
	}
	v, err := s.roomInterests(ctx, roomID)
	if err != nil {
		return false, err
	}
	cache[roomID] = v
	return v, nil
}

// receiptEDU is one receipt as an m.receipt event (spec: client-server
// API, "Receipts", the format /sync uses).
func receiptEDU(r syncapi.Receipt) map[string]any {
	data := map[string]any{"ts": r.TS}
	if r.ThreadID != "" {
		data["thread_id"] = r.ThreadID
	}
	return map[string]any{
		"type":    "m.receipt",
		"room_id": r.RoomID,
		"content": map[string]any{r.EventID: map[string]any{r.Type: map[string]any{r.UserID: data}}},
	}
}

// ephemeralBody is a transaction of ephemeral events only, under the
// spec's key and MSC2409's, which bridges built before it still read.
func (s *sender) ephemeralBody(ephemeral []map[string]any) map[string]any {
	body := map[string]any{"events": []any{}, "ephemeral": ephemeral}
	if s.as.MSC2409PushEphemeral || s.as.PushEphemeral {
		body["de.sorunome.msc2409.ephemeral"] = ephemeral
	}
	return body
}

// defaultTypingTimeout is how long a typing user without a timeout stays
// typing in a service's view.
const defaultTypingTimeout = 30 * time.Second

// typingRooms is a service's view of who is typing in each room, kept from
// the typing changes the bus carries one user at a time: m.typing gives
// the room's whole list.
type typingRooms struct {
	mu    sync.Mutex
	rooms map[string]map[string]time.Time // room → user → until
}

// apply records a change and returns the room's users typing now.
func (t *typingRooms) apply(c syncapi.TypingChange, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rooms == nil {
		t.rooms = map[string]map[string]time.Time{}
	}
	users := t.rooms[c.RoomID]
	if users == nil {
		users = map[string]time.Time{}
		t.rooms[c.RoomID] = users
	}
	if c.Typing {
		timeout := time.Duration(c.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = defaultTypingTimeout
		}
		users[c.UserID] = now.Add(timeout)
	} else {
		delete(users, c.UserID)
	}
	ids := []string{}
	for u, until := range users {
		if until.After(now) {
			ids = append(ids, u)
		} else {
			delete(users, u)
		}
	}
	if len(users) == 0 {
		delete(t.rooms, c.RoomID)
	}
	sort.Strings(ids)
	return ids
}

// startTyping subscribes the typing sender of a service: m.typing
// ephemeral events of the rooms it is interested in.
func (s *sender) startTyping(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	sub, err := b.SubscribeBatch(ctx, syncapi.TypingTopic, GroupName(s.as.ID)+"_typing", s.handleTyping)
	if err != nil {
		return nil, fmt.Errorf("appservice %s: subscribing its typing: %w", s.as.ID, err)
	}
	return sub, nil
}

func (s *sender) handleTyping(ctx context.Context, msgs []*bus.Message) error {
	latest := map[string][]string{}
	var order []string
	interest := roomInterest{}
	for _, m := range msgs {
		if m.Published.Before(s.since) {
			continue
		}
		var c syncapi.TypingChange
		if err := json.Unmarshal(m.Body, &c); err != nil || c.RoomID == "" {
			continue
		}
		ok, err := s.roomInterested(ctx, c.RoomID, interest)
		if err != nil {
			return err
		}
		if !ok && !s.ownsLocal(c.UserID) {
			continue
		}
		if _, seen := latest[c.RoomID]; !seen {
			order = append(order, c.RoomID)
		}
		latest[c.RoomID] = s.typing.apply(c, time.Now())
	}
	if len(order) == 0 {
		return nil
	}
	ephemeral := make([]map[string]any, 0, len(order))
	for _, room := range order {
		ephemeral = append(ephemeral, map[string]any{
			"type": "m.typing", "room_id": room, "content": map[string]any{"user_ids": latest[room]},
		})
	}
	return s.pushBody(ctx, "t"+transactionID(msgs)[1:], s.ephemeralBody(ephemeral))
}
