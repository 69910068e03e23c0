package sqlutil

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group commit: many small, independent writes from concurrent goroutines
// share one transaction and so one commit (one fsync), each in a savepoint
// of its own so that one failing undoes only itself. While a group commits,
// the next group gathers.

// maxGroup bounds how many writes share one transaction.
const maxGroup = 256

type groupJob struct {
	ctx  context.Context
	fn   func(ctx context.Context) error
	done chan error
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
// committed (or fn failed). fn runs inside a savepoint: its error rolls back
// its own writes only. fn must be short and must not wait for other writes;
// it runs on the group's goroutine with ctx's values but not its
// cancellation (a started write is finished). When ctx already carries a
// transaction, fn joins it, as with WithTx.
func (db *DB) WithGroupTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.txFrom(ctx) != nil {
		return fn(ctx)
	}
	g := &db.group
	g.once.Do(func() {
		g.jobs = make(chan *groupJob, maxGroup)
		g.stop = make(chan struct{})
		g.exited = make(chan struct{})
		go db.groupLoop()
	})
	if g.jobs == nil {
		return ErrClosed // closed before the first group write
	}
	job := &groupJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case <-g.stop:
		return ErrClosed
	default:
	}
	select {
	case g.jobs <- job:
	case <-g.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-job.done:
		return err
	case <-g.exited:
		// The loop answers every job it took before it exits.
		select {
		case err := <-job.done:
			return err
		default:
			return ErrClosed // queued after the loop stopped: never ran
		}
	}
}

func (db *DB) stopGroup() {
	g := &db.group
	g.once.Do(func() {}) // never start after close
	g.stopOnce.Do(func() {
		if g.stop != nil {
			close(g.stop)
			<-g.exited
		}
	})
}

func (db *DB) groupLoop() {
	g := &db.group
	defer close(g.exited)
	batch := make([]*groupJob, 0, maxGroup)
	for {
		select {
		case <-g.stop:
			// Fail what is queued; nothing new can arrive.
			for {
				select {
				case j := <-g.jobs:
					j.done <- ErrClosed
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

// runGroup runs a batch of writes in one transaction.
func (db *DB) runGroup(batch []*groupJob) {
	errs := make([]error, len(batch))
	states := make([]*txState, len(batch))
	ctx := context.Background()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("sqlutil: begin: %w", err)
		}
		return
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err // gave up before it started
			continue
		}
		st := &txState{tx: tx}
		states[i] = st
		if _, err := tx.ExecContext(ctx, "SAVEPOINT myelin_group"); err != nil {
			errs[i] = fmt.Errorf("sqlutil: savepoint: %w", err)
			continue
		}
		errs[i] = runJob(context.WithValue(context.WithoutCancel(j.ctx), txKey{db}, st), j.fn)
		if errs[i] != nil {
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT myelin_group"); rerr != nil {
				// The transaction is unusable: the whole group fails.
				_ = tx.Rollback()
				for k, j := range batch {
					e := errs[k]
					if e == nil {
						e = fmt.Errorf("sqlutil: group rolled back: %w", rerr)
					}
					j.done <- e
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT myelin_group"); err != nil {
			errs[i] = errors.Join(errs[i], fmt.Errorf("sqlutil: release savepoint: %w", err))
		}
	}
	var unprepared []string
	for _, st := range states {
		if st != nil {
			unprepared = append(unprepared, st.unprepared...)
		}
	}
	defer db.prepareLater(unprepared)
	if err := tx.Commit(); err != nil {
		for i, j := range batch {
			j.done <- errors.Join(errs[i], fmt.Errorf("sqlutil: commit: %w", err))
		}
		return
	}
	for i, j := range batch {
		if errs[i] == nil && states[i] != nil {
			for _, f := range states[i].afterCommit {
				f()
			}
		}
		j.done <- errs[i]
	}
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
