package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// startGroup starts one worker per partition for g; g.done closes when they
// have all returned.
func (d *Durable) startGroup(g *group) {
	var wg sync.WaitGroup
	for p := 0; p < d.opts.Partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.worker(g, p)
		}()
	}
	go func() {
		wg.Wait()
		close(g.done)
	}()
}

// worker delivers partition part of g's topic to g, in position order, until
// the group stops.
func (d *Durable) worker(g *group, part int) {
	log := d.log.WithField("topic", g.key.topic).WithField("group", g.key.group).WithField("partition", part)
	idle := max(10*d.opts.PollInterval, durableIdlePollMin)
	var offset int64
	for failures := 0; ; failures++ {
		err := d.db.QueryRow(g.ctx, `SELECT last_pos FROM bus_offsets WHERE topic = $1 AND group_name = $2 AND part = $3`,
			g.key.topic, g.key.group, part).Scan(&offset)
		if err == nil || errors.Is(err, sqlutil.ErrNoRows) {
			break
		}
		if g.ctx.Err() != nil {
			return
		}
		log.WithError(err).Error("bus: reading the group's offset failed; retrying")
		if !sleepCtx(g.ctx, backoff(d.opts.RetryMin, d.opts.RetryMax, failures)) {
			return
		}
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	failures := 0
	for {
		rows, err := sqlutil.Select(g.ctx, d.db, scanRow,
			`SELECT pos, `+rowColumns+` FROM bus_log WHERE topic = $1 AND part = $2 AND pos > $3 ORDER BY pos LIMIT $4`,
			g.key.topic, part, offset, fetchBatch)
		if err != nil {
			if g.ctx.Err() != nil {
				return
			}
			log.WithError(err).Error("bus: reading the log failed; retrying")
			if !sleepCtx(g.ctx, backoff(d.opts.RetryMin, d.opts.RetryMax, failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		if len(rows) == 0 {
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(idle)
			select {
			case <-g.ctx.Done():
				return
			case <-g.wake[part]:
			case <-timer.C:
			}
			continue
		}
		for _, r := range rows {
			if !d.deliver(g, r) {
				return
			}
			offset = r.seq
		}
	}
}

// deliver hands r to the group's subscriber for its partition until one
// acknowledges it, backing off between failures, and records the
// acknowledgement. It returns false when the group stopped first.
func (d *Durable) deliver(g *group, r row) bool {
	msg := r.message()
	for attempt := 0; ; attempt++ {
		if g.ctx.Err() != nil {
			return false
		}
		sub := g.acquire(r.part)
		if sub == nil {
			return false
		}
		err := sub.call(msg)
		if err == nil {
			d.ack(g, r)
			return true
		}
		d.m.retried(r.topic, g.key.group)
		if g.ctx.Err() != nil {
			return false
		}
		if sub.ctx.Err() != nil {
			// That subscriber left; another one takes the message now.
			continue
		}
		delay := backoff(d.opts.RetryMin, d.opts.RetryMax, attempt)
		d.log.WithFields(r.fields(g.key.group)).WithError(err).WithField("attempt", attempt+1).
			WithField("retry_in", delay.String()).Warn("bus: handler failed; the message will be redelivered")
		if !sleepCtx(g.ctx, delay) {
			return false
		}
	}
}

// ack records that g acknowledged r. It runs even while the bus closes, so an
// acknowledged message is not redelivered after a restart; if the database
// keeps failing the message may be (at least once).
func (d *Durable) ack(g *group, r row) {
	d.m.acked(r.topic, g.key.group, r.published)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), ackTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		// Group commit: acknowledgements of many partitions and groups share
		// one transaction (and fsync) with the writes around them.
		err := d.db.WithGroupTx(ctx, func(ctx context.Context) error {
			_, err := d.db.Exec(ctx, `INSERT INTO bus_offsets (topic, group_name, part, last_pos) VALUES ($1, $2, $3, $4)
				ON CONFLICT (topic, group_name, part) DO UPDATE SET last_pos = excluded.last_pos
				WHERE bus_offsets.last_pos < excluded.last_pos`, r.topic, g.key.group, r.part, r.seq)
			return err
		})
		if err == nil {
			return
		}
		if attempt >= 3 || g.ctx.Err() != nil {
			d.log.WithFields(r.fields(g.key.group)).WithError(err).
				Error("bus: recording an acknowledgement failed; the message may be redelivered after a restart")
			return
		}
		if !sleepCtx(ctx, backoff(d.opts.RetryMin, d.opts.RetryMax, attempt)) {
			return
		}
	}
}

// janitorLoop refreshes the pending gauge and deletes old messages until the
// bus closes.
func (d *Durable) janitorLoop() {
	defer d.wg.Done()
	ticker := time.NewTicker(janitorInterval)
	defer ticker.Stop()
	var lastClean time.Time
	for {
		select {
		case <-d.root.Done():
			return
		case <-ticker.C:
		}
		if err := d.refreshPending(d.root); err != nil && d.root.Err() == nil {
			d.log.WithError(err).Warn("bus: counting pending messages failed")
		}
		if time.Since(lastClean) >= min(d.opts.Retention, time.Minute) {
			lastClean = time.Now()
			if n, err := d.deleteExpired(d.root, time.Now().Add(-d.opts.Retention)); err != nil && d.root.Err() == nil {
				d.log.WithError(err).Warn("bus: deleting expired messages failed")
			} else if n > 0 {
				d.log.WithField("deleted", n).Debug("bus: deleted expired messages")
			}
		}
	}
}

// deleteExpired deletes messages published before cutoff (the janitor passes
// now - Options.Retention) that every group known for their topic and
// partition has acknowledged (all of them, for a topic no group ever
// subscribed). It deletes in batches so as not to hold the database's writer
// for long, and returns the count.
func (d *Durable) deleteExpired(ctx context.Context, before time.Time) (int64, error) {
	cutoff := before.UnixMicro()
	var total int64
	for {
		res, err := d.db.Exec(ctx, `DELETE FROM bus_log WHERE pos IN (
			SELECT l.pos FROM bus_log l
			WHERE l.published_ts < $1
			AND l.pos <= COALESCE((SELECT MIN(o.last_pos) FROM bus_offsets o WHERE o.topic = l.topic AND o.part = l.part), l.pos)
			LIMIT 1000)`, cutoff)
		if err != nil {
			return total, fmt.Errorf("bus: deleting expired messages: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("bus: deleting expired messages: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}

// refreshPending sets the pending gauge of every group subscribed in this
// process: messages in the outbox plus log messages after the group's
// offsets.
func (d *Durable) refreshPending(ctx context.Context) error {
	for _, k := range d.reg.keys() {
		var outbox, log int64
		if err := d.db.QueryRow(ctx, `SELECT COUNT(*) FROM bus_outbox WHERE topic = $1`, k.topic).Scan(&outbox); err != nil {
			return fmt.Errorf("bus: counting outbox messages: %w", err)
		}
		if err := d.db.QueryRow(ctx, `SELECT COUNT(*) FROM bus_log l JOIN bus_offsets o
			ON o.topic = l.topic AND o.part = l.part AND o.group_name = $2
			WHERE l.topic = $1 AND l.pos > o.last_pos`, k.topic, k.group).Scan(&log); err != nil {
			return fmt.Errorf("bus: counting unacknowledged messages: %w", err)
		}
		d.m.pending.WithLabelValues(k.topic, k.group).Set(float64(outbox + log))
	}
	return nil
}
