// Package indexer feeds a search.Backend from the sync component's stored
// events (syncapi_events: the roomserver's output log as the sync consumer
// stored it, in stream order, with redacted events' JSON replaced). It
// reads batches after a checkpoint kept per backend in the database, gives
// them to the backend, and advances the checkpoint only once the backend
// has acknowledged them: delivery is at least once, and Backend.Index and
// Delete are idempotent, so a crash or a failed batch costs a repeat, never
// a loss. Because the feed is durable and replayable, an indexer catches
// up after downtime from its checkpoint, and Reindex rebuilds an index
// from position zero.
package indexer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// Source is what the indexer needs of the sync component's storage
// (*storage.Storage implements it).
type Source interface {
	// EventsAfter returns timeline events above a position, lowest first.
	EventsAfter(ctx context.Context, pos int64, limit int) ([]*storage.Event, error)
	// EventsBefore returns timeline events below a position (backfilled
	// history), highest first.
	EventsBefore(ctx context.Context, low int64, limit int) ([]*storage.Event, error)
	// MaxPos is the latest stored position.
	MaxPos(ctx context.Context) (int64, error)
	// CountEvents is how many timeline events are stored (Reindex's total).
	CountEvents(ctx context.Context) (int64, error)
	GetSearchProgress(ctx context.Context, backend string) (storage.SearchProgress, error)
	// SearchPurges returns events of purged rooms whose documents must go;
	// DoneSearchPurges removes them from that queue.
	SearchPurges(ctx context.Context, limit int) ([]string, error)
	DoneSearchPurges(ctx context.Context, eventIDs []string) error
	SetSearchProgress(ctx context.Context, backend string, p storage.SearchProgress) error
}

var _ Source = (*storage.Storage)(nil)

// Options configure an indexer.
type Options struct {
	Name    string // checkpoint key, e.g. "sql" or "elasticsearch:<index>"
	Source  Source
	Backend search.Backend
	// Wake signals that new events were stored (nil: only polling finds
	// them).
	Wake <-chan struct{}
	// Batch is how many events one backend call carries at most (default 500).
	Batch int
	// PollEvery is how often the indexer looks for events without a wake
	// signal (default 1s): a fallback should a signal be missed.
	PollEvery time.Duration
	Log       logrus.FieldLogger
	// Registerer takes the metrics (nil: none).
	Registerer prometheus.Registerer
}

// Retry delays after a failed batch: doubling from minBackoff to maxBackoff.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

