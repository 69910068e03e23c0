package preview

import (
	"errors"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
)

// loopback is the whitelist the tests that should connect use: the test
// servers listen on loopback, which is refused by default.
var loopback = []string{"127.0.0.0/8", "::1"}

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
