package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
)

const room = "!r:example.org"

// feed stores events in the sync component's storage the way its
// roomserver consumer does.
type feed struct {
	t     *testing.T
	store *storage.Storage
	n     int
}

func newFeed(t *testing.T, db *sqlutil.DB) *feed {
	s, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return &feed{t: t, store: s}
}

// event stores an event of type typ with content (a state event when
// stateKey is not nil) and returns its ID.
func (f *feed) event(typ string, stateKey *string, content any, extra map[string]any) string {
	f.t.Helper()
	f.n++
	id := fmt.Sprintf("$e%d", f.n)
	ev := map[string]any{"event_id": id, "type": typ, "room_id": room, "sender": "@a:example.org",
		"origin_server_ts": 1000 + f.n, "content": content}
	if stateKey != nil {
		ev["state_key"] = *stateKey
	}
	for k, v := range extra {
		ev[k] = v
	}
	js, _ := json.Marshal(ev)
	_, _, err := f.store.InsertEvent(context.Background(), &storage.Event{ID: id, RoomID: room, Type: typ,
		Sender: "@a:example.org", StateKey: stateKey, TS: int64(1000 + f.n), JSON: js})
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *feed) message(body any) string {
	return f.event("m.room.message", nil, map[string]any{"msgtype": "m.text", "body": body}, nil)
}

// redact stores a redaction of target: first the target's JSON with its
// content removed, then the redaction, as the consumer does. v11 puts
// redacts in content; earlier room versions at the top level.
func (f *feed) redact(target string, v11 bool) {
	f.t.Helper()
	ctx := context.Background()
	old, err := f.store.EventByID(ctx, target)
	if err != nil {
		f.t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(old.JSON, &ev); err != nil {
		f.t.Fatal(err)
	}
	ev["content"] = map[string]any{}
	js, _ := json.Marshal(ev)
	if err := f.store.ReplaceEventJSON(ctx, target, js); err != nil {
		f.t.Fatal(err)
	}
	if v11 {
		f.event("m.room.redaction", nil, map[string]any{"redacts": target}, nil)
	} else {
		f.event("m.room.redaction", nil, map[string]any{}, map[string]any{"redacts": target})
	}
}

func (f *feed) start(b search.Backend, o Options) *Indexer {
	f.t.Helper()
	o.Name, o.Source, o.Backend = "test", f.store, b
	i, err := Start(context.Background(), o)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = i.Close() })
	return i
}

// caughtUp waits until i's checkpoint reaches the latest stored position.
func (f *feed) caughtUp(i *Indexer, within time.Duration) {
	f.t.Helper()
	latest, err := f.store.MaxPos(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for i.Pos() < latest {
		if time.Now().After(deadline) {
			f.t.Fatalf("indexer at %d after %s, want %d", i.Pos(), within, latest)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// want checks the documents m holds, as "eventID key text" in any order.
func want(t *testing.T, m *memory, docs ...string) {
	t.Helper()
	docs = slices.Sorted(slices.Values(docs))
	if got := m.snapshot(); strings.Join(got, "\n") != strings.Join(docs, "\n") {
		t.Fatalf("backend holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(docs, "\n"))
	}
}

var empty = ""

// TestIndexesKeys: messages by body, room names and topics by their plain
// text; encrypted events, bodies that are not strings, empty state and
// events that storage holds redacted index nothing.
func TestIndexesKeys(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		hello := f.message("hello world")
		f.message(42)
		f.message(map[string]string{"text": "an object"})
		f.message("")
		f.event("m.room.encrypted", nil, map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA"}, nil)
		name := f.event("m.room.name", &empty, map[string]any{"name": "Weekend plans"}, nil)
		topic := f.event("m.room.topic", &empty, map[string]any{"topic": "明天见",
			"m.topic": []map[string]string{{"mimetype": "text/html", "body": "<b>明天见</b>"}}}, nil)
		f.event("m.room.topic", &empty, map[string]any{"topic": ""}, nil)
		f.event("m.room.name", nil, map[string]any{"name": "not state"}, nil)
		sticker := f.event("m.sticker", nil, map[string]any{"body": "a cat", "url": "mxc://x/y"}, nil)
		gone := f.message("soon redacted")
		f.redact(gone, true) // before the indexer ever saw it

		m := newMemory()
		i := f.start(m, Options{})
		f.caughtUp(i, 5*time.Second)
		want(t, m,
			hello+" content.body hello world",
			name+" content.name Weekend plans",
			topic+" content.topic 明天见",
			sticker+" content.body a cat",
		)
		res, err := m.Search(context.Background(), search.Query{Term: "明天", Rooms: []search.RoomRange{{RoomID: room, To: 1 << 40}}})
		if err != nil || len(res.Hits) != 1 || res.Hits[0].EventID != topic {
			t.Fatalf("search 明天: %+v %v", res, err)
		}
	})
}

// TestRedactions: a redaction deletes its target from the backend, with
// redacts at the top level (room versions 1-10) or in content (v11).
func TestRedactions(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		a, b, c := f.message("alpha"), f.message("bravo"), f.message("charlie")
		m := newMemory()
		i := f.start(m, Options{Wake: make(chan struct{}), PollEvery: 10 * time.Millisecond})
		f.caughtUp(i, 5*time.Second)
		want(t, m, a+" content.body alpha", b+" content.body bravo", c+" content.body charlie")
		f.redact(a, false)
		f.redact(b, true)
		f.caughtUp(i, 5*time.Second)
		want(t, m, c+" content.body charlie")
	})
}

// TestCatchUp: an indexer started again goes on from its checkpoint, and
// indexes what was stored while it was stopped.
func TestCatchUp(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		a := f.message("one")
		m := newMemory()
		i := f.start(m, Options{})
		f.caughtUp(i, 5*time.Second)
		stoppedAt := i.Pos()
		if err := i.Close(); err != nil {
			t.Fatal(err)
		}
		b := f.message("two")
		f.redact(a, false)
		i = f.start(m, Options{})
		if i.Pos() != stoppedAt {
			t.Fatalf("restarted at %d, want the checkpoint %d", i.Pos(), stoppedAt)
		}
		f.caughtUp(i, 5*time.Second)
		want(t, m, b+" content.body two")
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.indexed != 2 {
			t.Fatalf("%d documents indexed, want 2 (one before the stop, one after)", m.indexed)
		}
	})
}

