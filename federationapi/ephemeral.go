package federationapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// Typing notifications and receipts over federation (spec: server-server
// API, "Typing Notifications" and "Receipts"): local users' changes go to
// the other servers in the room as m.typing and m.receipt EDUs; those
// other servers send are accepted for their own users joined to the room,
// unless the room's server ACL denies the sender (spec: "Server Access
// Control Lists": they apply to EDUs tied to a room, MSC4163).

// ephemeralGroup is the federation component's consumer group on the sync
// component's typing and receipt topics.
const ephemeralGroup = "federationapi"

// typingEDU is m.typing's content.
type typingEDU struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Typing bool   `json:"typing"`
}

// receiptEDU is m.receipt's content: room ID → receipt type → user ID →
// the receipt.
type receiptEDU map[string]map[string]map[string]userReceipt

type userReceipt struct {
	EventIDs []string `json:"event_ids"`
	Data     struct {
		TS       int64  `json:"ts"`
		ThreadID string `json:"thread_id,omitempty"`
	} `json:"data"`
}

// startEphemeral subscribes to local typing changes and receipts, and
// keeps the bus to hand inbound ones to the sync component.
func (f *FederationAPI) startEphemeral(ctx context.Context, b bus.Bus) error {
	f.bus = b
	sub, err := b.Subscribe(ctx, syncapi.TypingTopic, ephemeralGroup, f.onTyping)
	if err != nil {
		return err
	}
	f.ephSubs = append(f.ephSubs, sub)
	if sub, err = b.Subscribe(ctx, syncapi.ReceiptTopic, ephemeralGroup, f.onReceipt); err != nil {
		return err
	}
	f.ephSubs = append(f.ephSubs, sub)
	return nil
}

// onTyping sends a local user's typing change to the room's other servers.
func (f *FederationAPI) onTyping(ctx context.Context, msg *bus.Message) error {
	var ch syncapi.TypingChange
	if json.Unmarshal(msg.Body, &ch) != nil || !isUserOf(ch.UserID, f.name) {
		return nil // another server's user: their server tells the others
	}
	return f.sendRoomEDU(ctx, ch.RoomID, edu{Type: "m.typing", Content: typingEDU{RoomID: ch.RoomID, UserID: ch.UserID, Typing: ch.Typing}})
}

// onReceipt sends a local user's public read receipt to the room's other
// servers; private receipts never leave this server (spec: "Private read
// receipts").
func (f *FederationAPI) onReceipt(ctx context.Context, msg *bus.Message) error {
	var r syncapi.Receipt
	if json.Unmarshal(msg.Body, &r) != nil || r.Type != syncapi.ReceiptRead || !isUserOf(r.UserID, f.name) {
		return nil
	}
	var ur userReceipt
	ur.EventIDs = []string{r.EventID}
	ur.Data.TS, ur.Data.ThreadID = r.TS, r.ThreadID
	content := receiptEDU{r.RoomID: {syncapi.ReceiptRead: {r.UserID: ur}}}
	return f.sendRoomEDU(ctx, r.RoomID, edu{Type: "m.receipt", Content: content})
}

// otherServersIn are the servers joined to a room, this one left out
// (none for a room this server is no longer in).
func (f *FederationAPI) otherServersIn(ctx context.Context, roomID string) []string {
	servers, err := f.opts.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return nil
	}
	return slices.DeleteFunc(servers, func(s string) bool { return s == string(f.name) })
}

// sendRoomEDU queues an EDU for the servers joined to a room, this one
// left out.
func (f *FederationAPI) sendRoomEDU(ctx context.Context, roomID string, e edu) error {
	if f.opts.Rooms == nil || f.queues == nil {
		return nil
	}
	dests := f.otherServersIn(ctx, roomID)
	if len(dests) == 0 {
		return nil
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return f.queues.EnqueueEDU(ctx, dests, body)
}

// mayActInRoom reports whether an EDU of origin about userID in roomID is
// to be taken: userID is origin's, the room's ACL lets origin in, and the
// user is joined to the room.
func (f *FederationAPI) mayActInRoom(ctx context.Context, origin spec.ServerName, roomID, userID string) (bool, error) {
	if f.opts.Rooms == nil || !isUserOf(userID, origin) || !f.opts.Rooms.ServerAllowed(ctx, roomID, string(origin)) {
		return false, nil
	}
	rooms, err := f.opts.Rooms.JoinedRooms(ctx, userID)
	if err != nil {
		return false, err
	}
	return slices.Contains(rooms, roomID), nil
}

// inputTyping hands an accepted m.typing EDU to the sync component.
func (f *FederationAPI) inputTyping(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	var t typingEDU
	if json.Unmarshal(content, &t) != nil || t.RoomID == "" {
		return nil
	}
	ok, err := f.mayActInRoom(ctx, origin, t.RoomID, t.UserID)
	if err != nil || !ok || f.bus == nil {
		return err
	}
	body, err := json.Marshal(syncapi.TypingChange{RoomID: t.RoomID, UserID: t.UserID, Typing: t.Typing})
	if err != nil {
		return err
	}
	return f.bus.Publish(ctx, syncapi.TypingTopic, t.RoomID, body, nil)
}

// inputReceipt hands an m.receipt EDU's accepted m.read receipts to the
// sync component to store (other receipt types are not shared between
// servers and are dropped).
func (f *FederationAPI) inputReceipt(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	var rec receiptEDU
	if json.Unmarshal(content, &rec) != nil || f.bus == nil {
		return nil
	}
	for roomID, byType := range rec {
		for userID, ur := range byType[syncapi.ReceiptRead] {
			ok, err := f.mayActInRoom(ctx, origin, roomID, userID)
			if err != nil {
				return err
			}
			if !ok || len(ur.EventIDs) == 0 {
				continue
			}
			r := syncapi.Receipt{RoomID: roomID, UserID: userID, Type: syncapi.ReceiptRead,
				EventID: ur.EventIDs[len(ur.EventIDs)-1], ThreadID: ur.Data.ThreadID, TS: ur.Data.TS}
			body, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := f.bus.Publish(ctx, syncapi.ReceiptInputTopic, roomID, body, nil); err != nil {
				return fmt.Errorf("publishing a receipt: %w", err)
			}
		}
	}
	return nil
}
