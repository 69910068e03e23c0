package internal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
	"github.com/myelin-im/myelin/test/fixture"
)

const (
	server = "test.local"
	alice  = "@alice:test.local"
	bob    = "@bob:test.local"
)

// clock is a clock tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	*Media
	base  string
	clock *clock
	reg   *prometheus.Registry
}

// newEnv builds the component on db with a store in a temporary directory;
// change adjusts its options.
func newEnv(t testing.TB, db *sqlutil.DB, change ...func(*Options)) *env {
	t.Helper()
	st, err := storage.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.UnixMilli(1_700_000_000_000)}
	opts := Options{
		ServerName:         server,
		BasePath:           filepath.Join(t.TempDir(), "media"),
		MaxUploadBytes:     1 << 20,
		UnusedUploadExpiry: time.Hour,
		MaxPendingUploads:  3,
		Now:                c.Now,
	}
	for _, f := range change {
		f(&opts)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	reg := prometheus.NewRegistry()
	m, err := New(opts, st, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return &env{Media: m, base: opts.BasePath, clock: c, reg: reg}
}

func (e *env) upload(t *testing.T, user string, content []byte) *api.Metadata {
	t.Helper()
	md, err := e.Upload(context.Background(), Upload{
		Uploader:      user,
		ContentType:   "application/pdf",
		Body:          bytes.NewReader(content),
		ContentLength: int64(len(content)),
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return md
}

// storedFiles lists the files under the store's sha256/ and tmp/.
func (e *env) storedFiles(t *testing.T) (stored, tmp []string) {
	t.Helper()
	for _, f := range fixture.Files(t, e.base) {
		if strings.HasPrefix(f, tmpDir+"/") {
			tmp = append(tmp, f)
		} else {
			stored = append(stored, f)
		}
	}
	return stored, tmp
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, c io.ReadCloser) []byte {
	t.Helper()
	defer func() { _ = c.Close() }()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadStoresByHashOnce(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnv(t, db)
		content := []byte("%PDF-1.7 \x00\x01 binary")
		a := e.upload(t, alice, content)
		b := e.upload(t, bob, content)
		if a.MediaID == b.MediaID || a.SHA256 != hexSum(content) || b.SHA256 != a.SHA256 || a.Size != int64(len(content)) {
			t.Fatalf("two uploads of the same bytes: %+v and %+v", a, b)
		}
		stored, tmp := e.storedFiles(t)
		sum := hexSum(content)
		want := filesDir + "/" + sum[:2] + "/" + sum[2:4] + "/" + sum
		if len(stored) != 1 || stored[0] != want || len(tmp) != 0 {
			t.Fatalf("files %v, temporary %v; want only %s", stored, tmp, want)
		}
		for _, id := range []api.MediaID{a.MediaID, b.MediaID} {
			md, c, err := e.OpenLocal(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, c); !bytes.Equal(got, content) || md.ContentType != "application/pdf" {
				t.Fatalf("%s: %q %+v", id, got, md)
			}
		}
		err := testutil.GatherAndCompare(e.reg, strings.NewReader(`
# HELP myelin_media_uploads_total Files uploaded, by whether their content was new (stored) or already stored (deduplicated).
# TYPE myelin_media_uploads_total counter
myelin_media_uploads_total{result="deduplicated"} 1
myelin_media_uploads_total{result="stored"} 1
`), "myelin_media_uploads_total")
		if err != nil {
			t.Fatal(err)
		}
	})
}

// is matches errors wrapping target.
func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

// failingReader hands out data, then fails with err (nil: io.EOF). It
// hides its length, as a chunked request body does.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestUploadLimits(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite), func(o *Options) {
		o.MaxUploadBytes = 100
		o.UserQuotaBytes = 150
	})
	ctx := context.Background()
	cut := errors.New("connection reset")
	var invalid *api.InvalidParamError
	for _, tc := range []struct {
		name     string
		fileName string
		body     io.Reader
		declared int64
		want     func(error) bool
	}{
		{"declared over the limit", "", strings.NewReader("x"), 101, is(api.ErrTooLarge)},
		{"lying length", "", strings.NewReader(strings.Repeat("x", 101)), 10, is(api.ErrTooLarge)},
		{"no length", "", &failingReader{data: bytes.Repeat([]byte("x"), 101)}, -1, is(api.ErrTooLarge)},
		{"sender cut off", "", &failingReader{data: []byte("xx"), err: cut}, -1, is(ErrBody)},
		{"bad file name", "a\nb", strings.NewReader("x"), 1, func(err error) bool { return errors.As(err, &invalid) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Upload(ctx, Upload{Uploader: alice, UploadName: tc.fileName, Body: tc.body, ContentLength: tc.declared})
			if !tc.want(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if stored, tmp := e.storedFiles(t); len(stored)+len(tmp) != 0 {
				t.Fatalf("a refused upload left %v %v", stored, tmp)
			}
		})
	}
	if _, err := e.Upload(ctx, Upload{Uploader: alice, Body: strings.NewReader(""), ContentLength: 0}); err != nil {
		t.Fatalf("empty upload: %v", err)
	}
	e.upload(t, alice, bytes.Repeat([]byte("a"), 100))
	// 50 bytes of quota left: a declared 51 is refused before reading, an
	// undeclared 51 while streaming.
	_, err := e.Upload(ctx, Upload{Uploader: alice, Body: strings.NewReader("x"), ContentLength: 51})
	if !errors.Is(err, api.ErrQuotaExceeded) {
		t.Fatalf("declared over quota: %v", err)
	}
	_, err = e.Upload(ctx, Upload{Uploader: alice, Body: &failingReader{data: bytes.Repeat([]byte("b"), 51)}, ContentLength: -1})
	if !errors.Is(err, api.ErrQuotaExceeded) {
		t.Fatalf("streamed over quota: %v", err)
	}
	e.upload(t, alice, bytes.Repeat([]byte("c"), 50))
	e.upload(t, bob, bytes.Repeat([]byte("d"), 100))
	if stored, tmp := e.storedFiles(t); len(stored) != 4 || len(tmp) != 0 { // "", a…, c…, d…
		t.Fatalf("files %v, temporary %v", stored, tmp)
	}
}

