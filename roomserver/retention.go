package roomserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/internal"
)

// WithRetention gives the roomserver the message retention configuration
// (api.Retention's RunRetention; StartRetentionJob runs it on a timer).
func WithRetention(c config.Retention) Option {
	return func(o *internal.Options) { o.Retention = c }
}

// RetentionJob runs the retention job on a timer until Close.
type RetentionJob struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartRetentionJob runs rs.RunRetention every interval, first one
// interval after the start.
func StartRetentionJob(rs api.Retention, interval time.Duration, log logrus.FieldLogger) *RetentionJob {
	ctx, cancel := context.WithCancel(context.Background())
	j := &RetentionJob{cancel: cancel}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			run, err := rs.RunRetention(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.WithError(err).Warn("retention job: some rooms could not be purged")
			}
			log.WithFields(logrus.Fields{"rooms": run.Rooms, "held": run.Held, "purged": run.Purged}).Debug("retention job ran")
		}
	}()
	return j
}

// Close stops the job, waiting for a run under way to stop.
func (j *RetentionJob) Close() error {
	j.cancel()
	j.wg.Wait()
	return nil
}
