// Package elastic is the elasticsearch message search backend
// (docs/decisions.md, "Message search: Elasticsearch backend"): one document
// per searchable key of an event, analysed by search.Analyze before it is
// sent, so that the cluster finds exactly what search.Match accepts.
package elastic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	elasticsearch "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/syncapi/search"
)

// Backend is search.Backend on an Elasticsearch cluster.
type Backend struct {
	es      *elasticsearch.Client
	index   string
	refresh string
	log     logrus.FieldLogger
	m       *metrics
	// retry paces the retries of requests the cluster refused for load.
	retry retryPolicy
}

var _ search.Backend = (*Backend)(nil)

// New connects to the cluster of cfg, and creates its index with the
// settings and mappings below if it does not exist.
func New(ctx context.Context, cfg config.Elasticsearch, log logrus.FieldLogger, reg prometheus.Registerer) (*Backend, error) {
	ecfg := elasticsearch.Config{
		Addresses: cfg.Addresses,
		Username:  cfg.Username,
		Password:  cfg.Password,
		APIKey:    cfg.APIKey,
		// Requests are retried here (retryPolicy), item by item for bulk
		// requests; the transport's own retries would repeat whole bodies.
		DisableRetry: true,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: reading ca_file: %w", err)
		}
		ecfg.CACert = pem
	}
	es, err := elasticsearch.NewClient(ecfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: client: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	refresh := cfg.Refresh
	if refresh == "" {
		refresh = "false"
	}
	b := &Backend{es: es, index: cfg.Index, refresh: refresh, log: log, m: m, retry: defaultRetry}
	if err := b.ensureIndex(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Close releases nothing: the client's idle connections close with the
// process.
func (b *Backend) Close() error { return nil }

// ensureIndex checks the cluster (GET /) and creates the index if missing.
func (b *Backend) ensureIndex(ctx context.Context) error {
	info, err := b.es.Info(b.es.Info.WithContext(ctx))
	if err != nil {
		b.m.request("info", err)
		return fmt.Errorf("elasticsearch: %w", err)
	}
	defer closeBody(info.Body)
	if err := statusErr(info); err != nil {
		b.m.request("info", err)
		return fmt.Errorf("elasticsearch: info: %w", err)
	}
	b.m.request("info", nil)
	exists, err := b.es.Indices.Exists([]string{b.index}, b.es.Indices.Exists.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("elasticsearch: checking index %s: %w", b.index, err)
	}
	closeBody(exists.Body)
	switch exists.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return b.createIndex(ctx)
	default:
		return fmt.Errorf("elasticsearch: checking index %s: %s", b.index, exists.Status())
	}
}

func (b *Backend) createIndex(ctx context.Context) error {
	body, err := json.Marshal(indexDefinition())
	if err != nil {
		return err
	}
	res, err := b.es.Indices.Create(b.index,
		b.es.Indices.Create.WithContext(ctx), b.es.Indices.Create.WithBody(strings.NewReader(string(body))))
	if err != nil {
		b.m.request("create_index", err)
		return fmt.Errorf("elasticsearch: creating index %s: %w", b.index, err)
	}
	defer closeBody(res.Body)
	err = statusErr(res)
	if err != nil && strings.Contains(err.Error(), "resource_already_exists_exception") {
		err = nil // another server created it meanwhile
	}
	b.m.request("create_index", err)
	if err != nil {
		return fmt.Errorf("elasticsearch: creating index %s: %w", b.index, err)
	}
	b.log.WithField("index", b.index).Info("Created the Elasticsearch index for message search")
	return nil
}

// Field names of the documents.
const (
	fEventID = "event_id"
	fRoomID  = "room_id"
	fSender  = "sender"
	fType    = "type"
	fKey     = "key"
	fTS      = "ts"
	fPos     = "pos"
	fWords   = "words"
	fChars   = "chars"
	fText    = "text"
)

// Names in the index settings.
const (
	tokensAnalyzer    = "myelin_tokens"
	densitySimilarity = "myelin_density"
)

// densityScript scores a matching term or phrase by its density in the
// text: more occurrences in a shorter text rank higher. It uses no
// statistics of the whole index, so a document's score for a query never
// changes and search_after pages never repeat a hit.
const densityScript = "double tf = doc.freq; return query.boost * tf / (tf + doc.length);"

// indexDefinition is the body of PUT /{index}.
func indexDefinition() map[string]any {
	keyword := map[string]any{"type": "keyword"}
	return map[string]any{
		"settings": map[string]any{
			"analysis": map[string]any{
				"analyzer": map[string]any{
					// Tokens were made by search.Analyze (lower-cased words
					// and CJK bigrams, space-joined): split on spaces only.
					tokensAnalyzer: map[string]any{"type": "custom", "tokenizer": "whitespace"},
				},
			},
			"similarity": map[string]any{
				densitySimilarity: map[string]any{
					"type":   "scripted",
					"script": map[string]any{"source": densityScript},
				},
			},
		},
		"mappings": map[string]any{
			"dynamic": "strict",
			"properties": map[string]any{
				fEventID: keyword, fRoomID: keyword, fSender: keyword, fType: keyword, fKey: keyword,
				fTS:  map[string]any{"type": "date", "format": "epoch_millis"},
				fPos: map[string]any{"type": "long"},
				fWords: map[string]any{
					"type": "text", "analyzer": tokensAnalyzer, "similarity": densitySimilarity,
					"index_options": "positions", "norms": true,
				},
				fChars: keyword,
				// The text as sent, kept for operators and future
				// highlighting; never matched against.
				fText: map[string]any{"type": "text", "index": false},
			},
		},
	}
}

// statusErr is the error of a response with a status of 400 or more: its
// error type and reason.
func statusErr(res *esapi.Response) error {
	if !res.IsError() {
		return nil
	}
	var e struct {
		Error struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if json.Unmarshal(raw, &e) == nil && e.Error.Type != "" {
		return &statusError{code: res.StatusCode, msg: e.Error.Type + ": " + e.Error.Reason}
	}
	return &statusError{code: res.StatusCode, msg: strings.TrimSpace(string(raw))}
}

type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %s", e.code, e.msg) }

// retryable: the cluster is overloaded or failing, not the request wrong.
func retryable(code int) bool { return code == http.StatusTooManyRequests || code >= 500 }

func closeBody(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	_ = rc.Close()
}

// retryPolicy paces retries: Attempts tries in all, the wait doubling from
// First up to Max.
type retryPolicy struct {
	Attempts   int
	First, Max time.Duration
}

var defaultRetry = retryPolicy{Attempts: 6, First: 200 * time.Millisecond, Max: 5 * time.Second}

// wait sleeps before retry n (1-based), or returns the context's error.
func (p retryPolicy) wait(ctx context.Context, n int) error {
	d := p.First << (n - 1)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