// TestUploadForNoOne: a file stored for no user (a URL preview's image) is
// held to the size limit, not to a quota smaller than it.
func TestUploadForNoOne(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite), func(o *Options) {
		o.MaxUploadBytes = 100
		o.UserQuotaBytes = 50
	})
	ctx := context.Background()
	for i := range 3 {
		md, err := e.Upload(ctx, Upload{Body: bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 80)), ContentLength: -1})
		if err != nil || md.Uploader != "" {
			t.Fatalf("upload %d for no one: %+v, %v", i, md, err)
		}
	}
	_, err := e.Upload(ctx, Upload{Body: bytes.NewReader(make([]byte, 101)), ContentLength: -1})
	if !errors.Is(err, api.ErrTooLarge) {
		t.Fatalf("over the size limit for no one: %v", err)
	}
}

// TestFailedRecordRemovesNewFileOnly: when the metadata cannot be
// committed, the file the upload added goes, but a file another row names
// stays.
func TestFailedRecordRemovesNewFileOnly(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
	kept := e.upload(t, alice, []byte("kept"))
	failing := errors.New("database gone")
	for _, content := range []string{"kept", "new"} {
		r, err := e.files.receive(strings.NewReader(content), 100, api.ErrTooLarge)
		if err != nil {
			t.Fatal(err)
		}
		referenced := func(sum string) (bool, error) { return e.store.FileReferenced(context.Background(), sum) }
		if _, err := e.files.keep([]*received{r}, func() error { return failing }, referenced); !errors.Is(err, failing) {
			t.Fatalf("keep: %v", err)
		}
	}
	stored, tmp := e.storedFiles(t)
	if len(stored) != 1 || filepath.Base(stored[0]) != kept.SHA256 || len(tmp) != 0 {
		t.Fatalf("files %v, temporary %v; want only %s", stored, tmp, kept.SHA256)
	}
}

