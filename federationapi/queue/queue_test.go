package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// 120 PDUs and 130 EDUs queued behind a transaction in flight go out in
// order as (50 PDUs, 100 EDUs), (50, 30), (20, 0).
func TestBatchesKeepOrderAndLimits(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		release := r.hold("b.example")
		q := start(t, db, r, nil)
		dest := []string{"b.example"}
		enqueuePDU(t, q, dest, event(0, 0))
		waitFor(t, 5*time.Second, "the first transaction", func() bool { return len(r.attemptsTo("b.example")) == 1 })
		for i := 1; i <= 120; i++ {
			enqueuePDU(t, q, dest, event(0, i))
		}
		for i := 0; i < 130; i++ {
			enqueueEDU(t, q, dest, event(0, i))
		}
		release()
		waitFor(t, 5*time.Second, "every PDU and EDU", func() bool {
			return len(r.pdusTo(t, "b.example")) == 121 && len(r.edusTo(t, "b.example")) == 130
		})
		if got := r.pdusTo(t, "b.example"); !equal(got, seq(0, 120)) {
			t.Fatalf("PDUs in order %v", got)
		}
		if got := r.edusTo(t, "b.example"); !equal(got, seq(0, 129)) {
			t.Fatalf("EDUs in order %v", got)
		}
		var sizes [][2]int
		ids := map[string]bool{}
		for _, txn := range r.deliveredTo("b.example") {
			sizes = append(sizes, [2]int{len(txn.PDUs), len(txn.EDUs)})
			if ids[txn.ID] || txn.ID == "" {
				t.Fatalf("transaction ID %q used twice or empty", txn.ID)
			}
			ids[txn.ID] = true
		}
		if want := [][2]int{{1, 0}, {50, 100}, {50, 30}, {20, 0}}; !equalSizes(sizes, want) {
			t.Fatalf("batches (PDUs, EDUs) %v, want %v", sizes, want)
		}
		waitFor(t, 5*time.Second, "an empty table", func() bool {
			return rowsQueued(t, db, "b.example", kindPDU)+rowsQueued(t, db, "b.example", kindEDU) == 0
		})
		waitFor(t, 5*time.Second, "the destination's goroutine to end", func() bool {
			return testutil.ToFloat64(q.m.destinations) == 0
		})
		if p := testutil.ToFloat64(q.m.pending.WithLabelValues("pdu")); p != 0 {
			t.Fatalf("pending PDUs gauge %v", p)
		}
		if s := testutil.ToFloat64(q.m.sent.WithLabelValues("edu")); s != 130 {
			t.Fatalf("sent EDUs counter %v", s)
		}
	})
}

func equalSizes(a, b [][2]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A destination that always fails keeps its queue without holding up
// another one.
func TestDeadDestinationDoesNotBlockOthers(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		r.setFail("dead.example", true)
		q := start(t, db, r, nil)
		began := time.Now()
		for i := 0; i < 100; i++ {
			enqueuePDU(t, q, []string{"dead.example", "live.example"}, event(0, i))
		}
		waitFor(t, 3*time.Second, "the live destination's PDUs", func() bool { return len(r.pdusTo(t, "live.example")) == 100 })
		t.Logf("live destination had all 100 PDUs %v after the first enqueue", time.Since(began).Round(time.Millisecond))
		if got := r.pdusTo(t, "live.example"); !equal(got, seq(0, 99)) {
			t.Fatalf("live destination got %v", got)
		}
		attempts := r.attemptsTo("dead.example")
		if len(attempts) == 0 || len(r.deliveredTo("dead.example")) != 0 {
			t.Fatalf("dead destination: %d attempts, %d delivered", len(attempts), len(r.deliveredTo("dead.example")))
		}
		for _, a := range attempts {
			if a.txn.ID != attempts[0].txn.ID {
				t.Fatalf("a retry changed the transaction ID: %s then %s", attempts[0].txn.ID, a.txn.ID)
			}
		}
		if n := rowsQueued(t, db, "dead.example", kindPDU); n != 100 {
			t.Fatalf("dead destination has %d PDUs queued, want 100", n)
		}
	})
}

