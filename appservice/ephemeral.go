package appservice

import (
	"context"
	"encoding/json"
	"fmt"

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
		if err := json.Unmarshal(m.Body, &r); err != nil || r.Type != syncapi.ReceiptRead {
			continue // private receipts are their owner's alone
		}
		ok := s.ownsLocal(r.UserID)
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
