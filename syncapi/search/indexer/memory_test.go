package indexer

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/myelin-im/myelin/syncapi/search"
)

// memory is an in-memory search.Backend for the indexer's tests: it holds
// documents by event and key, answers queries with search.Match, and can
// be told to fail its next calls. It tests the indexer's logic, not a
// backend.
type memory struct {
	mu       sync.Mutex
	docs     map[string]search.Doc // event ID + "\x00" + key
	indexed  int                   // documents received, repeats included
	failNext int                   // how many more Index/Delete calls fail
	failures int                   // calls failed so far
}

var _ search.Backend = (*memory)(nil)

var errInjected = errors.New("memory backend: injected failure")

func newMemory() *memory { return &memory{docs: map[string]search.Doc{}} }

func (m *memory) fail() bool {
	if m.failNext > 0 {
		m.failNext--
		m.failures++
		return true
	}
	return false
}

func (m *memory) Index(_ context.Context, docs []search.Doc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail() {
		return errInjected
	}
	for _, d := range docs {
		m.docs[d.EventID+"\x00"+d.Key] = d
	}
	m.indexed += len(docs)
	return nil
}

func (m *memory) Delete(_ context.Context, eventIDs []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail() {
		return errInjected
	}
	for k, d := range m.docs {
		if slices.Contains(eventIDs, d.EventID) {
			delete(m.docs, k)
		}
	}
	return nil
}

// Search finds the documents of the query's keys in its rooms' ranges that
// match its term, most recent first (no filters, no paging: enough for
// these tests).
func (m *memory) Search(_ context.Context, q search.Query) (*search.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clauses := search.ParseQuery(q.Term)
	var res search.Result
	for _, d := range m.docs {
		if len(clauses) == 0 || (len(q.Keys) > 0 && !slices.Contains(q.Keys, d.Key)) {
			continue
		}
		inRange := slices.ContainsFunc(q.Rooms, func(r search.RoomRange) bool {
			return r.RoomID == d.RoomID && d.Pos > r.From && d.Pos <= r.To
		})
		if inRange && search.Match(clauses, search.Analyze(d.Text)) {
			res.Hits = append(res.Hits, search.Hit{EventID: d.EventID, RoomID: d.RoomID, Pos: d.Pos, Rank: 1})
		}
	}
	sort.Slice(res.Hits, func(i, j int) bool { return res.Hits[i].Pos > res.Hits[j].Pos })
	res.Count = len(res.Hits)
	return &res, nil
}

func (m *memory) Close() error { return nil }

// snapshot lists the documents held, as "eventID key text", sorted.
func (m *memory) snapshot() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, d := range m.docs {
		out = append(out, d.EventID+" "+d.Key+" "+d.Text)
	}
	sort.Strings(out)
	return out
}
