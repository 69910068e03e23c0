package bus

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// durableFactory returns a newBus for runConformance: one database per test,
// shared by the buses the test opens.
func durableFactory(d sqlutil.Dialect) func(t *testing.T) Bus {
	var mu sync.Mutex
	dbs := map[*testing.T]*sqlutil.DB{}
	return func(t *testing.T) Bus {
		// The unlock is deferred: sqltest.Open skips the test (runtime.Goexit)
		// when the database is not available, and a held lock would hang
		// every parallel sibling.
		db := func() *sqlutil.DB {
			mu.Lock()
			defer mu.Unlock()
			if dbs[t] == nil {
				dbs[t] = sqltest.Open(t, d)
			}
			return dbs[t]
		}()
		return newTestDurable(t, db, testOptions, nil)
	}
}

func newTestDurable(t *testing.T, db *sqlutil.DB, opts Options, reg prometheus.Registerer) *Durable {
	t.Helper()
	b, err := NewDurable(context.Background(), db, opts, testLogger(t), reg)
	if err != nil {
		t.Fatalf("NewDurable: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestDurableSQLite(t *testing.T) { runConformance(t, durableFactory(sqlutil.SQLite)) }

func TestDurablePostgres(t *testing.T) { runConformance(t, durableFactory(sqlutil.Postgres)) }

func count(t *testing.T, db *sqlutil.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// A message committed to the outbox but never relayed before the bus closes
// (as in a crash right after the commit) is delivered by the next bus.
func TestDurableOutboxSurvivesRestart(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		opts := testOptions
		opts.PollInterval = time.Hour // nothing relays the transaction's message
		b1 := newTestDurable(t, db, opts, nil)
		topic := uniqueTopic("outbox")
		ctx := context.Background()
		// The bus closes before the transaction commits, so the wake-up the
		// commit sends finds no relay: the row stays in the outbox, as after
		// a crash right after the commit.
		if err := db.WithTx(ctx, func(ctx context.Context) error {
			if err := b1.Publish(ctx, topic, "k", []byte("kept"), nil); err != nil {
				return err
			}
			closeWithin(t, b1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM bus_outbox WHERE topic = $1`, topic); n != 1 {
			t.Fatalf("outbox holds %d rows, want 1", n)
		}
		b2 := newTestDurable(t, db, opts, nil)
		c := newCollector()
		subscribe(t, b2, topic, "g", c.handle)
		if got := c.waitN(t, 1); string(got[0].Body) != "kept" {
			t.Fatalf("got %q", got[0].Body)
		}
	})
}

func TestDurableRetention(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		b := newTestDurable(t, db, testOptions, nil)
		kept, orphan := uniqueTopic("kept"), uniqueTopic("orphan")
		// Group "late" is known (it subscribed once) but consumes nothing yet.
		late := subscribe(t, b, kept, "late", func(context.Context, *Message) error { return nil })
		if err := late.Close(); err != nil {
			t.Fatal(err)
		}
		early := newCollector()
		subscribe(t, b, kept, "early", early.handle)
		publishKeys(t, b, kept, keys(3), 5)
		publishKeys(t, b, orphan, keys(2), 2) // no group ever subscribes
		early.waitN(t, 15)
		if _, err := b.relayOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM bus_log`); n != 19 {
			t.Fatalf("log holds %d messages, want 19", n)
		}

		// Nothing is old enough yet.
		if n, err := b.deleteExpired(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("deleteExpired before retention: %d, %v", n, err)
		}
		// Old enough: the orphan topic goes; "late" still needs the rest.
		if n, err := b.deleteExpired(ctx, time.Now().Add(time.Second)); err != nil || n != 4 {
			t.Fatalf("deleteExpired with a group behind: deleted %d, %v; want 4", n, err)
		}
		lateC := newCollector()
		subscribe(t, b, kept, "late", lateC.handle)
		checkOrdered(t, kept, lateC.waitN(t, 15), keys(3), 5)
		closeWithin(t, b) // every acknowledgement is recorded
		if n, err := b.deleteExpired(ctx, time.Now().Add(time.Second)); err != nil || n != 15 {
			t.Fatalf("deleteExpired after every group passed: deleted %d, %v; want 15", n, err)
		}
		// Offsets outlive the messages: a restarted group gets nothing again,
		// and new messages still get new positions.
		b2 := newTestDurable(t, db, testOptions, nil)
		c := newCollector()
		subscribe(t, b2, kept, "late", c.handle)
		if err := b2.Publish(ctx, kept, "k", []byte("new"), nil); err != nil {
			t.Fatal(err)
		}
		if got := c.waitN(t, 1); len(got) != 1 || string(got[0].Body) != "new" {
			t.Fatalf("after retention got %s", describe(got))
		}
	})
}

func TestDurableMetrics(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	reg := prometheus.NewRegistry()
	b := newTestDurable(t, db, testOptions, reg)
	// A second bus on the same registry shares the collectors.
	other := newTestDurable(t, sqltest.Open(t, sqlutil.SQLite), testOptions, reg)
	closeWithin(t, other)

	topic := uniqueTopic("metrics")
	release := make(chan struct{})
	subscribe(t, b, topic, "slow", func(ctx context.Context, m *Message) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	var failed atomic.Bool
	fast := newCollector()
	subscribe(t, b, topic, "fast", func(ctx context.Context, m *Message) error {
		if !failed.Swap(true) {
			return context.DeadlineExceeded // the first attempt fails
		}
		return fast.handle(ctx, m)
	})
	publishKeys(t, b, topic, []string{"k"}, 5)
	fast.waitN(t, 5)

	labels := prometheus.Labels{"bus": "durable", "topic": topic}
	published := testutil.ToFloat64(b.m.published.With(prometheus.Labels{"topic": topic}))
	if published != 5 {
		t.Fatalf("published = %v, want 5", published)
	}
	eventually(t, "fast's acknowledgements", func() bool {
		return testutil.ToFloat64(b.m.delivered.WithLabelValues(topic, "fast", "ack")) == 5
	})
	if n := testutil.ToFloat64(b.m.delivered.WithLabelValues(topic, "fast", "retry")); n != 1 {
		t.Fatalf("fast retries = %v, want 1", n)
	}
	eventually(t, "pending counts", func() bool {
		if err := b.refreshPending(context.Background()); err != nil {
			t.Fatal(err)
		}
		return testutil.ToFloat64(b.m.pending.WithLabelValues(topic, "fast")) == 0 &&
			testutil.ToFloat64(b.m.pending.WithLabelValues(topic, "slow")) == 5
	})
	close(release)
	eventually(t, "slow's acknowledgements", func() bool {
		if err := b.refreshPending(context.Background()); err != nil {
			t.Fatal(err)
		}
		return testutil.ToFloat64(b.m.pending.WithLabelValues(topic, "slow")) == 0
	})

	// The metrics are on the registry, with the bus label.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			match := 0
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
					match++
				}
			}
			if match == len(labels) {
				seen[f.GetName()] = true
			}
		}
	}
	for _, name := range []string{
		"myelin_bus_published_total",
		"myelin_bus_delivered_total",
		"myelin_bus_lag_seconds",
		"myelin_bus_pending",
	} {
		if !seen[name] {
			t.Errorf("metric %s with labels %v not gathered", name, labels)
		}
	}
	if n := testutil.CollectAndCount(b.m.lag, "myelin_bus_lag_seconds"); n != 2 {
		t.Errorf("lag series = %d, want 2 (fast and slow)", n)
	}
}

// On PostgreSQL transactions commit in any order: a message committed after
// a later-numbered one must still be delivered (a consumer that tracked
// outbox sequence numbers would skip it).
func TestDurablePostgresOutOfOrderCommits(t *testing.T) {
	db := sqltest.Open(t, sqlutil.Postgres)
	b := newTestDurable(t, db, testOptions, nil)
	topic := uniqueTopic("commits")
	c := newCollector()
	subscribe(t, b, topic, "g", c.handle)
	ctx := context.Background()
	inTx, release := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	go func() {
		txErr <- db.WithTx(ctx, func(ctx context.Context) error {
			if err := b.Publish(ctx, topic, "k", []byte("first"), nil); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	<-inTx
	if err := b.Publish(ctx, topic, "k", []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	if got := c.waitN(t, 1); string(got[0].Body) != "second" {
		t.Fatalf("got %s", describe(got))
	}
	close(release)
	if err := <-txErr; err != nil {
		t.Fatal(err)
	}
	got := c.waitN(t, 2)
	if len(got) != 2 || string(got[1].Body) != "first" {
		t.Fatalf("got %s, want second, first (commit order)", describe(got))
	}
}
