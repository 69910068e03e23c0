package roomserver

import (
	"context"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/internal"
)

// WithRedactionRetention keeps the originals of redacted events for d
// after the redaction, for admins' exports (0: forever).
func WithRedactionRetention(d time.Duration) Option {
	return func(o *internal.Options) { o.RedactionRetention = d }
}

// PruneEvery is how often the pruner of redaction history runs for a
// retention period: a quarter of it, between a second and an hour, so an
// original outlives its period by at most that.
func PruneEvery(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), time.Hour)
}

// Pruner forgets the originals of redacted events past their retention
// period, on a timer, until Close.
type Pruner struct {
	stop chan struct{}
	done sync.WaitGroup
}

// StartRedactionPruner runs rs.PruneRedactedOriginals every interval.
func StartRedactionPruner(rs api.Export, every time.Duration, log logrus.FieldLogger) *Pruner {
	p := &Pruner{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				n, err := rs.PruneRedactedOriginals(context.Background())
				if err != nil {
					log.WithError(err).Warn("pruning the originals of redacted events failed")
				} else if n > 0 {
					log.WithField("count", n).Debug("pruned the originals of redacted events")
				}
			}
		}
	}()
	return p
}

// Close stops the pruner and waits for a run in progress.
func (p *Pruner) Close() error {
	close(p.stop)
	p.done.Wait()
	return nil
}
