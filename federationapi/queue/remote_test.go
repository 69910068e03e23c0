package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// remote stands for the other servers: it records every Send and can be
// told to fail or to hold a destination's transactions.
type remote struct {
	mu        sync.Mutex
	attempts  []attempt
	delivered map[string][]Transaction
	fail      map[string]bool
	refuse    map[string]bool          // answer ErrRejected
	gates     map[string]chan struct{} // Send waits until closed (or ctx is done)
	cancelled int
}

type attempt struct {
	txn Transaction
	at  time.Time
}

func newRemote() *remote {
	return &remote{
		delivered: map[string][]Transaction{},
		fail:      map[string]bool{},
		refuse:    map[string]bool{},
		gates:     map[string]chan struct{}{},
	}
}

func (r *remote) Send(ctx context.Context, txn Transaction) error {
	r.mu.Lock()
	r.attempts = append(r.attempts, attempt{txn: txn, at: time.Now()})
	gate := r.gates[txn.Destination]
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			r.mu.Lock()
			r.cancelled++
			r.mu.Unlock()
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[txn.Destination] {
		return errors.New("remote unreachable")
	}
	if r.refuse[txn.Destination] {
		return fmt.Errorf("%w: 400 bad transaction", ErrRejected)
	}
	r.delivered[txn.Destination] = append(r.delivered[txn.Destination], txn)
	return nil
}

func (r *remote) setFail(dest string, fail bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[dest] = fail
}

// hold makes dest's transactions wait until the returned function is called.
func (r *remote) hold(dest string) (release func()) {
	gate := make(chan struct{})
	r.mu.Lock()
	r.gates[dest] = gate
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.gates, dest)
		r.mu.Unlock()
		close(gate)
	}
}

func (r *remote) attemptsTo(dest string) []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []attempt
	for _, a := range r.attempts {
		if a.txn.Destination == dest {
			out = append(out, a)
		}
	}
	return out
}

func (r *remote) deliveredTo(dest string) []Transaction {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transaction(nil), r.delivered[dest]...)
}

// pdusTo returns the numbers of the PDUs delivered to dest, in order.
func (r *remote) pdusTo(t *testing.T, dest string) []int {
	var out []int
	for _, txn := range r.deliveredTo(dest) {
		out = append(out, nums(t, txn.PDUs)...)
	}
	return out
}

// edusTo is pdusTo for EDUs.
func (r *remote) edusTo(t *testing.T, dest string) []int {
	var out []int
	for _, txn := range r.deliveredTo(dest) {
		out = append(out, nums(t, txn.EDUs)...)
	}
	return out
}

// event is the JSON of test PDU or EDU n (g: the goroutine that queued it).
func event(g, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"g":%d,"n":%d}`, g, n))
}

type eventBody struct{ G, N int }

func parse(t *testing.T, raw json.RawMessage) eventBody {
	t.Helper()
	var e eventBody
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("bad event %s: %v", raw, err)
	}
	return e
}

func nums(t *testing.T, raws []json.RawMessage) []int {
	out := make([]int, 0, len(raws))
	for _, raw := range raws {
		out = append(out, parse(t, raw).N)
	}
	return out
}

// seq returns from, from+1, …, to.
func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func equal(a, b []int) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// start returns Queues on db sending to r, closed when the test ends.
func start(t *testing.T, db *sqlutil.DB, r Sender, tune func(*Options)) *Queues {
	t.Helper()
	log := logrus.New()
	log.Out = io.Discard
	opts := Options{DB: db, Sender: r, Log: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Registerer: prometheus.NewRegistry()}
	if tune != nil {
		tune(&opts)
	}
	q, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func enqueuePDU(t *testing.T, q *Queues, dests []string, body json.RawMessage) {
	t.Helper()
	if err := q.EnqueuePDU(context.Background(), dests, body); err != nil {
		t.Fatalf("EnqueuePDU: %v", err)
	}
}

func enqueueEDU(t *testing.T, q *Queues, dests []string, body json.RawMessage) {
	t.Helper()
	if err := q.EnqueueEDU(context.Background(), dests, body); err != nil {
		t.Fatalf("EnqueueEDU: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rowsQueued counts dest's rows of kind k in the database.
func rowsQueued(t *testing.T, db *sqlutil.DB, dest string, k kind) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM federation_queue WHERE destination = $1 AND kind = $2`,
		dest, int(k)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