// A transaction the destination refuses for good is dropped, and what is
// queued after it is sent.
func TestRefusedTransactionIsDropped(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		r.mu.Lock()
		r.refuse["picky.example"] = true
		r.mu.Unlock()
		q := start(t, db, r, nil)
		for i := 0; i < 10; i++ {
			enqueuePDU(t, q, []string{"picky.example"}, event(0, i))
		}
		waitFor(t, 3*time.Second, "the refused batch dropped", func() bool { return rowsQueued(t, db, "picky.example", kindPDU) == 0 })
		r.mu.Lock()
		r.refuse["picky.example"] = false
		r.mu.Unlock()
		enqueuePDU(t, q, []string{"picky.example"}, event(0, 10))
		waitFor(t, 3*time.Second, "the next PDU", func() bool { return equal(r.pdusTo(t, "picky.example"), []int{10}) })
	})
}

// Retries wait MinBackoff, doubling up to MaxBackoff; Wake retries at once
// and starts again from MinBackoff.
func TestBackoffGrowsAndWakeResetsIt(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		const min = 20 * time.Millisecond
		r := newRemote()
		r.setFail("x.example", true)
		q := start(t, db, r, func(o *Options) { o.MinBackoff, o.MaxBackoff = min, 250*time.Millisecond })
		enqueuePDU(t, q, []string{"x.example"}, event(0, 0))
		waitFor(t, 5*time.Second, "six attempts", func() bool { return len(r.attemptsTo("x.example")) >= 6 })
		a := r.attemptsTo("x.example")
		want := []time.Duration{min, 2 * min, 4 * min, 8 * min, 250 * time.Millisecond}
		for i, w := range want {
			gap := a[i+1].at.Sub(a[i].at)
			if gap < w || gap > w+150*time.Millisecond {
				t.Errorf("retry %d came after %v, want about %v", i+1, gap, w)
			}
		}
		// Wake in the middle of a 250 ms wait.
		waitFor(t, 5*time.Second, "the seventh attempt", func() bool { return len(r.attemptsTo("x.example")) >= 7 })
		time.Sleep(30 * time.Millisecond)
		woken := time.Now()
		q.Wake("x.example")
		waitFor(t, time.Second, "the attempt after Wake", func() bool { return len(r.attemptsTo("x.example")) >= 8 })
		a = r.attemptsTo("x.example")
		if d := a[7].at.Sub(woken); d > 120*time.Millisecond {
			t.Errorf("Wake retried after %v", d)
		}
		waitFor(t, time.Second, "the attempt after that", func() bool { return len(r.attemptsTo("x.example")) >= 9 })
		a = r.attemptsTo("x.example")
		if gap := a[8].at.Sub(a[7].at); gap < min || gap > min+120*time.Millisecond {
			t.Errorf("after Wake the backoff was %v, want about %v", gap, min)
		}
		r.setFail("x.example", false)
		q.Wake("x.example")
		waitFor(t, time.Second, "delivery", func() bool { return len(r.deliveredTo("x.example")) == 1 })
		if got := testutil.ToFloat64(q.m.transactions.WithLabelValues("failed")); got < 9 {
			t.Errorf("failed transactions counter %v, want at least 9", got)
		}
	})
}

// What is queued survives Close; the batch that was being sent is sent
// again under its transaction ID, and everything arrives once.
func TestRestartResendsSameTransaction(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r1 := newRemote()
		r1.setFail("a.example", true)
		q1 := start(t, db, r1, nil)
		dest := []string{"a.example"}
		for i := 0; i < 30; i++ {
			enqueuePDU(t, q1, dest, event(0, i))
		}
		for i := 0; i < 5; i++ {
			enqueueEDU(t, q1, dest, event(0, i))
		}
		waitFor(t, 5*time.Second, "a retry", func() bool { return len(r1.attemptsTo("a.example")) >= 2 })
		// The next attempt hangs until Close cancels it.
		r1.hold("a.example")
		n := len(r1.attemptsTo("a.example"))
		q1.Wake("a.example")
		waitFor(t, 5*time.Second, "a hanging attempt", func() bool { return len(r1.attemptsTo("a.example")) > n })
		a := r1.attemptsTo("a.example")
		inFlight := a[len(a)-1].txn
		for _, at := range a {
			if at.txn.ID != inFlight.ID {
				t.Fatalf("retries used IDs %s and %s", at.txn.ID, inFlight.ID)
			}
		}
		began := time.Now()
		if err := q1.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d > time.Second {
			t.Fatalf("Close took %v", d)
		}
		if err := q1.EnqueuePDU(context.Background(), dest, event(0, 99)); !errors.Is(err, ErrClosed) {
			t.Fatalf("EnqueuePDU after Close: %v", err)
		}

		r2 := newRemote()
		start(t, db, r2, nil)
		waitFor(t, 5*time.Second, "everything after the restart", func() bool {
			return len(r2.pdusTo(t, "a.example")) == 30 && len(r2.edusTo(t, "a.example")) == 5
		})
		txns := r2.deliveredTo("a.example")
		if txns[0].ID != inFlight.ID || !equal(nums(t, txns[0].PDUs), nums(t, inFlight.PDUs)) ||
			!equal(nums(t, txns[0].EDUs), nums(t, inFlight.EDUs)) {
			t.Fatalf("first transaction after restart %s %d PDUs, want the one in flight %s %d PDUs",
				txns[0].ID, len(txns[0].PDUs), inFlight.ID, len(inFlight.PDUs))
		}
		for _, txn := range txns[1:] {
			if txn.ID == inFlight.ID {
				t.Fatalf("transaction ID %s reused for another batch", txn.ID)
			}
		}
		if got := r2.pdusTo(t, "a.example"); !equal(got, seq(0, 29)) {
			t.Fatalf("PDUs after restart %v", got)
		}
		if got := r2.edusTo(t, "a.example"); !equal(got, seq(0, 4)) {
			t.Fatalf("EDUs after restart %v", got)
		}
	})
}

