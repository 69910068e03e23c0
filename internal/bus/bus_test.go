package bus

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/internal/testenv"
)

func TestOpen(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	ctx := context.Background()
	for _, url := range []string{"", "durable"} {
		b, err := Open(ctx, url, db, Options{}, nil, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if _, ok := b.(*Durable); !ok {
			t.Fatalf("Open(%q) = %T, want *Durable", url, b)
		}
		closeWithin(t, b)
	}
	if _, err := Open(ctx, "nats://user:secret@host", db, Options{}, nil, nil); err == nil {
		t.Fatal("Open accepted an unknown scheme")
	} else if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
	if _, err := Open(ctx, "durable", nil, Options{}, nil, nil); err == nil {
		t.Fatal("Open accepted a nil database")
	}
	if _, err := Open(ctx, "amqp://guest:guest@127.0.0.1:1/", db, Options{}, nil, nil); err == nil {
		t.Fatal("Open connected to a closed port")
	}
	if os.Getenv(testenv.AMQPURLEnv) != "" {
		b, err := Open(ctx, testenv.AMQPURL(t), db, Options{}, nil, nil)
		if err != nil {
			t.Fatalf("Open(amqp): %v", err)
		}
		if _, ok := b.(*Rabbit); !ok {
			t.Fatalf("Open(amqp) = %T, want *Rabbit", b)
		}
		closeWithin(t, b)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.Partitions != 8 || o.RetryMin != 100*time.Millisecond || o.RetryMax != 30*time.Second ||
		o.PollInterval != 200*time.Millisecond || o.Retention != 24*time.Hour {
		t.Fatalf("defaults: %+v", o)
	}
	o = Options{Partitions: 3, RetryMin: time.Second, RetryMax: time.Millisecond}.withDefaults()
	if o.Partitions != 3 || o.RetryMax != time.Second {
		t.Fatalf("explicit values: %+v", o)
	}
}

// The partition of a key must never change: processes of different versions
// share topics.
func TestPartitionOfIsStable(t *testing.T) {
	for key, want := range map[string]int{"": 5, "!room:example.org": 7, "stuck": 3, "other": 5} {
		if got := partitionOf(key, 8); got != want {
			t.Errorf("partitionOf(%q, 8) = %d, want %d", key, got, want)
		}
	}
	seen := map[int]bool{}
	for _, k := range keys(100) {
		p := partitionOf(k, 8)
		if p < 0 || p >= 8 {
			t.Fatalf("partition %d out of range", p)
		}
		seen[p] = true
	}
	if len(seen) != 8 {
		t.Fatalf("100 keys use %d of 8 partitions", len(seen))
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		if got := backoff(100, 1000, attempt); got != want {
			t.Errorf("backoff(attempt %d) = %d, want %d", attempt, got, want)
		}
	}
	if got := backoff(time.Second, 30*time.Second, 1000); got != 30*time.Second {
		t.Errorf("backoff after many attempts = %v", got)
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1, err := newMetrics(reg, "durable", true)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := newMetrics(reg, "durable", true)
	if err != nil {
		t.Fatalf("second bus of a kind: %v", err)
	}
	if m1.published != m2.published || m1.pending != m2.pending {
		t.Fatal("buses of one kind on one registry do not share collectors")
	}
	if _, err := newMetrics(reg, "rabbit", false); err != nil {
		t.Fatalf("a bus of another kind: %v", err)
	}
	if _, err := newMetrics(nil, "durable", true); err != nil {
		t.Fatalf("nil registry: %v", err)
	}
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "myelin_bus_published_total", Help: "conflicting"}))
	if _, err := newMetrics(bad, "durable", true); err == nil {
		t.Fatal("a conflicting collector was accepted")
	}
}
