package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/search"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// recorder is a search.Backend that keeps what it is given (the command's
// test checks the wiring, not a backend).
type recorder struct {
	mu     sync.Mutex
	docs   []search.Doc
	closed bool
}

func (r *recorder) Index(_ context.Context, docs []search.Doc) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs = append(r.docs, docs...)
	return nil
}
func (r *recorder) Delete(context.Context, []string) error { return nil }
func (r *recorder) Search(context.Context, search.Query) (*search.Result, error) {
	return &search.Result{}, nil
}
func (r *recorder) Close() error { r.closed = true; return nil }

// reindexConfig writes a config of an SQLite database in a temporary
// directory holding n stored messages, and returns its path.
func reindexConfig(t *testing.T, extra string, n int) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "myelin.yaml")
	cfg := "global:\n  data_dir: " + dir + "\n  server_name: example.org\n" + extra
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, db, err := openToolDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}()
	s, err := storage.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := "$m" + string(rune('a'+i))
		js, _ := json.Marshal(map[string]any{"type": "m.room.message", "content": map[string]string{"body": "hello " + id}})
		if _, _, err := s.InsertEvent(ctx, &storage.Event{ID: id, RoomID: "!r:example.org", Type: "m.room.message",
			Sender: "@a:example.org", JSON: js}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestSearchReindex(t *testing.T) {
	ctx := context.Background()
	path := reindexConfig(t, "", 3)
	rec := &recorder{}
	var gotCfg config.Search
	open := func(_ context.Context, cfg config.Search, db *sqlutil.DB, _ logrus.FieldLogger,
		_ prometheus.Registerer) (search.Backend, error) {
		gotCfg = cfg
		if db == nil {
			return nil, errors.New("no database")
		}
		return rec, nil
	}
	var out, errOut bytes.Buffer
	if code := searchReindex(ctx, []string{"--config", path, "--batch", "2"}, &out, &errOut, open); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if len(rec.docs) != 3 || !rec.closed || gotCfg.Backend != config.SearchSQL {
		t.Fatalf("backend got %d docs, closed %v, config %+v", len(rec.docs), rec.closed, gotCfg)
	}
	if !strings.Contains(out.String(), "reindexed 3 events into sql") {
		t.Fatalf("stdout %q", out.String())
	}
	// Not a terminal: progress is logged, not drawn.
	if !strings.Contains(errOut.String(), "reindexing") || !strings.Contains(errOut.String(), "percent=100.0") ||
		strings.Contains(errOut.String(), "\r") {
		t.Fatalf("stderr %q", errOut.String())
	}

	// Again: everything again (a rebuild starts from zero).
	out.Reset()
	if code := searchReindex(ctx, []string{"--config", path}, &out, &errOut, open); code != 0 || len(rec.docs) != 6 {
		t.Fatalf("second run: exit %d, %d docs: %s", code, len(rec.docs), errOut.String())
	}

	failing := func(context.Context, config.Search, *sqlutil.DB, logrus.FieldLogger, prometheus.Registerer) (search.Backend, error) {
		return nil, errors.New("cluster unreachable")
	}
	errOut.Reset()
	if code := searchReindex(ctx, []string{"--config", path}, &out, &errOut, failing); code != 1 ||
		!strings.Contains(errOut.String(), "search reindex: cluster unreachable") {
		t.Fatalf("failing backend: exit %d, %q", code, errOut.String())
	}
}

// TestSearchCommand: the command line; with search off there is nothing
// to reindex.
func TestSearchCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"search"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Fatalf("no subcommand: exit %d %q", code, errOut.String())
	}
	path := reindexConfig(t, "search:\n  backend: off\n", 1)
	errOut.Reset()
	code := run([]string{"search", "reindex", "--config", path}, nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "search.backend: off") {
		t.Fatalf("search off: exit %d %q", code, errOut.String())
	}
}

// TestProgressBar: on a terminal, one line redrawn at most every
// redrawEvery with percent, rate and time left; the final state always
// shows.
func TestProgressBar(t *testing.T) {
	var w bytes.Buffer
	now := time.Unix(0, 0)
	p := &progressBar{w: &w, tty: true, now: func() time.Time { return now }, every: redrawEvery}
	p.start = now
	now = now.Add(time.Second)
	p.update(250, 1000)
	now = now.Add(10 * time.Millisecond)
	p.update(260, 1000) // too soon: not drawn
	now = now.Add(990 * time.Millisecond)
	p.update(500, 1000)
	p.finish()
	want := "\r\x1b[Kreindexing:  25.0%  250/1000 events  250 events/s  ETA 3s" +
		"\r\x1b[Kreindexing:  50.0%  500/1000 events  250 events/s  ETA 2s" +
		"\r\x1b[Kreindexing:  50.0%  500/1000 events  250 events/s  ETA 2s\n"
	if w.String() != want {
		t.Fatalf("drew %q\nwant %q", w.String(), want)
	}
	if pct, _, eta := progressStats(12, 10, 0); pct != 100 || eta != "?" {
		t.Fatalf("past the total: %v %s", pct, eta)
	}
	if pct, _, _ := progressStats(0, 0, time.Second); pct != 100 {
		t.Fatalf("nothing to do: %v", pct)
	}
}
