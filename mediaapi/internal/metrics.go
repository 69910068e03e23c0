package internal

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what uploads stored and the thumbnails made.
type metrics struct {
	uploads    *prometheus.CounterVec
	bytes      prometheus.Counter
	thumbnails *prometheus.CounterVec
}

// Where a thumbnail came from (the source label).
const (
	sourceUpload  = "upload"  // pre-generated after an upload
	sourceRequest = "request" // made when first asked for
	sourceRemote  = "remote"  // fetched from the media's server
)

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
		thumbnails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_thumbnails_total",
			Help: "Thumbnails made, by source: pre-generated after an upload, made on request, or fetched from a remote server.",
		}, []string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.uploads, m.bytes, m.thumbnails} {
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

// thumbnailMade counts one thumbnail made (or fetched) from source.
func (m *metrics) thumbnailMade(source string) {
	m.thumbnails.WithLabelValues(source).Inc()
}
