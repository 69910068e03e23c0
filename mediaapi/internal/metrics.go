package internal

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what uploads and fetches of remote media stored.
type metrics struct {
	uploads *prometheus.CounterVec
	bytes   prometheus.Counter
	remote  *prometheus.CounterVec
}

// newMetrics registers the media metrics on reg (nil: none kept).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_uploads_total",
			Help: "Files uploaded, by whether their content was new (stored) or already stored (deduplicated).",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "myelin_media_upload_bytes_total",
			Help: "Bytes uploaded, deduplicated or not.",
		}),
		remote: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_remote_fetches_total",
			Help: "Fetches of other servers' media, by whether their content was new (stored), " +
				"already stored (deduplicated), or not fetched (failed).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.uploads, m.bytes, m.remote} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("media: registering metrics: %w", err)
		}
	}
	return m, nil
}

// uploaded counts one upload of size bytes; added says its file was new.
func (m *metrics) uploaded(added bool, size int64) {
	result := "deduplicated"
	if added {
		result = "stored"
	}
	m.uploads.WithLabelValues(result).Inc()
	m.bytes.Add(float64(size))
}

// fetched counts a fetch of remote media with its outcome ("": none, a
// copy was there already).
func (m *metrics) fetched(result string) {
	if result != "" {
		m.remote.WithLabelValues(result).Inc()
	}
}
