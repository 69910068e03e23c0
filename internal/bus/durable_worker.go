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
	// A stopping group leaves its offsets written, so that the next
	// subscriber (in this process or after a restart) starts after them.
	defer d.flushAcksNow()
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
		if !d.deliver(g, rows) {
			return
		}
		offset = rows[len(rows)-1].seq
	}
}

// deliver hands rows (consecutive, of one partition) to the group's
// subscriber for their partition until all are acknowledged, backing off
// between failures and resuming after the last acknowledged row. It returns
// false when the group stopped first.
func (d *Durable) deliver(g *group, rows []row) bool {
	for attempt := 0; len(rows) > 0; {
		if g.ctx.Err() != nil {
			return false
		}
		sub := g.acquire(rows[0].part)
		if sub == nil {
			return false
		}
		msgs := make([]Message, len(rows))
		for i, r := range rows {
			msgs[i] = r.message()
		}
		n, err := sub.call(msgs)
		for _, r := range rows[:n] {
			d.m.acked(r.topic, g.key.group, r.published)
		}
		if n > 0 {
			d.ack(g, rows[n-1])
			rows, attempt = rows[n:], 0
		}
		if err == nil {
			continue
		}
		r := rows[0]
		d.m.retried(r.topic, g.key.group)
		if g.ctx.Err() != nil {
			return false
		}
		if sub.ctx.Err() != nil {
			// That subscriber left; another one takes the messages now.
			continue
		}
		delay := backoff(d.opts.RetryMin, d.opts.RetryMax, attempt)
		d.log.WithFields(r.fields(g.key.group)).WithError(err).WithField("attempt", attempt+1).
			WithField("retry_in", delay.String()).Warn("bus: handler failed; the message will be redelivered")
		if !sleepCtx(g.ctx, delay) {
			return false
		}
		attempt++
	}
	return true
}

// ack records that g acknowledged r; the offset is written shortly after,
// together with others (see acks).
func (d *Durable) ack(g *group, r row) {
	d.acks.add(ackKey{topic: r.topic, group: g.key.group, part: r.part}, r.seq)
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