func TestOpenFilesRemovesStaleTemporaryFiles(t *testing.T) {
	base := t.TempDir()
	if _, err := openFiles(base); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(base, tmpDir, "upload-123")
	if err := os.WriteFile(stale, []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openFiles(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temporary file still there: %v", err)
	}
	for _, sum := range []string{"../../etc/passwd", "", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		if p, err := f.path(sum); err == nil {
			t.Errorf("path(%q) = %s, want an error", sum, p)
		}
	}
}

func TestAsyncUpload(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		mxc, expires, err := e.Create(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if mxc.ServerName != server || len(mxc.MediaID) != 24 || expires != e.clock.Now().Add(time.Hour).UnixMilli() {
			t.Fatalf("Create = %v, %d", mxc, expires)
		}
		if _, err := api.ParseMediaID(string(mxc.MediaID)); err != nil {
			t.Fatalf("generated media ID %q: %v", mxc.MediaID, err)
		}
		_, err = e.Metadata(ctx, mxc, 0)
		if !errors.Is(err, api.ErrNotYetUploaded) {
			t.Fatalf("before the upload: %v", err)
		}
		if err := e.CheckPendingUpload(ctx, mxc.MediaID, bob); !errors.Is(err, api.ErrNotUploader) {
			t.Fatalf("bob uploading to alice's ID: %v", err)
		}

		// A download waiting for the upload gets it as soon as it lands.
		type result struct {
			md  *api.Metadata
			err error
		}
		waited := make(chan result, 1)
		go func() {
			md, err := e.Metadata(ctx, mxc, 30*time.Second)
			waited <- result{md, err}
		}()
		time.Sleep(50 * time.Millisecond)
		md, err := e.Upload(ctx, Upload{Uploader: alice, Body: strings.NewReader("later"), ContentLength: -1, MediaID: mxc.MediaID})
		if err != nil || md.MediaID != mxc.MediaID {
			t.Fatalf("upload to the created ID: %+v, %v", md, err)
		}
		select {
		case r := <-waited:
			if r.err != nil || r.md.SHA256 != hexSum([]byte("later")) {
				t.Fatalf("waiting download: %+v, %v", r.md, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the waiting download was not woken by the upload")
		}
		_, err = e.Upload(ctx, Upload{Uploader: alice, Body: strings.NewReader("again"), ContentLength: -1, MediaID: mxc.MediaID})
		if !errors.Is(err, api.ErrCannotOverwrite) {
			t.Fatalf("second upload: %v", err)
		}
	})
}

func TestPendingExpiryAndLimit(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
	ctx := context.Background()
	var ids []api.MXC
	for range 3 {
		mxc, _, err := e.Create(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, mxc)
	}
	if _, _, err := e.Create(ctx, alice); !errors.Is(err, api.ErrTooManyPending) {
		t.Fatalf("fourth pending ID: %v", err)
	}
	if _, _, err := e.Create(ctx, bob); err != nil {
		t.Fatalf("bob's first: %v", err)
	}
	start := time.Now()
	if _, err := e.Metadata(ctx, ids[0], 200*time.Millisecond); !errors.Is(err, api.ErrNotYetUploaded) {
		t.Fatalf("waiting for an upload that does not come: %v", err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("waited %v for 200ms", waited)
	}

	e.clock.advance(time.Hour)
	_, err := e.Upload(ctx, Upload{Uploader: alice, Body: strings.NewReader("late"), ContentLength: -1, MediaID: ids[1].MediaID})
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("upload to an expired ID: %v", err)
	}
	if _, err := e.Metadata(ctx, ids[2], time.Second); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("download of an expired ID: %v", err)
	}
	if n, err := e.SweepExpired(ctx); err != nil || n != 4 {
		t.Fatalf("sweep removed %d (%v), want 4", n, err)
	}
	if _, _, err := e.Create(ctx, alice); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestSweepRunsAndStopsOnClose(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite), func(o *Options) { o.SweepInterval = 10 * time.Millisecond })
	ctx := context.Background()
	mxc, _, err := e.Create(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(2 * time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Pending answers only unexpired rows: look far in the past.
		if _, err := e.store.Pending(ctx, mxc.MediaID, 0); errors.Is(err, api.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not remove the expired ID")
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { _ = e.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the sweep")
	}
}

func TestContentTypeAndName(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     DefaultContentType,
		"image/png":                            "image/png",
		"img/png":                              "img/png",
		" Text/Plain; charset=utf-8":           "Text/Plain; charset=utf-8",
		"not a type":                           DefaultContentType,
		"image/":                               DefaultContentType,
		strings.Repeat("a", 250) + "/b1234567": DefaultContentType,
	} {
		if got := NormalizeContentType(in); got != want {
			t.Errorf("NormalizeContentType(%q) = %q, want %q", in, got, want)
		}
	}
	for name, ok := range map[string]bool{
		"":                            true,
		"name with spaces.png":        true,
		"name;with;semicolons":        true,
		"\U0001F414":                  true,
		"../../etc/passwd":            true, // only ever a header value
		"tab\there":                   false,
		"nul\x00":                     false,
		"\xff\xfe":                    false,
		strings.Repeat("a", 256):      false,
		strings.Repeat("\u00e9", 127): true,
	} {
		if err := CheckUploadName(name); (err == nil) != ok {
			t.Errorf("CheckUploadName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
