package bus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Timings of the RabbitMQ relay.
const (
	// leaseTTL is how long the relay lease lasts without renewal; the holder
	// renews it when half is left.
	leaseTTL = 15 * time.Second
	// confirmTimeout bounds the wait for a batch's publisher confirms.
	confirmTimeout = 30 * time.Second
)

// relayLoop runs relay sessions, one per channel, until the bus closes.
func (r *Rabbit) relayLoop() {
	defer r.wg.Done()
	defer r.releaseLease()
	for failures := 0; ; failures++ {
		ch, err := r.conns.channel(r.root)
		if err == nil {
			err = r.relaySession(ch)
			_ = ch.Close()
		}
		if r.root.Err() != nil {
			return
		}
		r.log.WithError(err).Warn("bus: RabbitMQ relay interrupted; restarting")
		if !sleepCtx(r.root, backoff(r.opts.RetryMin, r.opts.RetryMax, failures)) {
			return
		}
	}
}

// relaySession relays the outbox on ch until ch closes or the bus does.
func (r *Rabbit) relaySession(ch *amqp.Channel) error {
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("enabling publisher confirms: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	ctx, cancel := context.WithCancelCause(r.root)
	defer cancel(nil)
	go func() {
		select {
		case amqpErr := <-closed:
			cancel(channelClosed(amqpErr))
		case <-ctx.Done():
		}
	}()
	ticker := time.NewTicker(r.opts.PollInterval)
	defer ticker.Stop()
	exchanges := map[string]bool{} // declared on ch
	var leaseUntil time.Time
	for {
		if time.Until(leaseUntil) < leaseTTL/2 {
			until, held, err := r.takeLease(ctx)
			if err != nil {
				return err
			}
			if held {
				leaseUntil = until
			} else {
				leaseUntil = time.Time{}
			}
		}
		n := 0
		if !leaseUntil.IsZero() {
			var err error
			if n, err = r.relayBatch(ctx, ch, exchanges); err != nil {
				return err
			}
		}
		if n == relayBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.relayKick:
		case <-ticker.C:
		}
	}
}

// takeLease takes or renews the relay lease. It reports until when this bus
// holds it, and whether it does.
func (r *Rabbit) takeLease(ctx context.Context) (time.Time, bool, error) {
	now := time.Now()
	until := now.Add(leaseTTL)
	res, err := r.db.Exec(ctx, `INSERT INTO bus_leases (name, owner, expires_ts) VALUES ('rabbit-relay', $1, $2)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ts = excluded.expires_ts
		WHERE bus_leases.owner = excluded.owner OR bus_leases.expires_ts < $3`,
		r.owner, until.UnixMilli(), now.UnixMilli())
	if err != nil {
		return time.Time{}, false, fmt.Errorf("taking the relay lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("taking the relay lease: %w", err)
	}
	return until, n > 0, nil
}

// releaseLease gives the relay lease up, so that another process (or the
// next bus on this database) need not wait for it to expire.
func (r *Rabbit) releaseLease() {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if _, err := r.db.Exec(ctx, `DELETE FROM bus_leases WHERE name = 'rabbit-relay' AND owner = $1`, r.owner); err != nil {
		r.log.WithError(err).Warn("bus: releasing the relay lease failed")
	}
}

// relayBatch publishes up to relayBatch outbox rows, oldest first, waits for
// their confirms and deletes the confirmed rows. It returns how many rows it
// read. A nacked or unconfirmed row stays in the outbox and is sent again.
func (r *Rabbit) relayBatch(ctx context.Context, ch *amqp.Channel, exchanges map[string]bool) (int, error) {
	rows, err := sqlutil.Select(ctx, r.db, scanRow,
		`SELECT seq, `+rowColumns+` FROM bus_outbox ORDER BY seq LIMIT $1`, relayBatch)
	if err != nil {
		return 0, fmt.Errorf("reading the outbox: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(rows))
	var pubErr error
	for _, row := range rows {
		if !exchanges[row.topic] {
			if pubErr = r.declareExchange(ch, row.topic); pubErr != nil {
				break
			}
			exchanges[row.topic] = true
		}
		headers := amqp.Table{headerKey: row.key, headerPublished: row.published.UnixMicro()}
		for k, v := range row.headers {
			headers[k] = v
		}
		exchange, routingKey := exchangeName(row.topic), strconv.Itoa(row.part)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, routingKey, false, false, amqp.Publishing{
			DeliveryMode: amqp.Persistent,
			MessageId:    row.id,
			Timestamp:    row.published,
			ContentType:  "application/octet-stream",
			Headers:      headers,
			Body:         row.body,
		})
		if err != nil {
			pubErr = fmt.Errorf("publishing message %s: %w", row.id, err)
			break
		}
		confirms = append(confirms, dc)
	}
	// Wait for the confirms even while the bus closes, so as not to send
	// confirmed messages again; a closed channel nacks what it has not
	// confirmed, so this does not hang.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), confirmTimeout)
	defer wcancel()
	var done []int64
	var nacked int
	for i, dc := range confirms {
		ok, err := dc.WaitContext(wctx)
		if err != nil {
			break
		}
		if !ok {
			nacked++
			continue
		}
		done = append(done, rows[i].seq)
		r.m.published.WithLabelValues(rows[i].topic).Inc()
	}
	if len(done) > 0 {
		// Delete even while closing: the messages are with the broker.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer dcancel()
		if _, err := r.db.Exec(dctx, `DELETE FROM bus_outbox WHERE seq = ANY($1)`, sqlutil.List(done)); err != nil {
			return 0, fmt.Errorf("deleting relayed outbox rows (they will be sent again): %w", err)
		}
	}
	if pubErr != nil {
		return 0, pubErr
	}
	if len(done) < len(rows) {
		return 0, fmt.Errorf("%d of %d messages not confirmed by the broker (%d nacked); they will be sent again",
			len(rows)-len(done), len(rows), nacked)
	}
	return len(rows), nil
}
