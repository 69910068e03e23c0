package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Durable is the in-process bus that keeps everything in the database.
//
// Publish writes to bus_outbox. A relay goroutine moves committed outbox rows,
// in order, to bus_log and gives them increasing positions; it runs when a
// Publish becomes visible (at once, or when the publisher's transaction
// commits, through sqlutil's AfterCommit) and every Options.PollInterval as a
// safety net for rows left by a crash. Each
// (topic, group) runs one worker per partition that delivers the partition's
// messages in position order and records the position of each acknowledged
// message in bus_offsets (shortly after, in batches: see acks), so a restart
// loses nothing that was not acknowledged and a graceful one redelivers
// nothing that was. A janitor deletes messages older than
// Options.Retention that every known group of their topic has acknowledged.
//
// Durable serves the consumers of this process only.
type Durable struct {
	*core
	acks *acks
}

// Timings of Durable's background work.
const (
	// durableIdlePollMin bounds how often an idle partition worker re-reads
	// the log without a wake-up from the relay (a safety net).
	durableIdlePollMin = time.Second
	// janitorInterval is how often pending counts are refreshed and old
	// messages deleted.
	janitorInterval = 5 * time.Second
	// ackTimeout bounds recording an acknowledgement, which is done even
	// while the bus closes.
	ackTimeout = 10 * time.Second
	// fetchBatch is how many messages a partition worker reads at once.
	fetchBatch = 100
)

// NewDurable migrates db (component "bus") and starts a durable bus on it.
// log and reg may be nil.
func NewDurable(ctx context.Context, db *sqlutil.DB, opts Options, log logrus.FieldLogger, reg prometheus.Registerer) (*Durable, error) {
	if db == nil {
		return nil, errors.New("bus: durable bus needs a database")
	}
	m, err := newMetrics(reg, "durable", true)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	d := &Durable{core: newCore(db, opts, log, m, "durable"), acks: newAcks()}
	d.reg = newRegistry(d.root, d.opts.Partitions, d.startGroup)
	d.wg.Add(3)
	go d.relayLoop()
	go d.janitorLoop()
	go d.ackLoop()
	return d, nil
}

// Publish implements Bus.
func (d *Durable) Publish(ctx context.Context, topic, key string, body []byte, headers map[string]string) error {
	return d.publish(ctx, topic, key, body, headers)
}

// Subscribe implements Bus. A group subscribing for the first time is
// registered with offset zero on every partition, so it receives every
// retained message of the topic, and from then on the janitor keeps what it
// has not acknowledged.
func (d *Durable) Subscribe(ctx context.Context, topic, group string, h Handler) (Subscription, error) {
	return d.subscribe(ctx, topic, group, oneByOne(h))
}

// SubscribeBatch implements Bus: a batch is what the partition has waiting,
// up to 100 messages.
func (d *Durable) SubscribeBatch(ctx context.Context, topic, group string, h BatchHandler) (Subscription, error) {
	return d.subscribe(ctx, topic, group, allOrNothing(h))
}

func (d *Durable) subscribe(ctx context.Context, topic, group string, h batchFn) (Subscription, error) {
	if err := checkSubscribe(d.closed.Load(), topic, group, h); err != nil {
		return nil, err
	}
	err := d.db.WithTx(ctx, func(ctx context.Context) error {
		for p := 0; p < d.opts.Partitions; p++ {
			if _, err := d.db.Exec(ctx, `INSERT INTO bus_offsets (topic, group_name, part, last_pos) VALUES ($1, $2, $3, 0)
				ON CONFLICT (topic, group_name, part) DO NOTHING`, topic, group, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bus: registering group %s of %s: %w", group, topic, err)
	}
	s, err := d.reg.subscribe(ctx, groupKey{topic, group}, h)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close implements Bus. Messages not yet acknowledged are delivered after the
// next start.
func (d *Durable) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.cancel()
	d.reg.close()
	d.wg.Wait()
	d.flushAcksNow()
	return nil
}

// relayLoop moves outbox rows to the log until the bus closes.
func (d *Durable) relayLoop() {
	defer d.wg.Done()
	ticker := time.NewTicker(d.opts.PollInterval)
	defer ticker.Stop()
	failures := 0
	for {
		n, err := d.relayOnce(d.root)
		switch {
		case d.root.Err() != nil:
			return
		case err != nil:
			d.log.WithError(err).Error("bus: relaying the outbox failed; retrying")
			if !sleepCtx(d.root, backoff(d.opts.RetryMin, d.opts.RetryMax, failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		if n == relayBatch {
			continue
		}
		select {
		case <-d.root.Done():
			return
		case <-d.relayKick:
		case <-ticker.C:
		}
	}
}

// relayOnce moves up to relayBatch committed outbox rows, oldest first, to
// the log in one transaction, and wakes the workers of their partitions. It
// returns how many rows it moved.
//
// The positions come from the counter row 'log', which the transaction locks
// first: relays (in several processes, on PostgreSQL) run one at a time, so
// positions become visible in increasing order, and a worker that has read up
// to position n never sees a smaller one appear later.
func (d *Durable) relayOnce(ctx context.Context) (int, error) {
	var first int64
	switch err := d.db.QueryRow(ctx, `SELECT seq FROM bus_outbox ORDER BY seq LIMIT 1`).Scan(&first); {
	case errors.Is(err, sqlutil.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("bus: reading the outbox: %w", err)
	}
	type moved struct {
		seq   int64
		topic string
		part  int
	}
	var rows []moved
	err := d.db.WithGroupTx(ctx, func(ctx context.Context) error {
		rows = rows[:0]
		var base int64
		if err := d.db.QueryRow(ctx, `UPDATE bus_counters SET value = value WHERE name = 'log' RETURNING value`).Scan(&base); err != nil {
			return fmt.Errorf("locking the log counter: %w", err)
		}
		var err error
		rows, err = sqlutil.Select(ctx, d.db, func(s sqlutil.Scanner) (moved, error) {
			var m moved
			return m, s.Scan(&m.seq, &m.topic, &m.part)
		}, `SELECT seq, topic, part FROM bus_outbox ORDER BY seq LIMIT $1`, relayBatch)
		if err != nil || len(rows) == 0 {
			return err
		}
		seqs := make([]int64, len(rows))
		for i, r := range rows {
			seqs[i] = r.seq
		}
		if _, err := d.db.Exec(ctx, `INSERT INTO bus_log (pos, `+rowColumns+`)
			SELECT $1 + ROW_NUMBER() OVER (ORDER BY seq), `+rowColumns+` FROM bus_outbox WHERE seq = ANY($2)`,
			base, sqlutil.List(seqs)); err != nil {
			return fmt.Errorf("appending to the log: %w", err)
		}
		if _, err := d.db.Exec(ctx, `UPDATE bus_counters SET value = $1 WHERE name = 'log'`, base+int64(len(rows))); err != nil {
			return fmt.Errorf("advancing the log counter: %w", err)
		}
		if _, err := d.db.Exec(ctx, `DELETE FROM bus_outbox WHERE seq = ANY($1)`, sqlutil.List(seqs)); err != nil {
			return fmt.Errorf("deleting relayed outbox rows: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bus: relaying the outbox: %w", err)
	}
	type tp struct {
		topic string
		part  int
	}
	woken := map[tp]bool{}
	for _, r := range rows {
		d.m.published.WithLabelValues(r.topic).Inc()
		woken[tp{r.topic, r.part}] = true
	}
	for k := range woken {
		d.reg.each(k.topic, func(g *group) { kick(g.wake[k.part%len(g.wake)]) })
	}
	return len(rows), nil
}
