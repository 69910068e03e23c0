// Package consumers feeds the sync component from the bus: the roomserver's
// output log becomes the sync stream.
package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// Group is the consumer group of the sync component on the output log.
const Group = "syncapi"

// RoomserverConsumer stores output events in stream order and wakes the
// users they concern. It is idempotent: a redelivered event is stored once.
type RoomserverConsumer struct {
	store    *storage.Storage
	notifier *internal.Notifier
	recent   *internal.Recent
	log      logrus.FieldLogger
	// writeMu makes stream positions visible in the order they are given,
	// so a reader never sees position n+1 before n (partitions of the bus
	// deliver different rooms in parallel).
	writeMu sync.Mutex
}

// NewRoomserverConsumer returns the consumer.
func NewRoomserverConsumer(store *storage.Storage, n *internal.Notifier, recent *internal.Recent, log logrus.FieldLogger) *RoomserverConsumer {
	return &RoomserverConsumer{store: store, notifier: n, recent: recent, log: log}
}

// Start subscribes to the output log.
func (c *RoomserverConsumer) Start(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	return b.Subscribe(ctx, roomapi.OutputTopic, Group, c.handle)
}

func (c *RoomserverConsumer) handle(ctx context.Context, msg *bus.Message) error {
	var out roomapi.OutputEvent
	if err := json.Unmarshal(msg.Body, &out); err != nil {
		// A message that can never be read is logged and skipped, not retried forever.
		c.log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable output event")
		return nil
	}
	if out.Type != roomapi.OutputTypeNewRoomEvent {
		return nil
	}
	ce, err := roomapi.Event{ID: out.EventID, RoomID: out.RoomID, PDU: out.Event}.Client()
	if err != nil {
		c.log.WithError(err).WithField("event_id", out.EventID).Error("unreadable event")
		return nil
	}
	js, err := json.Marshal(ce)
	if err != nil {
		return fmt.Errorf("encoding client event: %w", err)
	}
	ev := &storage.Event{ID: ce.EventID, RoomID: ce.RoomID, Type: ce.Type, Sender: ce.Sender, StateKey: ce.StateKey,
		TS: ce.OriginServerTS, TxnID: out.TxnID, DeviceID: out.DeviceID, JSON: js}
	if ce.Type == "m.room.member" {
		var m struct {
			Membership string `json:"membership"`
		}
		_ = json.Unmarshal(ce.Content, &m)
		ev.Membership = m.Membership
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if out.RedactedEventID != "" {
		if err := c.applyRedaction(ctx, out, js); err != nil {
			return err
		}
	}
	pos, stored, err := c.store.InsertEvent(ctx, ev)
	if err != nil {
		return err
	}
	if !stored {
		return nil
	}
	ev.Pos = pos
	c.recent.Add(ev)
	target := ""
	if ce.Type == "m.room.member" && ce.StateKey != nil {
		target = *ce.StateKey
	}
	c.notifier.OnEvent(ce.RoomID, pos, target, ev.Membership)
	return nil
}

// applyRedaction replaces the stored copy of a redacted event with its
// redacted form, marked with the redaction in unsigned.redacted_because
// (spec: "Redactions", client behaviour).
func (c *RoomserverConsumer) applyRedaction(ctx context.Context, out roomapi.OutputEvent, redaction json.RawMessage) error {
	ce, err := roomapi.Event{ID: out.RedactedEventID, RoomID: out.RoomID, PDU: out.RedactedEvent}.Client()
	if err != nil {
		c.log.WithError(err).WithField("event_id", out.RedactedEventID).Error("unreadable redacted event")
		return nil
	}
	unsigned := map[string]json.RawMessage{}
	if len(ce.Unsigned) > 0 {
		_ = json.Unmarshal(ce.Unsigned, &unsigned)
	}
	unsigned["redacted_because"] = redaction
	if ce.Unsigned, err = json.Marshal(unsigned); err != nil {
		return err
	}
	js, err := json.Marshal(ce)
	if err != nil {
		return err
	}
	if err := c.store.ReplaceEventJSON(ctx, out.RedactedEventID, js); err != nil {
		return err
	}
	c.recent.Replace(out.RoomID, out.RedactedEventID, js)
	return nil
}
