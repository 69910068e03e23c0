package syncapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/search/indexer"
)

// WithSearch gives the sync component a message-search backend: /search
// asks it, and an indexer feeds it the stored events (checkpointed under
// name). Without it /search finds nothing.
func WithSearch(b search.Backend, name string, reg prometheus.Registerer) Option {
	return func(o *options) {
		o.search, o.searchName, o.searchReg = b, name, reg
	}
}

// searchParts are the sync component's search pieces.
type searchParts struct {
	searchBackend search.Backend
	indexer       *indexer.Indexer
	stopWake      context.CancelFunc
}

// startSearch hands the backend to the routes and starts the indexer, woken
// whenever the stream moves.
func (s *SyncAPI) startSearch(ctx context.Context, o options, log logrus.FieldLogger) error {
	if o.search == nil {
		return nil
	}
	s.searchBackend = o.search
	wakeCtx, stop := context.WithCancel(context.Background())
	s.stopWake = stop
	ix, err := indexer.Start(ctx, indexer.Options{
		Name: o.searchName, Source: s.Store, Backend: o.search, Wake: wakeOnAdvance(wakeCtx, s.Notifier),
		Log: log.WithField("search_backend", o.searchName), Registerer: o.searchReg,
	})
	if err != nil {
		stop()
		return fmt.Errorf("syncapi: starting the search indexer: %w", err)
	}
	s.indexer = ix
	s.Routes.SetSearch(o.search, ix.WaitFor)
	return nil
}

// wakeOnAdvance signals (without ever blocking) each time the stream
// position moves, until ctx ends.
func wakeOnAdvance(ctx context.Context, n *internal.Notifier) <-chan struct{} {
	wake := make(chan struct{}, 1)
	go func() {
		pos := n.Pos()
		for ctx.Err() == nil {
			n.WaitAdvance(ctx, pos)
			pos = n.Pos()
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	return wake
}

// closeSearch stops the indexer and closes the backend.
func (s *SyncAPI) closeSearch() error {
	if s.indexer == nil {
		return nil
	}
	s.stopWake()
	return errors.Join(s.indexer.Close(), s.searchBackend.Close())
}
