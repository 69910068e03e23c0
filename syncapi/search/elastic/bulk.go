package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/myelin-im/myelin/syncapi/search"
)

// docID is a document's _id: one per key of an event, so that indexing
// the same event again replaces its documents.
func docID(eventID, key string) string { return eventID + "|" + key }

// allKeys are the keys an event's documents can have; Delete removes the
// documents of all of them.
var allKeys = []string{search.KeyBody, search.KeyName, search.KeyTopic}

// source is a document as stored.
type source struct {
	EventID string   `json:"event_id"`
	RoomID  string   `json:"room_id"`
	Sender  string   `json:"sender"`
	Type    string   `json:"type"`
	Key     string   `json:"key"`
	TS      int64    `json:"ts"`
	Pos     int64    `json:"pos"`
	Words   string   `json:"words"`
	Chars   []string `json:"chars"`
	Text    string   `json:"text"`
}

// bulkOp is one action of a bulk request and its source, if any.
type bulkOp struct {
	action string // index or delete
	id     string
	source []byte
}

// Index adds or replaces the documents (PUT by _id through _bulk).
func (b *Backend) Index(ctx context.Context, docs []search.Doc) error {
	ops := make([]bulkOp, 0, len(docs))
	for _, d := range docs {
		a := search.Analyze(d.Text)
		src, err := json.Marshal(source{
			EventID: d.EventID, RoomID: d.RoomID, Sender: d.Sender, Type: d.Type, Key: d.Key,
			TS: d.TS, Pos: d.Pos, Words: strings.Join(a.Words, " "), Chars: nonNil(a.Chars), Text: d.Text,
		})
		if err != nil {
			return fmt.Errorf("elasticsearch: encoding %s: %w", d.EventID, err)
		}
		ops = append(ops, bulkOp{action: "index", id: docID(d.EventID, d.Key), source: src})
	}
	err := b.bulk(ctx, ops)
	b.m.request("index", err)
	return err
}

// Delete removes every document of the events: bulk deletes of the _ids of
// the three keys (an absent one answers 404, which is success here).
func (b *Backend) Delete(ctx context.Context, eventIDs []string) error {
	ops := make([]bulkOp, 0, len(eventIDs)*len(allKeys))
	for _, ev := range eventIDs {
		for _, k := range allKeys {
			ops = append(ops, bulkOp{action: "delete", id: docID(ev, k)})
		}
	}
	err := b.bulk(ctx, ops)
	b.m.request("delete", err)
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// maxBulkOps bounds one bulk request (the cluster's advice is a few MB).
const maxBulkOps = 1000

// bulk sends the operations in requests of at most maxBulkOps, retrying
// the ones that failed for load.
func (b *Backend) bulk(ctx context.Context, ops []bulkOp) error {
	for len(ops) > 0 {
		n := min(len(ops), maxBulkOps)
		if err := b.bulkRetrying(ctx, ops[:n]); err != nil {
			return err
		}
		ops = ops[n:]
	}
	return nil
}

// bulkRetrying sends ops, then again the ones that failed with 429 or a
// 5xx (the whole request when it failed so), with backoff.
func (b *Backend) bulkRetrying(ctx context.Context, ops []bulkOp) error {
	var lastErr error
	for attempt := 1; attempt <= b.retry.Attempts; attempt++ {
		if attempt > 1 {
			b.m.retries.Inc()
			b.log.WithError(lastErr).WithField("items", len(ops)).Warn("Elasticsearch bulk request: retrying")
			if err := b.retry.wait(ctx, attempt-1); err != nil {
				return fmt.Errorf("elasticsearch bulk: %w (after %w)", err, lastErr)
			}
		}
		failed, err := b.bulkOnce(ctx, ops)
		if err == nil {
			return nil
		}
		if !shouldRetry(ctx, err) {
			return err
		}
		lastErr = err
		if failed != nil {
			ops = failed
		}
	}
	return fmt.Errorf("elasticsearch bulk: giving up after %d attempts: %w", b.retry.Attempts, lastErr)
}

// shouldRetry: the cluster refused for load or failed (429, 5xx), or gave
// no answer (connection refused...); not a request it cannot accept.
func shouldRetry(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return retryable(se.code)
	}
	var ie *itemError
	return !errors.As(err, &ie)
}

// itemError is a bulk item that failed for good (a mapping error...).
type itemError struct {
	id, typ, reason string
	status          int
}

func (e *itemError) Error() string {
	return fmt.Sprintf("document %s: status %d: %s: %s", e.id, e.status, e.typ, e.reason)
}

type bulkResponse struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]bulkItemOutcome `json:"items"`
}

type bulkItemOutcome struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// bulkOnce sends one bulk request. On failure of some items it returns the
// ops to retry and a *statusError of a retryable status; a failure that
// retrying cannot cure is an *itemError.
func (b *Backend) bulkOnce(ctx context.Context, ops []bulkOp) ([]bulkOp, error) {
	res, err := b.es.Bulk(bytes.NewReader(encodeBulk(b.index, ops)),
		b.es.Bulk.WithContext(ctx), b.es.Bulk.WithRefresh(b.refresh))
	if err != nil {
		return nil, fmt.Errorf("elasticsearch bulk: %w", err)
	}
	defer closeBody(res.Body)
	if err := statusErr(res); err != nil {
		return nil, fmt.Errorf("elasticsearch bulk: %w", err)
	}
	var br bulkResponse
	if err := json.NewDecoder(res.Body).Decode(&br); err != nil {
		return nil, fmt.Errorf("elasticsearch bulk: decoding the response: %w", err)
	}
	if !br.Errors {
		return nil, nil
	}
	if len(br.Items) != len(ops) {
		return nil, fmt.Errorf("elasticsearch bulk: %d items answered for %d sent", len(br.Items), len(ops))
	}
	return itemFailures(ops, br.Items)
}

// itemFailures sorts the failed items into those to retry and a fatal one.
func itemFailures(ops []bulkOp, items []map[string]bulkItemOutcome) ([]bulkOp, error) {
	var retry []bulkOp
	status := 0
	for i, item := range items {
		out := item[ops[i].action]
		if out.Status < 300 || (ops[i].action == "delete" && (out.Status == http.StatusNotFound || out.Status == http.StatusConflict)) {
			continue
		}
		if retryable(out.Status) {
			retry = append(retry, ops[i])
			status = out.Status
			continue
		}
		ie := &itemError{id: ops[i].id, status: out.Status}
		if out.Error != nil {
			ie.typ, ie.reason = out.Error.Type, out.Error.Reason
		}
		return nil, fmt.Errorf("elasticsearch bulk: %w", ie)
	}
	if len(retry) == 0 {
		return nil, nil
	}
	se := &statusError{code: status, msg: fmt.Sprintf("%d of %d items failed for load", len(retry), len(ops))}
	return retry, fmt.Errorf("elasticsearch bulk: %w", se)
}

// encodeBulk is the NDJSON body of a bulk request: an action line, then a
// source line for index actions.
func encodeBulk(index string, ops []bulkOp) []byte {
	var buf bytes.Buffer
	for _, op := range ops {
		meta, _ := json.Marshal(map[string]map[string]string{op.action: {"_index": index, "_id": op.id}})
		buf.Write(meta)
		buf.WriteByte('\n')
		if op.source != nil {
			buf.Write(op.source)
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}
