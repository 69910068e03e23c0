package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// waitTimeout bounds every wait for something to happen.
const waitTimeout = 20 * time.Second

// testOptions make retries and polling fast.
var testOptions = Options{RetryMin: 5 * time.Millisecond, RetryMax: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond}

// testLogger logs to the test (shown on failure or with -v) until it ends.
func testLogger(t *testing.T) logrus.FieldLogger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(logrus.InfoLevel)
	return l
}

type testWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// uniqueTopic returns a topic name no other test run uses.
func uniqueTopic(name string) string {
	return "test." + name + "." + newID()[:12]
}

// dbOf returns the database of a bus.
func dbOf(b Bus) *sqlutil.DB {
	switch x := b.(type) {
	case *Durable:
		return x.db
	case *Rabbit:
		return x.db
	}
	panic(fmt.Sprintf("unknown bus %T", b))
}

// collector is a handler that records what it is given.
type collector struct {
	mu      sync.Mutex
	got     []Message
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) handle(_ context.Context, m *Message) error {
	c.add(*m)
	return nil
}

func (c *collector) add(m Message) {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
	kick(c.changed)
}

func (c *collector) snapshot() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.got...)
}

// waitFor waits until cond holds for what the collector got.
func (c *collector) waitFor(t *testing.T, what string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		got := c.snapshot()
		if cond(got) {
			return got
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; got %d messages: %s", what, len(got), describe(got))
		}
	}
}

// waitN waits until the collector got at least n messages.
func (c *collector) waitN(t *testing.T, n int) []Message {
	t.Helper()
	return c.waitFor(t, fmt.Sprintf("%d messages", n), func(got []Message) bool { return len(got) >= n })
}

// eventually polls cond until it holds, for conditions no handler signals.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// body makes the body of message n of key.
func body(key string, n int) []byte { return []byte(key + "/" + strconv.Itoa(n)) }

// parseBody splits a body made by body. It may run in handlers, so it
// reports a bad body with Errorf and returns n = -1.
func parseBody(t *testing.T, m Message) (string, int) {
	t.Helper()
	k, n, ok := strings.Cut(string(m.Body), "/")
	i, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Errorf("unexpected body %q", m.Body)
		return "", -1
	}
	return k, i
}

func describe(msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i == 20 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " %s", m.Body)
	}
	return b.String()
}

// publishKeys publishes n messages for each key, each key from its own
// goroutine, so keys interleave.
func publishKeys(t *testing.T, b Bus, topic string, keys []string, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := b.Publish(ctx, topic, k, body(k, i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("publish: %v", err)
	}
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("!room%d:example.org", i)
	}
	return out
}

// checkOrdered checks that msgs hold, per key, exactly messages 0..n-1 of
// each of keys in order, each once, with the right metadata.
func checkOrdered(t *testing.T, topic string, msgs []Message, keys []string, n int) {
	t.Helper()
	next := map[string]int{}
	ids := map[string]bool{}
	for _, m := range msgs {
		k, i := parseBody(t, m)
		if ids[m.ID] {
			t.Fatalf("message %s (%s) delivered twice", m.ID, m.Body)
		}
		ids[m.ID] = true
		if m.ID == "" || m.Topic != topic || m.Key != k || m.Headers["n"] != strconv.Itoa(i) {
			t.Fatalf("bad metadata: %+v", m)
		}
		if m.Published.IsZero() || time.Since(m.Published) > time.Minute || time.Until(m.Published) > time.Second {
			t.Fatalf("bad publication time %v", m.Published)
		}
		if i != next[k] {
			t.Fatalf("key %s: got message %d, want %d (order broken or message lost/duplicated)", k, i, next[k])
		}
		next[k]++
	}
	for _, k := range keys {
		if next[k] != n {
			t.Fatalf("key %s: got %d messages, want %d", k, next[k], n)
		}
	}
	if len(msgs) != len(keys)*n {
		t.Fatalf("got %d messages, want %d", len(msgs), len(keys)*n)
	}
}

func subscribe(t *testing.T, b Bus, topic, group string, h Handler) Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := b.Subscribe(ctx, topic, group, h)
	if err != nil {
		t.Fatalf("subscribe %s/%s: %v", topic, group, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// closeWithin closes b and fails if that takes too long.
func closeWithin(t *testing.T, b Bus) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
}
