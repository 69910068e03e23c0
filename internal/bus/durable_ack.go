package bus

import (
	"context"
	"sync"
)

// Acknowledgements are recorded asynchronously: a partition worker goes on
// to its next message as soon as the handler returned, and the offsets of
// every partition and group acknowledged meanwhile are written together, in
// one group-commit write. A crash may lose the newest few offsets, and those
// messages are then delivered again (delivery is at least once and
// consumers deduplicate); Close and a stopping group write what is pending
// first, so a graceful restart redelivers nothing.

// ackKey names one offset row.
type ackKey struct {
	topic, group string
	part         int
}

// acks holds offsets not yet written.
type acks struct {
	mu      sync.Mutex
	pending map[ackKey]int64
	kick    chan struct{}
	// flushMu makes flushes run one at a time, so an older offset is never
	// written after a newer one.
	flushMu sync.Mutex
}

func newAcks() *acks {
	return &acks{pending: map[ackKey]int64{}, kick: make(chan struct{}, 1)}
}

// add records that the group acknowledged position pos of a partition.
func (a *acks) add(k ackKey, pos int64) {
	a.mu.Lock()
	if pos > a.pending[k] {
		a.pending[k] = pos
	}
	a.mu.Unlock()
	kick(a.kick)
}

// take removes and returns the pending offsets.
func (a *acks) take() map[ackKey]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return nil
	}
	p := a.pending
	a.pending = map[ackKey]int64{}
	return p
}

// putBack returns offsets whose write failed, unless newer ones arrived.
func (a *acks) putBack(p map[ackKey]int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, pos := range p {
		if pos > a.pending[k] {
			a.pending[k] = pos
		}
	}
}

// ackLoop writes pending offsets until the bus closes (Close writes the
// last ones).
func (d *Durable) ackLoop() {
	defer d.wg.Done()
	failures := 0
	for {
		select {
		case <-d.root.Done():
			return
		case <-d.acks.kick:
		}
		if err := d.flushAcks(d.root); err != nil {
			if d.root.Err() != nil {
				return
			}
			d.log.WithError(err).Warn("bus: recording acknowledgements failed; retrying")
			if !sleepCtx(d.root, backoff(d.opts.RetryMin, d.opts.RetryMax, failures)) {
				return
			}
			failures++
			kick(d.acks.kick)
			continue
		}
		failures = 0
	}
}

// flushAcks writes the pending offsets in one group-commit write; on failure
// they stay pending.
func (d *Durable) flushAcks(ctx context.Context) error {
	d.acks.flushMu.Lock()
	defer d.acks.flushMu.Unlock()
	p := d.acks.take()
	if p == nil {
		return nil
	}
	err := d.db.WithGroupTx(ctx, func(ctx context.Context) error {
		for k, pos := range p {
			if _, err := d.db.Exec(ctx, `INSERT INTO bus_offsets (topic, group_name, part, last_pos) VALUES ($1, $2, $3, $4)
				ON CONFLICT (topic, group_name, part) DO UPDATE SET last_pos = excluded.last_pos
				WHERE bus_offsets.last_pos < excluded.last_pos`, k.topic, k.group, k.part, pos); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.acks.putBack(p)
	}
	return err
}

// flushAcksNow writes pending offsets even while the bus closes, bounded by
// ackTimeout; a failure is logged (those messages may be redelivered after a
// restart).
func (d *Durable) flushAcksNow() {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := d.flushAcks(ctx); err != nil {
		d.log.WithError(err).Error("bus: recording acknowledgements failed; those messages may be redelivered after a restart")
	}
}
