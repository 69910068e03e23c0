package sqlutil

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/sirupsen/logrus"
)

// Group commit: many small, independent writes from concurrent goroutines
// share one transaction and so one commit (one fsync); one failing undoes
// only itself (the others run again without it). While a group commits, the
// next group gathers.

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

type groupJob struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	done chan struct{} // closed when answered
	// after is the write this one depends on (same lane, submitted
	// earlier); cleared once this one is answered.
	after *groupJob
	// failed is set, by the lane's goroutine only, as soon as the write is
	// known to have failed, so that writes after it fail too.
	failed bool
	err    error // the answer, once done has been sent
}

type grouper struct {
	once     sync.Once
	stopOnce sync.Once
	jobs     chan *groupJob
	stop     chan struct{}
	// exited is closed when the loop has returned, after it answered every
	// job it took.
	exited chan struct{}
}

// ErrClosed is returned by writes submitted to a closed DB.
var ErrClosed = errors.New("sqlutil: database closed")

// WithGroupTx runs fn in a transaction shared with other WithGroupTx calls
// made at about the same time, and returns once that transaction has
// committed (or fn failed). fn's error rolls back its own writes only; to
// get there the group may run fn again in a new transaction, so fn must be
// safe to rerun (set, not accumulate, what it computes) and must leave
// effects outside the database to AfterCommit hooks, which run only for the
// run that commits. fn must be short and must not wait for other writes;
// it runs on the group's goroutine with ctx's values but not its
// cancellation (a started write is finished). When ctx already carries a
// transaction, fn joins it, as with WithTx.
func (db *DB) WithGroupTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.withGroupTx(ctx, &db.groups[0], fn)
}

// keyedLanes is how many group-commit lanes WithGroupTxKey spreads keys over
// on PostgreSQL, besides the default lane of WithGroupTx.
const keyedLanes = 4

// WithGroupTxKey is WithGroupTx in a group chosen by key. On PostgreSQL,
// groups of different keys may commit at the same time on different
// connections (a commit waits for round trips and the WAL flush; meanwhile
// another group runs its statements). Writes under one key are grouped
// together as with WithGroupTx; writes under different keys must not
// depend on each other's order, and must not lock rows in an order that
// could deadlock with other lanes. On SQLite, which has one writer, it is
// WithGroupTx.
func (db *DB) WithGroupTxKey(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	return db.withGroupTx(ctx, db.lane(key), fn)
}

func (db *DB) withGroupTx(ctx context.Context, g *grouper, fn func(ctx context.Context) error) error {
	if db.txFrom(ctx) != nil {
		return fn(ctx)
	}
	return db.submit(ctx, g, nil, fn).Wait()
}

// ErrDependency is the error of a write submitted after another write
// (SubmitGroupTxKey) that failed: it did not run.
var ErrDependency = errors.New("sqlutil: an earlier write it depends on failed")

// Pending is a group write submitted with SubmitGroupTxKey.
type Pending struct {
	job *groupJob
	g   *grouper
	err error // set when the write was refused before it was queued
}

// Wait returns once the write has committed (nil) or failed.
func (p *Pending) Wait() error {
	if p.err != nil {
		return p.err
	}
	select {
	case <-p.job.done:
		return p.job.err
	case <-p.g.exited:
		// The loop answers every job it took before it exits.
		select {
		case <-p.job.done:
			return p.job.err
		default:
			return ErrClosed // queued after the loop stopped: never ran
		}
	}
}

// SubmitGroupTxKey queues fn as WithGroupTxKey does and returns without
// waiting. Writes submitted under one key run in submission order; with
// after set (a write submitted earlier under the same key), fn runs only if
// that write commits, in the same transaction or an earlier one, and
// otherwise fails with ErrDependency without running. This lets a caller
// pipeline writes that build on each other: it need not wait for one to
// commit before submitting the next.
func (db *DB) SubmitGroupTxKey(ctx context.Context, key string, after *Pending, fn func(ctx context.Context) error) *Pending {
	g := db.lane(key)
	var dep *groupJob
	if after != nil {
		if after.g != g {
			return &Pending{err: errors.New("sqlutil: a write can only depend on an earlier write of the same key")}
		}
		if after.err != nil {
			return &Pending{err: ErrDependency}
		}
		dep = after.job
	}
	return db.submit(ctx, g, dep, fn)
}

