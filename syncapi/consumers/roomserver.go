// Package consumers feeds the sync component from the bus: the roomserver's
// output log becomes the sync stream.
package consumers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//
// The bus delivers partitions (rooms) in parallel; their events are written
// in batches: whichever handler finds no batch being written writes every
// event queued meanwhile in one transaction, then wakes the readers in
// stream order and answers each waiting handler.
type RoomserverConsumer struct {
	store    *storage.Storage
	notifier *internal.Notifier
	recent   *internal.Recent
	// pushes, when set, evaluates each stored event's push rules for the
	// room's local members in the transaction that stores it.
	pushes *internal.Pushes
	// searchOn: a search backend indexes the events, so a purged room's
	// events are queued for it to drop.
	searchOn bool
	log      logrus.FieldLogger

	mu      sync.Mutex
	queue   []*pending
	writing bool
}

// pending is an event waiting in the queue for its batch to commit.
type pending struct {
	out  roomapi.OutputEvent
	ev   *storage.Event
	done chan error
}

// maxBatch bounds the events written in one transaction.
const maxBatch = 256

// NewRoomserverConsumer returns the consumer.
func NewRoomserverConsumer(
	store *storage.Storage, n *internal.Notifier, recent *internal.Recent, pushes *internal.Pushes, searchOn bool,
	log logrus.FieldLogger,
) *RoomserverConsumer {
	return &RoomserverConsumer{store: store, notifier: n, recent: recent, pushes: pushes, searchOn: searchOn, log: log}
}

// Start subscribes to the output log.
func (c *RoomserverConsumer) Start(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	return b.SubscribeBatch(ctx, roomapi.OutputTopic, Group, c.handle)
}

// handle stores a batch of one partition's output events, and purges the
// rooms the roomserver purged in their place in the batch; it returns nil
// once all of them are done.
func (c *RoomserverConsumer) handle(ctx context.Context, msgs []*bus.Message) error {
	// A purge applies after the partition's events before it: a room's
	// (the admin API's delete) or old events' (retention, purge.go).
	start := 0
	for i, msg := range msgs {
		roomID, isRoom := purgedRoom(msg)
		events := c.decodePurge(msg)
		if !isRoom && events == nil {
			continue
		}
		if err := c.handleEvents(ctx, msgs[start:i]); err != nil {
			return err
		}
		var err error
		if isRoom {
			err = c.purgeRoom(ctx, roomID)
		} else {
			err = c.applyPurge(ctx, events)
		}
		if err != nil {
			return err
		}
		start = i + 1
	}
	return c.handleEvents(ctx, msgs[start:])
}

// purgedRoom reads a purge_room message's room.
func purgedRoom(msg *bus.Message) (string, bool) {
	var out struct {
		Type   string `json:"type"`
		RoomID string `json:"room_id"`
	}
	if json.Unmarshal(msg.Body, &out) != nil || out.Type != roomapi.OutputTypePurgeRoom || out.RoomID == "" {
		return "", false
	}
	return out.RoomID, true
}

// purgeRoom removes a purged room's rows and what memory holds of it. A
// redelivery purges nothing more.
func (c *RoomserverConsumer) purgeRoom(ctx context.Context, roomID string) error {
	if _, err := c.store.PurgeRoom(ctx, roomID, c.searchOn); err != nil {
		return err
	}
	c.recent.Forget(roomID)
	if c.pushes != nil {
		c.pushes.Forget(roomID)
	}
	c.log.WithField("room_id", roomID).Info("room purged")
	return nil
}

