package queue

import (
	"context"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// Flush waits for a destination's queued PDUs to be delivered, gives up
// after its limit while they are held, and does not wait for a destination
// that is failing.
func TestFlush(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		r := newRemote()
		r.setFail("down.example", true)
		q := start(t, db, r, nil)
		ctx := context.Background()

		if !q.Flush(ctx, "idle.example", time.Second) {
			t.Fatal("Flush of a destination with nothing queued = false")
		}

		release := r.hold("slow.example")
		enqueuePDU(t, q, []string{"slow.example"}, event(0, 1))
		if q.Flush(ctx, "slow.example", 50*time.Millisecond) {
			t.Fatal("Flush = true while the destination holds the transaction")
		}
		done := make(chan bool)
		go func() { done <- q.Flush(ctx, "slow.example", 10*time.Second) }()
		release()
		if !<-done {
			t.Fatal("Flush = false after the destination took the transaction")
		}
		if got := r.pdusTo(t, "slow.example"); !equal(got, []int{1}) {
			t.Fatalf("slow destination got %v once Flush returned, want [1]", got)
		}

		enqueuePDU(t, q, []string{"down.example"}, event(0, 2))
		waitFor(t, 3*time.Second, "a failed attempt", func() bool { return len(r.attemptsTo("down.example")) > 0 })
		began := time.Now()
		if q.Flush(ctx, "down.example", 10*time.Second) {
			t.Fatal("Flush = true for a destination that refuses every attempt")
		}
		if waited := time.Since(began); waited >= 10*time.Second {
			t.Fatalf("Flush waited its whole limit (%v) for a failing destination", waited)
		}
	})
}
