// Package queue sends PDUs and EDUs to other servers: one queue per
// destination, kept in the database, sent as transactions
// (PUT /_matrix/federation/v1/send/{txnId}, spec: server-server API,
// "Transactions") of at most 50 PDUs and 100 EDUs, retried with exponential
// backoff per destination.
//
// Each destination with queued work has one goroutine, started when work is
// queued and ending when its queue is empty, so a slow or unreachable server
// delays only its own queue. A batch keeps its transaction ID, stored with
// its rows, until the remote accepts it: a retry, also after a restart,
// repeats the same transaction, which the remote recognises.
//
// EDUs are kept in the database like PDUs, so that the ones that matter
// (to-device messages, device list updates, receipts) survive a restart.
//
// One process sends a database's queues: two processes running Queues on
// the same database would both send them.
package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/myelin-im/myelin/federationapi/storage"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// The spec's limits of one transaction.
const (
	maxPDUsPerTxn = 50
	maxEDUsPerTxn = 100
)

// maxPDUSize is the largest PDU accepted (spec: "Size limits", 65536 bytes
// for a whole event). A larger one would be refused by every remote and
// block its destinations' queues.
const maxPDUSize = 65536

// ErrClosed is returned by Enqueue calls after Close.
var ErrClosed = errors.New("federation queue: closed")

// ErrRejected, wrapped in a Sender's error, means the destination refused
// the transaction for good: it is dropped instead of retried.
var ErrRejected = errors.New("federation queue: transaction refused")

// Transaction is one PUT /send body (the caller's Sender turns it into the
// request). PDUs is never nil, so it marshals as an array.
type Transaction struct {
	ID          string // unique per destination, reused on retry of the same batch
	Destination string
	PDUs        []json.RawMessage
	EDUs        []json.RawMessage
}

// Sender sends a transaction; the federationapi implements it with its
// signing client. An error means "not delivered, retry later", unless it
// wraps ErrRejected (refused for good: dropped). A nil error
// with per-PDU errors in the response still counts as delivered (the remote
// processed the transaction). Send must return soon after ctx is done.
type Sender interface {
	Send(ctx context.Context, txn Transaction) error
}

// Options configure Queues. DB and Sender are required.
type Options struct {
	DB     *sqlutil.DB
	Sender Sender
	Log    logrus.FieldLogger // nil: the standard logger
	// MinBackoff is the wait before the first retry of a destination
	// (default 2 s); each further failure doubles it up to MaxBackoff
	// (default 1 h), at which a failing destination is retried for ever.
	MinBackoff, MaxBackoff time.Duration
	// MaxQueued bounds the PDUs, and separately the EDUs, queued for one
	// destination (default 1000). Beyond it the oldest not being sent are
	// dropped: the remote catches up with /get_missing_events and
	// /backfill once it is back.
	MaxQueued int
	// SendTimeout bounds one Send call (default 60 s).
	SendTimeout time.Duration
	Now         func() time.Time      // nil: time.Now
	Registerer  prometheus.Registerer // nil: metrics are not registered
}

// Queues holds the outgoing queue of every destination.
type Queues struct {
	db     *sqlutil.DB
	opts   Options
	log    logrus.FieldLogger
	m      *metrics
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // destination goroutines

	txnPrefix string // random per Queues, so IDs stay unique across restarts
	txnSeq    atomic.Uint64

	mu     sync.Mutex
	closed bool
	dests  map[string]*destination // destinations with a running goroutine
}

