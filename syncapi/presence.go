package syncapi

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/consumers"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/search"
)

// Option changes how New builds the sync component.
type Option func(*options)

type options struct {
	presence   bool
	search     search.Backend
	searchName string
	searchReg  prometheus.Registerer
}

func defaultOptions() options { return options{presence: true} }

// WithPresence turns presence on or off (config presence.enabled; on by
// default). Off, /sync carries no presence, PUT /presence is accepted and
// ignored, GET answers offline, and nothing is announced to other servers.
func WithPresence(enabled bool) Option { return func(o *options) { o.presence = enabled } }

// presenceParts are the sync component's presence pieces.
type presenceParts struct {
	// Presence is the presence stream and the local users' tracker.
	Presence     *internal.Presence
	presenceSubs []bus.Subscription
	stopPresence context.CancelFunc
}

// startPresence builds presence, registers its endpoints and, when
// enabled, subscribes to other servers' presence and to local activity and
// starts the timers.
func (s *SyncAPI) startPresence(ctx context.Context, b bus.Bus, router *mux.Router, o options, log logrus.FieldLogger) error {
	p, err := internal.NewPresence(ctx, o.presence, s.Store, b, s.Notifier, time.Now, log)
	if err != nil {
		return err
	}
	s.Presence = p
	s.Routes.SetupPresence(router, p)
	if !o.presence {
		return nil
	}
	for _, start := range []func(context.Context, bus.Bus, *internal.Presence, logrus.FieldLogger) (bus.Subscription, error){
		consumers.StartPresenceInbound, consumers.StartPresenceActivity,
	} {
		sub, err := start(ctx, b, p, log)
		if err != nil {
			return err
		}
		s.presenceSubs = append(s.presenceSubs, sub)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stopPresence = cancel
	go p.Run(runCtx)
	return nil
}

// Close stops the presence timers and subscriptions (the bus closes the
// others).
func (s *SyncAPI) Close() error {
	if s.stopPresence != nil {
		s.stopPresence()
	}
	var errs []error
	for _, sub := range s.presenceSubs {
		errs = append(errs, sub.Close())
	}
	s.presenceSubs = nil
	errs = append(errs, s.closeSearch())
	return errors.Join(errs...)
}