// lane returns the group of key.
func (db *DB) lane(key string) *grouper {
	if len(db.groups) == 1 {
		return &db.groups[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return &db.groups[1+int(h.Sum32()%uint32(len(db.groups)-1))]
}

// submit queues a job on g.
func (db *DB) submit(ctx context.Context, g *grouper, after *groupJob, fn func(ctx context.Context) error) *Pending {
	g.once.Do(func() {
		g.jobs = make(chan *groupJob, maxGroup)
		g.stop = make(chan struct{})
		g.exited = make(chan struct{})
		go db.groupLoop(g)
	})
	if g.jobs == nil {
		return &Pending{err: ErrClosed} // closed before the first group write
	}
	job := &groupJob{ctx: ctx, fn: fn, done: make(chan struct{}), after: after}
	select {
	case <-g.stop:
		return &Pending{err: ErrClosed}
	default:
	}
	select {
	case g.jobs <- job:
		return &Pending{job: job, g: g}
	case <-g.stop:
		return &Pending{err: ErrClosed}
	case <-ctx.Done():
		return &Pending{err: ctx.Err()}
	}
}

func (db *DB) stopGroups() {
	for i := range db.groups {
		g := &db.groups[i]
		g.once.Do(func() {}) // never start after close
		g.stopOnce.Do(func() {
			if g.stop != nil {
				close(g.stop)
				<-g.exited
			}
		})
	}
}

func (db *DB) groupLoop(g *grouper) {
	defer close(g.exited)
	batch := make([]*groupJob, 0, maxGroup)
	for {
		select {
		case <-g.stop:
			// Fail what is queued; nothing new can arrive.
			for {
				select {
				case j := <-g.jobs:
					j.answer(ErrClosed)
				default:
					return
				}
			}
		case j := <-g.jobs:
			batch = append(batch[:0], j)
		}
	drain:
		for len(batch) < maxGroup {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		db.runGroup(batch)
	}
}

// runGroup runs a batch of writes in one transaction. There are no
// savepoints (two extra round trips per write on PostgreSQL): when a write
// fails, the transaction is rolled back, that write gets its error, and the
// others run again in a fresh transaction. A write's fn may therefore run
// more than once; only the run that commits counts, and its AfterCommit hooks
// alone run. Outcomes are those of some serial order of the writes.
func (db *DB) runGroup(batch []*groupJob) {
	errs := make([]error, len(batch))
	live := make([]bool, len(batch))
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i], j.failed = err, true // gave up before it started
		} else {
			live[i] = true
		}
	}
	for {
		states, retry := db.tryGroup(batch, live, errs)
		if retry {
			continue
		}
		for i, j := range batch {
			if errs[i] == nil && states[i] != nil {
				for _, f := range states[i].afterCommit {
					f()
				}
			}
			j.answer(errs[i])
		}
		return
	}
}

// tryGroup runs the live writes of batch in one transaction. When one fails
// it records the error, marks it done, rolls back and returns retry=true.
// Otherwise it commits (a failed commit or begin becomes every live write's
// error) and returns each write's transaction state.
func (db *DB) tryGroup(batch []*groupJob, live []bool, errs []error) (states []*txState, retry bool) {
	states = make([]*txState, len(batch))
	ctx := context.Background()
	var unprepared []string
	defer func() { db.prepareLater(unprepared) }()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		failLive(batch, live, errs, fmt.Errorf("sqlutil: begin: %w", err))
		return states, false
	}
	for i, j := range batch {
		if !live[i] {
			continue
		}
		if j.after != nil && j.after.failed {
			errs[i], live[i], j.failed = ErrDependency, false, true
			continue
		}
		st := &txState{tx: tx}
		err := runJob(context.WithValue(context.WithoutCancel(j.ctx), txKey{db}, st), j.fn)
		unprepared = append(unprepared, st.unprepared...)
		if err != nil {
			errs[i], live[i], j.failed = err, false, true
			if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
				logrus.WithError(rerr).Warn("sqlutil: rolling back a group after a failed write")
			}
			return states, true
		}
		states[i] = st
	}
	if err := tx.Commit(); err != nil {
		failLive(batch, live, errs, fmt.Errorf("sqlutil: commit: %w", err))
		return states, false
	}
	return states, false
}

// failLive gives err to every write still live.
func failLive(batch []*groupJob, live []bool, errs []error, err error) {
	for i := range live {
		if live[i] {
			errs[i], live[i], batch[i].failed = err, false, true
		}
	}
}

// answer records the outcome and wakes the writer. The dependency is
// dropped so that a chain of writes does not keep every earlier one alive.
func (j *groupJob) answer(err error) {
	j.err, j.after = err, nil
	if err != nil {
		j.failed = true
	}
	close(j.done)
}

// runJob runs fn, turning a panic into an error for its caller alone.
func runJob(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlutil: write panicked: %v", p)
		}
	}()
	return fn(ctx)
}