// TestAtLeastOnce: while the backend fails, the checkpoint stays before
// the failed batch and the batch is retried; once the backend recovers
// nothing is missing, and every failure was counted.
func TestAtLeastOnce(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		a := f.message("first")
		m := newMemory()
		reg := prometheus.NewRegistry()
		i := f.start(m, Options{Batch: 2, Registerer: reg})
		f.caughtUp(i, 5*time.Second)
		before := i.Pos()

		m.mu.Lock()
		m.failNext = 3
		m.mu.Unlock()
		b, c, d := f.message("second"), f.message("third"), f.message("fourth")
		f.redact(b, true)
		// The first failure is followed by 100 ms and 200 ms of back-off:
		// meanwhile the checkpoint must not move.
		deadline := time.Now().Add(5 * time.Second)
		for {
			m.mu.Lock()
			failures := m.failures
			m.mu.Unlock()
			if failures >= 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the backend was never called")
			}
			time.Sleep(2 * time.Millisecond)
		}
		if i.Pos() != before {
			t.Fatalf("checkpoint moved to %d past a failed batch (was %d)", i.Pos(), before)
		}
		f.caughtUp(i, 10*time.Second)
		want(t, m, a+" content.body first", c+" content.body third", d+" content.body fourth")
		if got := testutil.ToFloat64(i.run.m.errors); got != 3 {
			t.Fatalf("errors metric %v, want 3", got)
		}
		// b may be redacted in storage before the indexer reads it: count
		// what the backend received.
		m.mu.Lock()
		received := m.indexed
		m.mu.Unlock()
		if got := testutil.ToFloat64(i.run.m.docs); got != float64(received) || received < 3 {
			t.Fatalf("indexed docs metric %v, the backend received %d", got, received)
		}
		if p, err := f.store.GetSearchProgress(context.Background(), "test"); err != nil || p.Pos != i.Pos() {
			t.Fatalf("stored checkpoint %+v %v, want pos %d", p, err, i.Pos())
		}
	})
}

// TestWake: with polling out of the way, a wake signal gets new events
// indexed at once.
func TestWake(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		m := newMemory()
		wake := make(chan struct{}, 1)
		i := f.start(m, Options{Wake: wake, PollEvery: time.Hour})
		// The indexer looks once at start; an event stored while it looks
		// is found without a signal. Once it has looked, it waits.
		var a string
		for attempt := 0; ; attempt++ {
			before := i.Pos()
			a = f.message(fmt.Sprintf("ping %d", attempt))
			time.Sleep(200 * time.Millisecond)
			if i.Pos() == before {
				break
			}
			if attempt == 3 {
				t.Fatal("indexing without a wake signal or a poll")
			}
		}
		start := time.Now()
		wake <- struct{}{}
		f.caughtUp(i, time.Second)
		t.Logf("indexed %s after the wake signal", time.Since(start))
		if got := m.snapshot(); !slices.ContainsFunc(got, func(d string) bool { return strings.HasPrefix(d, a+" ") }) {
			t.Fatalf("%s not indexed: %v", a, got)
		}
	})
}

