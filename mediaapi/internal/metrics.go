package internal

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what uploads and fetches of remote media stored, and the
// thumbnails made.
type metrics struct {
	uploads    *prometheus.CounterVec
	bytes      prometheus.Counter
	thumbnails *prometheus.CounterVec
	remote     *prometheus.CounterVec
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
		remote: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_remote_fetches_total",
			Help: "Fetches of other servers' media, by whether their content was new (stored), " +
				"already stored (deduplicated), or not fetched (failed).",
		}, []string{"result"}),
	}
	return m, register(reg, m.uploads, m.bytes, m.thumbnails, m.remote)
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

// thumbnailMade counts one thumbnail made (or fetched) from source.
func (m *metrics) thumbnailMade(source string) {
	m.thumbnails.WithLabelValues(source).Inc()
}

// transcriptionMetrics count how transcription requests were answered:
// by running the engine or from the kept transcriptions.
type transcriptionMetrics struct {
	runs      *prometheus.CounterVec
	cacheHits *prometheus.CounterVec
}

// newTranscriptionMetrics registers the transcription metrics on reg (nil:
// none kept).
func newTranscriptionMetrics(reg prometheus.Registerer) (*transcriptionMetrics, error) {
	m := &transcriptionMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_transcription_runs_total",
			Help: "Times a transcription engine ran, by engine and result (ok or error).",
		}, []string{"engine", "result"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_media_transcription_cache_hits_total",
			Help: "Transcriptions answered from those kept in the database, without running the engine.",
		}, []string{"engine"}),
	}
	return m, register(reg, m.runs, m.cacheHits)
}

// ran counts one run of engine that ended with err.
func (m *transcriptionMetrics) ran(engine string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.runs.WithLabelValues(engine, result).Inc()
}

// register registers cs on reg (nil: nothing to do).
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("media: registering metrics: %w", err)
		}
	}
	return nil
}
