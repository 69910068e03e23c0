package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/api"
)

// ReceiptStream is what the sync component knows of the receipt stream
// without a query: the latest position announced on the bus. A /sync reads
// receipts up to it, so one stored but not yet announced (its transaction
// committed, its bus message on the way) comes in the next response.
type ReceiptStream struct {
	pos atomic.Int64
}

// NewReceiptStream starts at the stored maximum.
func NewReceiptStream(pos int64) *ReceiptStream {
	s := &ReceiptStream{}
	s.pos.Store(pos)
	return s
}

// Note records an announced position (the position never moves back).
func (s *ReceiptStream) Note(pos int64) {
	for {
		cur := s.pos.Load()
		if pos <= cur || s.pos.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// Pos is the latest announced position.
func (s *ReceiptStream) Pos() int64 { return s.pos.Load() }

// Ephemeral is the sync component's share of the room signals that are
// not room events: typing (memory), receipts (stored, announced on the
// bus) and the unread counts receipts clear.
type Ephemeral struct {
	Typing   *Typing
	Receipts *ReceiptStream
	Counts   *CountsCache
	Bus      bus.Bus
}

// PublishTyping hands a typing change to the bus; the sync component's
// consumer applies it (TypingTopic), so every process serving /sync hears
// of it, and the federation component sends it on.
func (e *Ephemeral) PublishTyping(ctx context.Context, ch api.TypingChange) error {
	body, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	if err := e.Bus.Publish(ctx, api.TypingTopic, ch.RoomID, body, nil); err != nil {
		return fmt.Errorf("publishing a typing change: %w", err)
	}
	return nil
}

// AnnounceReceipt publishes a stored receipt on ReceiptTopic; with ctx
// carrying the transaction that stored it, it is delivered iff that
// commits.
func (e *Ephemeral) AnnounceReceipt(ctx context.Context, r *api.Receipt) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return e.Bus.Publish(ctx, api.ReceiptTopic, r.RoomID, body, nil)
}

// OnReceipt applies an announced receipt: the stream position moves on,
// the owner's unread counts are counted again, and the room's members (the
// owner alone, for a private receipt) are woken.
func (e *Ephemeral) OnReceipt(n *Notifier, r api.Receipt) {
	e.Receipts.Note(r.Pos)
	e.Counts.Invalidate(r.UserID, r.RoomID)
	if r.Type == api.ReceiptReadPrivate {
		n.WakeUser(r.UserID, 0)
		return
	}
	n.WakeRoom(r.RoomID)
}