// TestReindex: Reindex rebuilds an empty backend from position zero,
// backfilled history included, reporting its progress; a running
// indexer's checkpoint does not stop it.
func TestReindex(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		ctx := context.Background()
		var docs []string
		for n := range 7 {
			id := f.message(fmt.Sprintf("message %d", n))
			docs = append(docs, id+" content.body "+fmt.Sprintf("message %d", n))
		}
		f.redact(strings.Fields(docs[0])[0], false)
		docs = docs[1:]
		js, _ := json.Marshal(map[string]any{"type": "m.room.message", "content": map[string]string{"body": "old news"}})
		if _, err := f.store.InsertHistory(ctx, []*storage.Event{{ID: "$old", RoomID: room, Type: "m.room.message",
			Sender: "@b:example.org", TS: 1, JSON: js}}); err != nil {
			t.Fatal(err)
		}
		docs = append([]string{"$old content.body old news"}, docs...)
		if err := f.store.SetSearchProgress(ctx, "test", storage.SearchProgress{Pos: 1000}); err != nil {
			t.Fatal(err)
		}

		m := newMemory()
		var calls []string
		err := Reindex(ctx, Options{Name: "test", Source: f.store, Backend: m, Batch: 3}, func(done, total int64) {
			calls = append(calls, fmt.Sprintf("%d/%d", done, total))
		})
		if err != nil {
			t.Fatal(err)
		}
		want(t, m, docs...)
		// 8 live events (7 messages, a redaction) in batches of 3, then the
		// history.
		if got := strings.Join(calls, " "); got != "0/9 3/9 6/9 8/9 9/9" {
			t.Fatalf("progress %s", got)
		}
		latest, _ := f.store.MaxPos(ctx)
		if p, err := f.store.GetSearchProgress(ctx, "test"); err != nil || p.Pos != latest || p.Low >= 0 {
			t.Fatalf("checkpoint after reindex %+v %v, want pos %d and the history", p, err, latest)
		}
	})
}

// TestHistoryAfterStart: history backfilled while the indexer runs, below
// everything it has indexed, is indexed too.
func TestHistoryAfterStart(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		f := newFeed(t, db)
		a := f.message("live")
		m := newMemory()
		wake := make(chan struct{}, 1)
		i := f.start(m, Options{Wake: wake})
		f.caughtUp(i, 5*time.Second)
		js, _ := json.Marshal(map[string]any{"type": "m.room.message", "content": map[string]string{"body": "from before"}})
		if _, err := f.store.InsertHistory(context.Background(), []*storage.Event{{ID: "$old", RoomID: room,
			Type: "m.room.message", Sender: "@b:example.org", TS: 1, JSON: js}}); err != nil {
			t.Fatal(err)
		}
		wake <- struct{}{}
		deadline := time.Now().Add(5 * time.Second)
		for len(m.snapshot()) < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		want(t, m, "$old content.body from before", a+" content.body live")
	})
}

// TestCloseWhileFailing: Close ends an indexer that is backing off from a
// failing backend, promptly, with the checkpoint before the failed batch.
func TestCloseWhileFailing(t *testing.T) {
	db := sqltest.Open(t, sqlutil.SQLite)
	f := newFeed(t, db)
	f.message("x")
	m := newMemory()
	m.failNext = 1 << 30
	i := f.start(m, Options{})
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- i.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return within 2 s")
	}
	if i.Pos() != 0 {
		t.Fatalf("checkpoint %d past a batch that never succeeded", i.Pos())
	}
	if p, err := f.store.GetSearchProgress(context.Background(), "test"); err != nil || p.Pos != 0 {
		t.Fatalf("stored checkpoint %+v %v", p, err)
	}
}

// TestPurgedRoom: the documents of a room an admin purged leave the
// backend, and its queue of purged events empties.
func TestPurgedRoom(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFeed(t, db)
		f.message("alpha")
		f.event("m.room.name", &empty, map[string]any{"name": "Doomed"}, nil)
		m := newMemory()
		i := f.start(m, Options{Wake: make(chan struct{}), PollEvery: 10 * time.Millisecond})
		f.caughtUp(i, 5*time.Second)
		if len(m.snapshot()) != 2 {
			t.Fatalf("indexed %v", m.snapshot())
		}
		if _, err := f.store.PurgeRoom(ctx, room, true); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(m.snapshot()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("backend still holds %v", m.snapshot())
			}
			time.Sleep(5 * time.Millisecond)
		}
		for {
			queued, err := f.store.SearchPurges(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(queued) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue still holds %v", queued)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}
