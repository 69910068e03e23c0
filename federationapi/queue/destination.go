package queue

import (
	"context"
	"errors"
	"time"

	"github.com/sirupsen/logrus"
)

// destination is the state of one destination with a running goroutine.
type destination struct {
	name string
	wake chan struct{} // Wake's signal, buffered 1

	// Guarded by Queues.mu.
	dirty   bool   // rows were queued since the goroutine last read
	queued  counts // rows in the database
	dropped counts // dropped since the last delivery
	failing bool   // the last attempt failed (Flush does not wait then)
}

// run sends dest's batches until its queue is empty or Queues closes.
func (q *Queues) run(d *destination) {
	defer q.wg.Done()
	defer q.m.destinations.Dec()
	log := q.log.WithField("destination", d.name)
	failures := 0 // consecutive, for the backoff
	var downSince time.Time
	var b *batch
	for {
		if b == nil {
			var err error
			b, err = q.nextBatch(d)
			switch {
			case q.ctx.Err() != nil:
				return
			case errors.Is(err, errBatchChanged):
				continue
			case err != nil:
				failures++
				log.WithError(err).Warn("reading the federation queue")
				if !q.backoff(d, &failures) {
					return
				}
				continue
			case b == nil:
				if q.exitIfIdle(d) {
					return
				}
				continue
			}
		}
		select { // a Wake from before this attempt is used up by it
		case <-d.wake:
		default:
		}
		err := q.send(d, b)
		if q.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrRejected) {
			// The destination refused this transaction for good (a 4xx
			// other than 429): retrying would block its queue forever. The
			// events are dropped for it; it can fetch them later.
			q.m.transactions.WithLabelValues("rejected").Inc()
			log.WithError(err).WithField("txn_id", b.txnID).Warn("a federation transaction was refused; dropping it")
			q.delivered(d, b, log)
			failures, downSince, b = 0, time.Time{}, nil
			continue
		}
		if err != nil {
			q.m.transactions.WithLabelValues("failed").Inc()
			q.setFailing(d, true)
			failures++
			first := downSince.IsZero() // since the last delivery; Wake resets failures, not this
			if first {
				downSince = q.opts.Now()
			}
			entry := log.WithError(err).WithFields(logrus.Fields{"txn_id": b.txnID, "failures": failures,
				"retry_in": q.backoffFor(failures).String()})
			if first {
				entry.Warn("sending a federation transaction failed")
			} else {
				entry.Debug("sending a federation transaction failed again")
			}
			if !q.backoff(d, &failures) {
				return
			}
			continue
		}
		q.m.transactions.WithLabelValues("sent").Inc()
		q.setFailing(d, false)
		q.delivered(d, b, log)
		if !downSince.IsZero() {
			log.WithField("down_for", q.opts.Now().Sub(downSince).Round(time.Millisecond).String()).
				Info("destination reachable again")
		}
		failures, downSince, b = 0, time.Time{}, nil
	}
}

// setFailing records whether d's last attempt failed.
func (q *Queues) setFailing(d *destination, failing bool) {
	q.mu.Lock()
	d.failing = failing
	q.mu.Unlock()
}

// nextBatch reads dest's next batch and claims it under a new transaction
// ID unless it has one. It returns nil when nothing is queued.
func (q *Queues) nextBatch(d *destination) (*batch, error) {
	q.mu.Lock()
	d.dirty = false // whatever is queued from here on is seen by this read or the next
	q.mu.Unlock()
	b, err := readBatch(q.ctx, q.db, d.name)
	if err != nil || b == nil {
		return nil, err
	}
	if b.txnID == "" {
		id := q.newTxnID()
		if err := claimBatch(q.ctx, q.db, b, id); err != nil {
			return nil, err
		}
		b.txnID = id
	}
	return b, nil
}

// exitIfIdle removes d when nothing was queued for it since its last read,
// and reports whether it did; otherwise the goroutine reads again.
func (q *Queues) exitIfIdle(d *destination) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d.dirty {
		return false
	}
	delete(q.dests, d.name)
	return true
}

// send makes one attempt at delivering b.
func (q *Queues) send(d *destination, b *batch) error {
	ctx, cancel := context.WithTimeout(q.ctx, q.opts.SendTimeout)
	defer cancel()
	return q.opts.Sender.Send(ctx, Transaction{ID: b.txnID, Destination: d.name, PDUs: b.pdus, EDUs: b.edus})
}

// delivered deletes a delivered batch's rows, retrying on database errors.
// It finishes even when Queues is closing, so that a closed queue does not
// resend what the remote has (it would recognise the transaction ID, but
// the round trip is wasted).
func (q *Queues) delivered(d *destination, b *batch, log logrus.FieldLogger) {
	q.m.sent.WithLabelValues(kindPDU.String()).Add(float64(b.counts[kindPDU]))
	q.m.sent.WithLabelValues(kindEDU.String()).Add(float64(b.counts[kindEDU]))
	done := func() {
		q.mu.Lock()
		d.queued[kindPDU] -= b.counts[kindPDU]
		d.queued[kindEDU] -= b.counts[kindEDU]
		dropped := d.dropped
		d.dropped = counts{}
		q.mu.Unlock()
		q.m.pending.WithLabelValues(kindPDU.String()).Sub(float64(b.counts[kindPDU]))
		q.m.pending.WithLabelValues(kindEDU.String()).Sub(float64(b.counts[kindEDU]))
		if dropped[kindPDU]+dropped[kindEDU] > 0 {
			log.WithFields(logrus.Fields{"dropped_pdus": dropped[kindPDU], "dropped_edus": dropped[kindEDU]}).
				Info("delivered again to a destination whose full queue lost entries")
		}
	}
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(q.ctx), 10*time.Second)
		err := deleteBatch(ctx, q.db, b, done)
		cancel()
		if err == nil {
			return
		}
		log.WithError(err).WithField("txn_id", b.txnID).Warn("removing a delivered transaction from the federation queue")
		n := attempt
		if !q.backoff(d, &n) {
			return // resent under the same ID after the next start
		}
	}
}

// backoffFor is the wait after the n-th consecutive failure: MinBackoff
// doubled n-1 times, at most MaxBackoff.
func (q *Queues) backoffFor(n int) time.Duration {
	wait := q.opts.MinBackoff
	for i := 1; i < n && wait < q.opts.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, q.opts.MaxBackoff)
}

// backoff waits after the *failures-th consecutive failure, or less if
// Wake is called, which also sets *failures back to 0. It returns false
// when Queues is closing.
func (q *Queues) backoff(d *destination, failures *int) bool {
	q.m.backingOff.Inc()
	defer q.m.backingOff.Dec()
	t := time.NewTimer(q.backoffFor(*failures))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.wake:
		*failures = 0
		return true
	case <-q.ctx.Done():
		return false
	}
}