// handleEvents stores a batch of new room events; it returns nil once all
// of them are stored.
func (c *RoomserverConsumer) handleEvents(ctx context.Context, msgs []*bus.Message) error {
	mine := make([]*pending, 0, len(msgs))
	for _, msg := range msgs {
		if p := c.decode(msg); p != nil {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	c.mu.Lock()
	c.queue = append(c.queue, mine...)
	if !c.writing {
		// No batch is being written: this handler writes batches until the
		// queue is empty, its own events among the first.
		c.writing = true
		c.mu.Unlock()
		for {
			c.mu.Lock()
			n := min(len(c.queue), maxBatch)
			batch := c.queue[:n:n]
			c.queue = c.queue[n:]
			if n == 0 {
				c.writing = false
				c.queue = nil
				c.mu.Unlock()
				break
			}
			c.mu.Unlock()
			c.writeBatch(ctx, batch)
		}
	} else {
		c.mu.Unlock()
	}
	var errs []error
	for _, p := range mine {
		select {
		case err := <-p.done:
			errs = append(errs, err)
		case <-ctx.Done():
			// The batch may still commit them; a redelivery is then a no-op.
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// decode reads an output event; nil for messages that are not new room
// events or that can never be read (logged and skipped, not retried
// forever).
func (c *RoomserverConsumer) decode(msg *bus.Message) *pending {
	var out roomapi.OutputEvent
	if err := json.Unmarshal(msg.Body, &out); err != nil {
		c.log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable output event")
		return nil
	}
	if out.Type != roomapi.OutputTypeNewRoomEvent {
		return nil
	}
	ev, err := internal.StorageEvent(out.EventID, out.RoomID, out.Event)
	if err != nil {
		c.log.WithError(err).WithField("event_id", out.EventID).Error("unreadable event")
		return nil
	}
	ev.TxnID, ev.DeviceID, ev.Outlier, ev.Gap = out.TxnID, out.DeviceID, out.Outlier, out.Gap
	return &pending{out: out, ev: ev, done: make(chan error, 1)}
}

// writeBatch stores batch in one transaction, then updates memory and
// wakes readers in stream order, then answers each event's handler. If the
// batch fails as a whole, its events are written one by one, so one bad
// event fails alone.
func (c *RoomserverConsumer) writeBatch(ctx context.Context, batch []*pending) {
	// The write is finished even if this handler's own delivery is being
	// cancelled: the others in the batch wait for it.
	ctx = context.WithoutCancel(ctx)
	results, err := c.insert(ctx, batch)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			c.writeBatch(ctx, []*pending{p})
		}
		return
	}
	if err != nil {
		batch[0].done <- err
		return
	}
	for i, p := range batch {
		if r := results[i]; r.stored {
			c.published(p, r)
		}
		p.done <- nil
	}
}

// inserted is what writing one pending event did.
type inserted struct {
	pos      int64
	stored   bool
	redacted json.RawMessage // the redacted event's new JSON, if any
}

// published makes a stored event visible: recent events and the notifier.
func (c *RoomserverConsumer) published(p *pending, r inserted) {
	if r.redacted != nil {
		c.recent.Replace(p.out.RoomID, p.out.RedactedEventID, r.redacted)
	}
	p.ev.Pos = r.pos
	if p.ev.Outlier {
		// Part of the state a join brought, below the timeline: the
		// notifier learns the memberships it does not know yet.
		if p.ev.Type == "m.room.member" && p.ev.StateKey != nil {
			c.notifier.OnOutlierMember(p.ev.RoomID, r.pos, *p.ev.StateKey, p.ev.Membership)
		}
		return
	}
	c.recent.Add(p.ev)
	target := ""
	if p.ev.Type == "m.room.member" && p.ev.StateKey != nil && !p.ev.NotCurrent {
		target = *p.ev.StateKey
	}
	c.notifier.OnEvent(p.ev.RoomID, r.pos, target, p.ev.Membership)
	// Only now, so that HasUserEvent implies the notifier has the event
	// (a sync that finds it there reads the membership it changed).
	c.notifier.NoteUserEvent(p.ev.Sender, p.ev.ID)
	if p.ev.Type == "m.room.member" && p.ev.StateKey != nil {
		c.notifier.NoteUserEvent(*p.ev.StateKey, p.ev.ID)
	}
}

// insert writes batch in one group-commit transaction.
func (c *RoomserverConsumer) insert(ctx context.Context, batch []*pending) ([]inserted, error) {
	var results []inserted
	err := c.store.WithGroupTx(ctx, func(ctx context.Context) error {
		results = make([]inserted, len(batch)) // the group may run this again
		for i, p := range batch {
			if p.out.RedactedEventID != "" {
				js, err := c.redactedJSON(p.out, p.ev.JSON)
				if err != nil {
					return err
				}
				if js != nil {
					if err := c.store.ReplaceEventJSON(ctx, p.out.RedactedEventID, js); err != nil {
						return err
					}
					results[i].redacted = js
					// A redacted event no longer notifies anyone.
					if err := c.store.DeleteNotifications(ctx, p.out.RedactedEventID); err != nil {
						return err
					}
				}
			}
			var others []string
			if p.out.Resolved && p.ev.StateKey != nil {
				p.ev.NotCurrent = !slices.Contains(p.out.StateChanged, p.ev.ID)
			}
			for _, id := range p.out.StateChanged {
				if id != p.ev.ID {
					others = append(others, id)
				}
			}
			if p.ev.StateKey != nil && !p.ev.Outlier {
				if err := c.addPrevContent(ctx, p.ev); err != nil {
					return err
				}
			}
			pos, stored, err := c.store.InsertEvent(ctx, p.ev)
			if err != nil {
				return err
			}
			if err := c.evaluatePushes(ctx, p.ev, pos, stored, len(others) > 0); err != nil {
				return err
			}
			// State resolution may bring back older events as current.
			if err := c.store.SetCurrentState(ctx, others); err != nil {
				return err
			}
			results[i].pos, results[i].stored = pos, stored
		}
		return nil
	})
	if err != nil && c.pushes != nil {
		// What the evaluator learnt of these rooms' state was not stored.
		for _, p := range batch {
			c.pushes.Forget(p.ev.RoomID)
		}
	}
	return results, err
}

// evaluatePushes runs the room's local members' push rules on an event
// just stored at pos (not on a redelivered one); resolved, state resolution
// changed other state, which the evaluator then reads again.
func (c *RoomserverConsumer) evaluatePushes(ctx context.Context, ev *storage.Event, pos int64, stored, resolved bool) error {
	if c.pushes == nil || !stored {
		return nil
	}
	if resolved {
		c.pushes.Forget(ev.RoomID)
	}
	ev.Pos = pos
	if err := c.pushes.Evaluate(ctx, ev); err != nil {
		return fmt.Errorf("push rules for %s: %w", ev.ID, err)
	}
	return nil
}

// addPrevContent gives a state event the content, sender and ID of the
// state event it replaces (spec: client-server API, "unsigned":
// prev_content, prev_sender, replaces_state), from the current state.
func (c *RoomserverConsumer) addPrevContent(ctx context.Context, ev *storage.Event) error {
	prev, err := c.store.CurrentStateEvent(ctx, ev.RoomID, ev.Type, *ev.StateKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil || prev.ID == ev.ID {
		return err
	}
	var p struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(prev.JSON, &p) != nil || len(p.Content) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(ev.JSON, &m) != nil {
		return nil
	}
	unsigned := map[string]any{}
	if raw, ok := m["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned["prev_content"] = p.Content
	unsigned["prev_sender"] = prev.Sender
	unsigned["replaces_state"] = prev.ID
	b, err := json.Marshal(unsigned)
	if err != nil {
		return err
	}
	m["unsigned"] = b
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ev.JSON = js
	return nil
}

// redactedJSON is the client form of an event a redaction removed the
// content of, marked with the redaction in unsigned.redacted_because (spec:
// "Redactions", client behaviour); nil if the roomserver's copy cannot be
// read (logged: retrying would not help).
func (c *RoomserverConsumer) redactedJSON(out roomapi.OutputEvent, redaction json.RawMessage) (json.RawMessage, error) {
	ce, err := roomapi.Event{ID: out.RedactedEventID, RoomID: out.RoomID, PDU: out.RedactedEvent}.Client()
	if err != nil {
		c.log.WithError(err).WithField("event_id", out.RedactedEventID).Error("unreadable redacted event")
		return nil, nil
	}
	unsigned := map[string]json.RawMessage{}
	if len(ce.Unsigned) > 0 {
		_ = json.Unmarshal(ce.Unsigned, &unsigned)
	}
	unsigned["redacted_because"] = redaction
	if ce.Unsigned, err = json.Marshal(unsigned); err != nil {
		return nil, err
	}
	return json.Marshal(ce)
}
