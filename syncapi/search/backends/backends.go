// Package backends builds the search backend the configuration names, for
// the sync component and for `myelin search reindex`.
package backends

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/search/elastic"
	"github.com/myelin-im/myelin/syncapi/search/sqlsearch"
)

// ErrOff is returned when search.backend is off: there is nothing to open
// (and nothing to index).
var ErrOff = errors.New("search: the search backend is off (search.backend: off)")

// Open builds the configured backend: sql in db (the database of record),
// elasticsearch on the configured cluster.
func Open(ctx context.Context, cfg config.Search, db *sqlutil.DB, log logrus.FieldLogger,
	reg prometheus.Registerer) (search.Backend, error) {
	switch cfg.Backend {
	case config.SearchOff:
		return nil, ErrOff
	case config.SearchSQL:
		b, err := sqlsearch.New(ctx, db, log)
		if err != nil {
			return nil, err
		}
		return b, nil
	case config.SearchElasticsearch:
		b, err := elastic.New(ctx, cfg.Elasticsearch, log, reg)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("search: unknown backend %q", cfg.Backend)
}

// Name is the indexer's checkpoint key of the configured backend: one per
// place an index lives, so that pointing elasticsearch at a new index
// starts that index from the beginning.
func Name(cfg config.Search) string {
	if cfg.Backend == config.SearchElasticsearch {
		return config.SearchElasticsearch + ":" + cfg.Elasticsearch.Index
	}
	return cfg.Backend
}