// New migrates the federation schema, loads what is queued and starts
// sending it.
func New(ctx context.Context, opts Options) (*Queues, error) {
	if opts.DB == nil || opts.Sender == nil {
		return nil, errors.New("federation queue: DB and Sender are required")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 2 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Hour
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 1000
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = logrus.StandardLogger()
	}
	if _, err := storage.New(ctx, opts.DB); err != nil {
		return nil, fmt.Errorf("federation queue: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	var prefix [6]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return nil, fmt.Errorf("federation queue: transaction ID prefix: %w", err)
	}
	counts, err := loadCounts(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	q := &Queues{
		db: opts.DB, opts: opts, m: m,
		log:       log.WithField("component", "federation_queue"),
		txnPrefix: hex.EncodeToString(prefix[:]),
		dests:     make(map[string]*destination),
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.mu.Lock()
	defer q.mu.Unlock()
	for name, c := range counts {
		d := q.startLocked(name)
		d.queued = c
		m.pending.WithLabelValues(kindPDU.String()).Add(float64(c[kindPDU]))
		m.pending.WithLabelValues(kindEDU.String()).Add(float64(c[kindEDU]))
	}
	if len(counts) > 0 {
		q.log.WithField("destinations", len(counts)).Info("resuming queued federation traffic")
	}
	return q, nil
}

// EnqueuePDU queues one PDU (its JSON object) for each destination,
// durably: it returns after the rows are committed, in a group commit with
// other writes. Order per destination is enqueue order. When ctx carries a
// transaction of the same DB (sqlutil's WithTx), the rows join it instead
// and are sent once it commits; nothing is sent if it rolls back.
func (q *Queues) EnqueuePDU(ctx context.Context, destinations []string, pdu json.RawMessage) error {
	return q.enqueue(ctx, kindPDU, destinations, pdu)
}

// EnqueueEDU queues one EDU (its JSON) for each destination, durably, like
// EnqueuePDU: EDUs survive a restart.
func (q *Queues) EnqueueEDU(ctx context.Context, destinations []string, edu json.RawMessage) error {
	return q.enqueue(ctx, kindEDU, destinations, edu)
}

// Wake retries a destination now (e.g. it just sent us a transaction, so it
// is back up) and resets its backoff. A destination with nothing queued is
// left alone.
func (q *Queues) Wake(destination string) {
	q.mu.Lock()
	d := q.dests[destination]
	q.mu.Unlock()
	if d != nil {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops sending: in-flight Send calls get their context cancelled.
// It returns once every destination goroutine has ended. What is queued
// stays in the database for the next New.
func (q *Queues) Close() error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cancel()
	q.wg.Wait()
	return nil
}

// enqueue inserts body for every destination in one group transaction and,
// once it is committed, makes sure each destination's goroutine runs.
func (q *Queues) enqueue(ctx context.Context, k kind, destinations []string, body json.RawMessage) error {
	if err := checkBody(k, body); err != nil {
		return err
	}
	dests, err := uniqueDestinations(destinations)
	if err != nil || len(dests) == 0 {
		return err
	}
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		return ErrClosed
	}
	err = q.db.WithGroupTx(ctx, func(ctx context.Context) error {
		nowMs := q.opts.Now().UnixMilli()
		dropped := make([]int, len(dests)) // this run's, so a rerun starts afresh
		for i, dest := range dests {
			if err := insertRow(ctx, q.db, dest, k, body, nowMs); err != nil {
				return err
			}
			if over := q.queuedCount(dest, k) + 1 - q.opts.MaxQueued; over > 0 {
				n, err := trimOldest(ctx, q.db, dest, k, over)
				if err != nil {
					return err
				}
				dropped[i] = n
			}
		}
		// Counts change on the group's goroutine right after the commit,
		// before the next group runs, so the next trim sees them.
		q.db.AfterCommit(ctx, func() { q.enqueued(k, dests, dropped) })
		return nil
	})
	if err != nil {
		return fmt.Errorf("federation queue: queueing a %s for %d destinations: %w", k, len(dests), err)
	}
	return nil
}

// queuedCount is how many rows of kind k this process knows queued for dest.
func (q *Queues) queuedCount(dest string, k kind) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d := q.dests[dest]; d != nil {
		return d.queued[k]
	}
	return 0
}

// enqueued records committed rows: counts, metrics, a goroutine for every
// destination without one, and a log line when a destination starts
// losing PDUs.
func (q *Queues) enqueued(k kind, dests []string, dropped []int) {
	totalDropped := 0
	q.mu.Lock()
	for i, name := range dests {
		totalDropped += dropped[i]
		d := q.dests[name]
		if d == nil {
			if q.closed {
				continue // stays in the database for the next start
			}
			d = q.startLocked(name)
		}
		d.queued[k] += 1 - dropped[i]
		d.dirty = true
		if dropped[i] > 0 {
			if d.dropped[kindPDU]+d.dropped[kindEDU] == 0 {
				q.log.WithFields(logrus.Fields{"destination": name, "max_queued": q.opts.MaxQueued}).
					Warn("destination's queue is full; dropping its oldest entries " +
						"(it catches up with get_missing_events/backfill when back)")
			}
			d.dropped[k] += dropped[i]
		}
	}
	q.mu.Unlock()
	q.m.pending.WithLabelValues(k.String()).Add(float64(len(dests) - totalDropped))
	if totalDropped > 0 {
		q.m.dropped.WithLabelValues(k.String()).Add(float64(totalDropped))
	}
}

// startLocked registers a destination and starts its goroutine. q.mu is
// held and q is not closed.
func (q *Queues) startLocked(name string) *destination {
	d := &destination{name: name, wake: make(chan struct{}, 1)}
	q.dests[name] = d
	q.wg.Add(1)
	q.m.destinations.Inc()
	go q.run(d)
	return d
}

// newTxnID returns a transaction ID unique among all this database's
// Queues, before and after restarts.
func (q *Queues) newTxnID() string {
	return fmt.Sprintf("%s.%d", q.txnPrefix, q.txnSeq.Add(1))
}

// checkBody refuses what no remote would accept, since a transaction that
// always fails would block its destination for good.
func checkBody(k kind, body json.RawMessage) error {
	if k == kindPDU && len(body) > maxPDUSize {
		return fmt.Errorf("federation queue: PDU of %d bytes is over the %d-byte limit", len(body), maxPDUSize)
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return fmt.Errorf("federation queue: %s is not valid JSON", k)
	}
	if trimmed := bytes.TrimLeft(body, " \t\n\r"); trimmed[0] == '{' {
		return nil
	}
	return fmt.Errorf("federation queue: %s is not a JSON object", k)
}

// uniqueDestinations drops repeats and refuses empty names.
func uniqueDestinations(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for _, d := range in {
		if d == "" {
			return nil, errors.New("federation queue: empty destination")
		}
		if _, ok := seen[d]; !ok {
			seen[d] = struct{}{}
			out = append(out, d)
		}
	}
	return out, nil
}
