package preview

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
)

// loopback is the whitelist the tests that should connect use: the test
// servers listen on loopback, which is refused by default.
var loopback = []string{"127.0.0.0/8", "::1"}

// server is a real HTTP server on a loopback address that counts the TCP
// connections it accepts, so a test can tell that a refused fetch never
// connected.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

// serve starts a server for h listening on addr ("127.0.0.1:0",
// "[::1]:0"); the test skips if addr cannot be listened on (no IPv6).
func serve(t *testing.T, addr string, h http.Handler) *server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &server{Server: httptest.NewUnstartedServer(h)}
	_ = s.Listener.Close()
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newFetcher builds a Fetcher for cfg and closes it after the test.
func newFetcher(t *testing.T, cfg Config) *Fetcher {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

// pngImage encodes a w×h PNG.
func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		img.Set(x, x%h, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("encoding a PNG: %v", err)
	}
	return buf.Bytes()
}

// wantError fails the test unless err wraps want and answers a client with
// status (through httputil.AsMatrixError, as a handler would).
func wantError(t *testing.T, err, want error, status int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status != status {
		t.Fatalf("error %v answers %+v, want status %d", err, me, status)
	}
}
