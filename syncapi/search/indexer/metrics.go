package indexer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/internal/promutil"
)

// metrics are the indexer's collectors, labelled by backend (its
// checkpoint name), so indexers on one registry share them.
type metrics struct {
	docs    prometheus.Counter // documents indexed
	deletes prometheus.Counter // events deleted (redactions)
	errors  prometheus.Counter // failed batches
	lag     prometheus.Gauge   // latest stored position - checkpoint
}

func newMetrics(reg prometheus.Registerer, name string) (*metrics, error) {
	docs, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_search_indexed_docs_total",
		Help: "Searchable documents (one key of one event) given to the search backend.",
	}, []string{"backend"}))
	if err != nil {
		return nil, err
	}
	deletes, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_search_deleted_events_total",
		Help: "Redacted events removed from the search backend.",
	}, []string{"backend"}))
	if err != nil {
		return nil, err
	}
	errs, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_search_index_errors_total",
		Help: "Batches the search indexer failed to read or index (each is retried).",
	}, []string{"backend"}))
	if err != nil {
		return nil, err
	}
	lag, err := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "myelin_search_index_lag",
		Help: "Stream positions stored but not yet indexed (latest stored position minus the indexer's checkpoint).",
	}, []string{"backend"}))
	if err != nil {
		return nil, err
	}
	l := prometheus.Labels{"backend": name}
	return &metrics{docs: docs.With(l), deletes: deletes.With(l), errors: errs.With(l), lag: lag.With(l)}, nil
}

func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	c, err := promutil.Register(reg, c)
	if err != nil {
		return c, fmt.Errorf("search indexer: registering metrics: %w", err)
	}
	return c, nil
}