// Beyond MaxQueued the oldest PDUs (and EDUs) not being sent are dropped,
// with a log line.
func TestMaxQueuedDropsOldest(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		release := r.hold("m.example")
		log, hook := logtest.NewNullLogger()
		q := start(t, db, r, func(o *Options) { o.MaxQueued, o.Log = 10, log })
		dest := []string{"m.example"}
		enqueuePDU(t, q, dest, event(0, 0))
		waitFor(t, 5*time.Second, "the first transaction", func() bool { return len(r.attemptsTo("m.example")) == 1 })
		for i := 1; i < 25; i++ {
			enqueuePDU(t, q, dest, event(0, i))
		}
		for i := 0; i < 12; i++ {
			enqueueEDU(t, q, dest, event(0, i))
		}
		if n := rowsQueued(t, db, "m.example", kindPDU); n != 10 {
			t.Fatalf("%d PDUs queued, want 10", n)
		}
		if n := rowsQueued(t, db, "m.example", kindEDU); n != 10 {
			t.Fatalf("%d EDUs queued, want 10", n)
		}
		if got := testutil.ToFloat64(q.m.dropped.WithLabelValues("pdu")); got != 15 {
			t.Fatalf("dropped PDUs counter %v, want 15", got)
		}
		if got := testutil.ToFloat64(q.m.pending.WithLabelValues("pdu")); got != 10 {
			t.Fatalf("pending PDUs gauge %v, want 10", got)
		}
		warned := 0
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "dropping") {
				warned++
			}
		}
		if warned != 1 {
			t.Fatalf("%d warnings about dropping, want 1", warned)
		}
		release()
		waitFor(t, 5*time.Second, "the rest", func() bool {
			return len(r.pdusTo(t, "m.example")) == 10 && len(r.edusTo(t, "m.example")) == 10
		})
		// PDU 0 was in flight; of the others the newest nine remain.
		if got := r.pdusTo(t, "m.example"); !equal(got, append([]int{0}, seq(16, 24)...)) {
			t.Fatalf("PDUs delivered %v", got)
		}
		if got := r.edusTo(t, "m.example"); !equal(got, seq(2, 11)) {
			t.Fatalf("EDUs delivered %v", got)
		}
		waitFor(t, 5*time.Second, "the pending gauge to drop", func() bool {
			return testutil.ToFloat64(q.m.pending.WithLabelValues("pdu")) == 0 &&
				testutil.ToFloat64(q.m.pending.WithLabelValues("edu")) == 0
		})
	})
}

// Many goroutines queueing at once: each one's PDUs arrive in its order,
// each exactly once, at every destination.
func TestConcurrentEnqueue(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		const goroutines, each = 16, 20
		r := newRemote()
		q := start(t, db, r, nil)
		dests := []string{"a.example", "b.example", "c.example"}
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if err := q.EnqueuePDU(context.Background(), dests, event(g, i)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for _, d := range dests {
			waitFor(t, 5*time.Second, "every PDU at "+d, func() bool { return len(r.pdusTo(t, d)) >= goroutines*each })
			next := make([]int, goroutines)
			for _, txn := range r.deliveredTo(d) {
				if len(txn.PDUs) > maxPDUsPerTxn {
					t.Fatalf("%d PDUs in one transaction", len(txn.PDUs))
				}
				for _, raw := range txn.PDUs {
					e := parse(t, raw)
					if e.N != next[e.G] {
						t.Fatalf("%s: goroutine %d's PDU %d arrived when %d was due", d, e.G, e.N, next[e.G])
					}
					next[e.G]++
				}
			}
			if n := len(r.pdusTo(t, d)); n != goroutines*each {
				t.Fatalf("%s got %d PDUs, want %d", d, n, goroutines*each)
			}
		}
	})
}

