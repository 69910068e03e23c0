package bus

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/internal/testenv"
)

// rabbitFactory returns a newBus for runConformance: the test's RabbitMQ, and
// one SQLite outbox per test, shared by the buses the test opens.
func rabbitFactory() func(t *testing.T) Bus {
	var mu sync.Mutex
	dbs := map[*testing.T]*sqlutil.DB{}
	return func(t *testing.T) Bus {
		db := func() *sqlutil.DB {
			mu.Lock()
			defer mu.Unlock() // sqltest.Open may end the test with Goexit
			if dbs[t] == nil {
				dbs[t] = sqltest.Open(t, sqlutil.SQLite)
			}
			return dbs[t]
		}()
		return newTestRabbit(t, db, testOptions)
	}
}

// newTestRabbit opens a Rabbit bus that is closed when the test ends, after
// which the exchanges and queues it declared are deleted.
func newTestRabbit(t *testing.T, db *sqlutil.DB, opts Options) *Rabbit {
	t.Helper()
	url := testenv.AMQPURL(t)
	b, err := NewRabbit(context.Background(), url, db, opts, testLogger(t), nil)
	if err != nil {
		t.Fatalf("NewRabbit: %v", err)
	}
	t.Cleanup(func() { deleteTopology(t, url, b) }) // runs after Close
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func deleteTopology(t *testing.T, url string, b *Rabbit) {
	b.topoMu.Lock()
	var names []string
	for n := range b.declared {
		names = append(names, n)
	}
	b.topoMu.Unlock()
	sort.Strings(names) // "e:" before "q:"; order does not matter to RabbitMQ
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer func() {
		if err := conn.Close(); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}()
	for _, n := range names {
		ch, err := conn.Channel()
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		kind, name, _ := strings.Cut(n, ":")
		if kind == "q" {
			_, err = ch.QueueDelete(name, false, false, false)
		} else {
			err = ch.ExchangeDelete(name, false, false)
		}
		if err != nil {
			t.Logf("cleanup: deleting %s: %v", n, err)
		}
		_ = ch.Close()
	}
}

func TestRabbit(t *testing.T) { runConformance(t, rabbitFactory()) }

// firstOccurrences drops redeliveries (same ID), keeping the first.
func firstOccurrences(msgs []Message) []Message {
	seen := map[string]bool{}
	var out []Message
	for _, m := range msgs {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	return out
}

// The connection drops (its socket is closed under it): the bus reconnects,
// relays what was published meanwhile and keeps delivering, in order.
func TestRabbitReconnects(t *testing.T) {
	b := newTestRabbit(t, sqltest.Open(t, sqlutil.SQLite), testOptions)
	topic := uniqueTopic("reconnect")
	c := newCollector()
	var mu sync.Mutex
	var inHandler []string
	subscribe(t, b, topic, "g", func(ctx context.Context, m *Message) error {
		mu.Lock()
		inHandler = append(inHandler, m.ID)
		mu.Unlock()
		return c.handle(ctx, m)
	})
	ks := keys(4)
	publishKeys(t, b, topic, ks, 5)
	c.waitFor(t, "20 messages", func(got []Message) bool { return len(firstOccurrences(got)) == 20 })

	b.conns.mu.Lock()
	before := b.conns.conn
	b.conns.mu.Unlock()
	if !b.conns.breakConnection() {
		t.Fatal("no connection to break")
	}
	// Published while the connection is down or coming back.
	for i := 5; i < 10; i++ {
		for _, k := range ks {
			if err := b.Publish(context.Background(), topic, k, body(k, i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := c.waitFor(t, "40 distinct messages", func(got []Message) bool { return len(firstOccurrences(got)) == 40 })
	checkOrdered(t, topic, firstOccurrences(got), ks, 10)
	b.conns.mu.Lock()
	after := b.conns.conn
	b.conns.mu.Unlock()
	if after == nil || after == before {
		t.Fatal("the bus did not reconnect")
	}
	// Still working on the new connection.
	if err := b.Publish(context.Background(), topic, ks[0], body(ks[0], 10), map[string]string{"n": "10"}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "a message after the reconnection", func(got []Message) bool { return len(firstOccurrences(got)) == 41 })
}

// A message committed to the outbox but not relayed before the bus closes (as
// in a crash right after the commit) is relayed by the next bus. The commit
// wakes the relay, so the row may also go out before the close: b1's
// handler never acknowledges, and either way the next bus delivers it.
func TestRabbitOutboxSurvivesRestart(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	opts := testOptions
	opts.PollInterval = time.Hour // only the commit's wake-up relays
	b1 := newTestRabbit(t, db, opts)
	topic := uniqueTopic("outbox")
	subscribe(t, b1, topic, "g", func(context.Context, *Message) error { return errors.New("not now") })
	ctx := context.Background()
	if err := db.WithTx(ctx, func(ctx context.Context) error {
		return b1.Publish(ctx, topic, "k", []byte("kept"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	closeWithin(t, b1)
	if n := count(t, db, `SELECT COUNT(*) FROM bus_outbox`); n == 1 {
		t.Log("the message was still in the outbox when the bus closed")
	} else {
		t.Log("the message was relayed before the bus closed")
	}
	b2 := newTestRabbit(t, db, opts)
	c := newCollector()
	subscribe(t, b2, topic, "g", c.handle)
	if got := c.waitN(t, 1); string(got[0].Body) != "kept" {
		t.Fatalf("got %q", got[0].Body)
	}
	eventually(t, "the outbox to empty", func() bool { return count(t, db, `SELECT COUNT(*) FROM bus_outbox`) == 0 })
}

// Two processes (buses) in one group: each message is handled once, by the
// active consumer of its partition; when that process leaves, the other takes
// over.
func TestRabbitSingleActiveConsumer(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	b1 := newTestRabbit(t, db, testOptions)
	b2 := newTestRabbit(t, db, testOptions)
	topic := uniqueTopic("sac")
	all, c1, c2 := newCollector(), newCollector(), newCollector()
	subscribe(t, b1, topic, "g", func(ctx context.Context, m *Message) error { c1.add(*m); all.add(*m); return nil })
	subscribe(t, b2, topic, "g", func(ctx context.Context, m *Message) error { c2.add(*m); all.add(*m); return nil })
	ks := keys(8)
	publishKeys(t, b1, topic, ks[:4], 5)
	publishKeys(t, b2, topic, ks[4:], 5)
	checkOrdered(t, topic, all.waitN(t, 40), ks, 5)
	owner := map[string]int{}
	for i, c := range []*collector{c1, c2} {
		for _, m := range c.snapshot() {
			if o, ok := owner[m.Key]; ok && o != i {
				t.Fatalf("key %s consumed by both processes", m.Key)
			}
			owner[m.Key] = i
		}
	}

	closeWithin(t, b1)
	n2 := len(c2.snapshot())
	for _, k := range ks {
		if err := b2.Publish(context.Background(), topic, k, body(k, 5), map[string]string{"n": "5"}); err != nil {
			t.Fatal(err)
		}
	}
	got := c2.waitN(t, n2+len(ks))[n2:]
	if len(got) != len(ks) {
		t.Fatalf("after failover the remaining process got %s", describe(got))
	}
	checkOrdered(t, topic, all.waitN(t, 48), ks, 6)
}