func (o *Options) defaults() error {
	if o.Name == "" || o.Source == nil || o.Backend == nil {
		return errors.New("search indexer: Name, Source and Backend are required")
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.PollEvery <= 0 {
		o.PollEvery = time.Second
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		o.Log = l
	}
	o.Log = o.Log.WithField("search_backend", o.Name)
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Indexer indexes new events as they are stored, until Close.
type Indexer struct {
	run    *runner
	cancel context.CancelFunc
	done   chan struct{}
}

// Start reads the backend's checkpoint and indexes from there in the
// background, until Close or until ctx ends.
func Start(ctx context.Context, o Options) (*Indexer, error) {
	r, err := newRunner(ctx, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	i := &Indexer{run: r, cancel: cancel, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, cancel)
	go func() {
		defer close(i.done)
		defer stop()
		r.loop(ctx)
	}()
	return i, nil
}

// Close stops the indexer and waits for it; a batch under way is
// abandoned before its checkpoint (it is indexed again next time).
func (i *Indexer) Close() error {
	i.cancel()
	<-i.done
	return nil
}

// Pos is the live stream position the indexer's checkpoint has reached.
func (i *Indexer) Pos() int64 { return i.run.pos.Load() }

// WaitFor waits until the checkpoint reaches pos (every event stored up to
// pos is in the backend), or ctx ends; it reports whether it got there.
func (i *Indexer) WaitFor(ctx context.Context, pos int64) bool {
	for {
		ch := i.run.advancedChan()
		if i.run.pos.Load() >= pos {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// runner is the indexing state shared by Start and Reindex.
type runner struct {
	o        Options
	m        *metrics
	progress storage.SearchProgress
	pos      atomic.Int64 // progress.Pos, for Pos()
	done     int64        // events read (Reindex's progress)

	latest int64 // the stream's latest position at the last step

	mu       sync.Mutex
	advanced chan struct{} // closed (and replaced) when pos moves
}

// setPos publishes a new checkpoint to Pos and WaitFor.
func (r *runner) setPos(p int64) {
	r.pos.Store(p)
	r.mu.Lock()
	close(r.advanced)
	r.advanced = make(chan struct{})
	r.mu.Unlock()
}

func (r *runner) advancedChan() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.advanced
}

func newRunner(ctx context.Context, o Options) (*runner, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer, o.Name)
	if err != nil {
		return nil, err
	}
	p, err := o.Source.GetSearchProgress(ctx, o.Name)
	if err != nil {
		return nil, fmt.Errorf("search indexer: %w", err)
	}
	r := &runner{o: o, m: m, progress: p, advanced: make(chan struct{})}
	r.pos.Store(p.Pos)
	return r, nil
}

// loop indexes until ctx ends: batches back to back while there are
// events, then waits for a wake signal or the poll.
func (r *runner) loop(ctx context.Context) {
	poll := time.NewTicker(r.o.PollEvery)
	defer poll.Stop()
	for {
		n, err := r.stepRetrying(ctx)
		if err != nil {
			return // ctx ended
		}
		r.updateLag()
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.o.Wake:
		case <-poll.C:
		}
	}
}

// stepRetrying runs step until it succeeds, waiting after each failure
// twice as long as after the last (minBackoff to maxBackoff): a batch is
// never skipped. It fails only when ctx ends.
func (r *runner) stepRetrying(ctx context.Context) (int, error) {
	backoff := time.Duration(0)
	for {
		n, err := r.step(ctx)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		r.m.errors.Inc()
		r.o.Log.WithError(err).WithFields(logrus.Fields{
			"checkpoint_pos": r.progress.Pos, "checkpoint_low": r.progress.Low, "retry_in": backoff.String(),
		}).Warn("search indexing failed; retrying")
		if !sleep(ctx, backoff) {
			return 0, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// updateLag sets the lag metric from the latest position the last step
// read, so that the loop asks the database once per batch, not twice.
func (r *runner) updateLag() {
	r.m.lag.Set(float64(max(r.latest-r.progress.Pos, 0)))
}

// step indexes one batch of live events, or when there are none, one batch
// of backfilled history, and returns how many events it read (0: none
// are waiting).
func (r *runner) step(ctx context.Context) (int, error) {
	// Purged events first (a purged room, events past their retention):
	// they are no longer in the source, and a batch read before the purge
	// was applied by an earlier step.
	if n, err := r.purge(ctx); n > 0 || err != nil {
		return n, err
	}
	// Read before the events: once a short batch is read, every position up
	// to latest has been seen, indexable or not (positions become visible
	// in order), so the checkpoint may move there and WaitFor callers
	// waiting for the stream's position are released.
	latest, err := r.o.Source.MaxPos(ctx)
	if err != nil {
		return 0, err
	}
	r.latest = latest
	evs, err := r.o.Source.EventsAfter(ctx, r.progress.Pos, r.o.Batch)
	if err != nil {
		return 0, err
	}
	next := r.progress
	if len(evs) > 0 {
		next.Pos = evs[len(evs)-1].Pos
		if len(evs) < r.o.Batch {
			next.Pos = max(next.Pos, latest)
		}
	} else if latest > next.Pos {
		next.Pos = latest
		return 0, r.commit(ctx, next, nil)
	} else {
		if evs, err = r.o.Source.EventsBefore(ctx, r.progress.Low, r.o.Batch); err != nil {
			return 0, err
		}
		if len(evs) == 0 {
			return 0, nil
		}
		next.Low = evs[len(evs)-1].Pos
	}
	if err := r.apply(ctx, evs); err != nil {
		return 0, err
	}
	// Only now that the backend has them (at least once).
	return len(evs), r.commit(ctx, next, evs)
}

// commit stores the checkpoint reached with evs.
func (r *runner) commit(ctx context.Context, next storage.SearchProgress, evs []*storage.Event) error {
	if err := r.o.Source.SetSearchProgress(ctx, r.o.Name, next); err != nil {
		return err
	}
	r.progress = next
	r.setPos(next.Pos)
	r.done += int64(len(evs))
	return nil
}

// apply gives a batch's documents and redactions to the backend.
func (r *runner) apply(ctx context.Context, evs []*storage.Event) error {
	var w work
	for _, e := range evs {
		w.add(e)
	}
	w.finish()
	if len(w.docs) > 0 {
		if err := r.o.Backend.Index(ctx, w.docs); err != nil {
			return fmt.Errorf("search indexer: indexing %d documents: %w", len(w.docs), err)
		}
		r.m.docs.Add(float64(len(w.docs)))
	}
	if len(w.deletes) > 0 {
		if err := r.o.Backend.Delete(ctx, w.deletes); err != nil {
			return fmt.Errorf("search indexer: deleting %d redacted events: %w", len(w.deletes), err)
		}
		r.m.deletes.Add(float64(len(w.deletes)))
	}
	return nil
}

// Reindex rebuilds the backend's index from position zero: it resets the
// checkpoint and indexes every stored event, calling progress (if not nil)
// with the events read and the total (counted at the start: events stored
// meanwhile may take done past it). A failed batch is retried as Start
// does, until ctx ends; the checkpoint then holds what was done. It may
// run beside a server's indexer of the same backend: both deliver every
// event at least once, and indexing is idempotent.
func Reindex(ctx context.Context, o Options, progress func(done, total int64)) error {
	r, err := newRunner(ctx, o)
	if err != nil {
		return err
	}
	r.progress = storage.SearchProgress{}
	r.setPos(0)
	if err := r.o.Source.SetSearchProgress(ctx, r.o.Name, r.progress); err != nil {
		return fmt.Errorf("search indexer: resetting the checkpoint: %w", err)
	}
	total, err := r.o.Source.CountEvents(ctx)
	if err != nil {
		return fmt.Errorf("search indexer: %w", err)
	}
	if progress != nil {
		progress(0, total)
	}
	for {
		n, err := r.stepRetrying(ctx)
		if err != nil {
			return fmt.Errorf("search indexer: reindex interrupted after %d events: %w", r.done, err)
		}
		if n == 0 {
			r.updateLag()
			return nil
		}
		if progress != nil {
			progress(r.done, total)
		}
	}
}

// purge drops the documents of one batch of purged rooms' events and
// returns how many events it handled.
func (r *runner) purge(ctx context.Context) (int, error) {
	ids, err := r.o.Source.SearchPurges(ctx, r.o.Batch)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if err := r.o.Backend.Delete(ctx, ids); err != nil {
		return 0, fmt.Errorf("search indexer: deleting %d events of purged rooms: %w", len(ids), err)
	}
	r.m.deletes.Add(float64(len(ids)))
	return len(ids), r.o.Source.DoneSearchPurges(ctx, ids)
}