// Close cancels a Send that hangs and returns at once.
func TestCloseCancelsHangingSend(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		r.hold("slow.example")
		q := start(t, db, r, func(o *Options) { o.SendTimeout = time.Hour })
		enqueuePDU(t, q, []string{"slow.example", "fast.example"}, event(0, 0))
		waitFor(t, 5*time.Second, "the hanging Send", func() bool { return len(r.attemptsTo("slow.example")) == 1 })
		waitFor(t, 5*time.Second, "the other destination", func() bool { return len(r.deliveredTo("fast.example")) == 1 })
		began := time.Now()
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(began); d > 500*time.Millisecond {
			t.Fatalf("Close took %v", d)
		}
		r.mu.Lock()
		cancelled := r.cancelled
		r.mu.Unlock()
		if cancelled != 1 {
			t.Fatalf("%d Send calls saw their context cancelled, want 1", cancelled)
		}
		if n := rowsQueued(t, db, "slow.example", kindPDU); n != 1 {
			t.Fatalf("%d PDUs still queued for the slow destination, want 1", n)
		}
	})
}

// Bad input is refused with an error, and odd input does no harm.
func TestBadInput(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		if _, err := New(context.Background(), Options{DB: db}); err == nil {
			t.Fatal("New without a Sender succeeded")
		}
		r := newRemote()
		q := start(t, db, r, nil)
		ctx := context.Background()
		dest := []string{"d.example"}
		for name, body := range map[string]string{
			"not JSON":    `{"a":`,
			"array":       `[1]`,
			"string":      `"x"`,
			"empty":       ``,
			"bad UTF-8":   "{\"a\":\"\xff\"}",
			"too large":   `{"a":"` + strings.Repeat("x", maxPDUSize) + `"}`,
			"only spaces": `   `,
		} {
			if err := q.EnqueuePDU(ctx, dest, []byte(body)); err == nil {
				t.Errorf("%s: PDU accepted", name)
			}
		}
		if err := q.EnqueueEDU(ctx, dest, []byte(`null`)); err == nil {
			t.Error("null EDU accepted")
		}
		if err := q.EnqueuePDU(ctx, []string{"d.example", ""}, event(0, 0)); err == nil {
			t.Error("empty destination accepted")
		}
		if err := q.EnqueuePDU(ctx, nil, event(0, 0)); err != nil {
			t.Errorf("no destinations: %v", err)
		}
		q.Wake("nobody.example")
		enqueuePDU(t, q, []string{"d.example", "d.example"}, []byte(" {\"n\": 7}\n"))
		waitFor(t, 5*time.Second, "delivery", func() bool { return len(r.deliveredTo("d.example")) == 1 })
		time.Sleep(50 * time.Millisecond)
		if got := r.pdusTo(t, "d.example"); !equal(got, []int{7}) {
			t.Fatalf("a destination named twice got %v", got)
		}
		waitFor(t, 5*time.Second, "an empty table", func() bool { return rowsQueued(t, db, "d.example", kindPDU) == 0 })
	})
}

// Queued inside the caller's transaction, PDUs go out only if it commits.
func TestEnqueueJoinsCallersTransaction(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		q := start(t, db, r, nil)
		ctx := context.Background()
		dest := []string{"t.example"}
		rollback := errors.New("rollback")
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if err := q.EnqueuePDU(ctx, dest, event(0, 0)); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("WithTx: %v", err)
		}
		err = db.WithTx(ctx, func(ctx context.Context) error {
			return q.EnqueuePDU(ctx, dest, event(0, 1))
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "delivery", func() bool { return len(r.deliveredTo("t.example")) == 1 })
		time.Sleep(50 * time.Millisecond)
		if got := r.pdusTo(t, "t.example"); !equal(got, []int{1}) {
			t.Fatalf("delivered %v, want only the committed PDU", got)
		}
	})
}
