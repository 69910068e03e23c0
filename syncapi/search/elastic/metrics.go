package elastic

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/internal/promutil"
)

type metrics struct {
	requests *prometheus.CounterVec
	retries  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	requests, err := promutil.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_search_elasticsearch_requests_total",
		Help: "Requests to the Elasticsearch cluster by operation (info, create_index, index, delete, search) and result (ok, error).",
	}, []string{"operation", "result"}))
	if err != nil {
		return nil, err
	}
	retries, err := promutil.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "myelin_search_elasticsearch_bulk_retries_total",
		Help: "Bulk requests sent again (for the items the cluster refused for load or failed on).",
	}))
	if err != nil {
		return nil, err
	}
	return &metrics{requests: requests, retries: retries}, nil
}

func (m *metrics) request(op string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.requests.WithLabelValues(op, result).Inc()
}
