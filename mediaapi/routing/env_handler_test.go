package routing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// The handler tests of this package run the media component as the server
// does (mediaapi.New on the fixture's database, user API and router, a
// store in a temporary directory) and send requests through the
// production middleware, whose body limit stays at its 1 MiB default.

// env is a fixture with the media component and two users.
type env struct {
	*fixture.Fixture
	media        *mediaapi.MediaAPI
	metrics      *prometheus.Registry // the component's metrics
	base         string
	reg          *prometheus.Registry
	alice, bob   *fixture.User
	serverPrefix string // mxc://test.local/
}

// newEnv builds env on a fresh SQLite database; change adjusts the media
// configuration (config.Default's otherwise).
func newEnv(t testing.TB, change ...func(*config.MediaAPI)) *env {
	t.Helper()
	return newEnvOn(t, sqltest.Open(t, sqlutil.SQLite), change...)
}

// newEnvOn builds env on db.
func newEnvOn(t testing.TB, db *sqlutil.DB, change ...func(*config.MediaAPI)) *env {
	t.Helper()
	f := fixture.NewOn(t, db)
	cfg := config.Default().MediaAPI
	for _, c := range change {
		c(&cfg)
	}
	base := filepath.Join(t.TempDir(), "media")
	reg := prometheus.NewRegistry()
	m, err := mediaapi.New(context.Background(), mediaapi.Options{
		ServerName: f.ServerName,
		Config:     cfg,
		BasePath:   base,
		DB:         f.DB,
		Users:      f.Users,
		Router:     f.Router,
		Registerer: reg,
		Log:        f.Log,
	})
	if err != nil {
		t.Fatalf("starting the media component: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return &env{
		Fixture:      f,
		media:        m,
		metrics:      reg,
		base:         base,
		reg:          reg,
		alice:        f.User(t, "alice"),
		bob:          f.User(t, "bob"),
		serverPrefix: "mxc://" + f.ServerName + "/",
	}
}

// request is a request with a raw body (nil: none), a Content-Type (""
// none) and a token ("" none).
func (e *env) request(method, path, token, contentType string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// upload uploads content as u and returns its mxc:// URI.
func (e *env) upload(t testing.TB, u *fixture.User, content []byte, contentType, fileName string) api.MXC {
	t.Helper()
	path := "/_matrix/media/v3/upload"
	if fileName != "" {
		path += "?filename=" + url.QueryEscape(fileName)
	}
	res := e.DoRequest(t, e.request(http.MethodPost, path, u.Token, contentType, content))
	res.Want(t, http.StatusOK)
	var body struct {
		ContentURI string `json:"content_uri"`
	}
	res.Decode(t, &body)
	mxc, err := api.ParseMXC(body.ContentURI)
	if err != nil || mxc.ServerName != e.ServerName {
		t.Fatalf("content_uri %q: %v", body.ContentURI, err)
	}
	return mxc
}

// downloadPath is the authenticated download path of mxc (legacy: the
// unauthenticated one), with suffix added (a file name, a query).
func downloadPath(mxc api.MXC, legacy bool, suffix string) string {
	prefix := "/_matrix/client/v1/media/download/"
	if legacy {
		prefix = "/_matrix/media/v3/download/"
	}
	return prefix + mxc.ServerName + "/" + string(mxc.MediaID) + suffix
}

// download fetches mxc as u (nil: without a token, on the legacy path).
func (e *env) download(t testing.TB, u *fixture.User, mxc api.MXC, suffix string) *fixture.Response {
	t.Helper()
	if u == nil {
		return e.Do(t, http.MethodGet, downloadPath(mxc, true, suffix), "", nil)
	}
	return e.Do(t, http.MethodGet, downloadPath(mxc, false, suffix), u.Token, nil)
}

// files lists what the store holds: stored files and temporary ones.
func (e *env) files(t testing.TB) (stored, tmp []string) {
	t.Helper()
	for _, f := range fixture.Files(t, e.base) {
		if strings.HasPrefix(f, "tmp/") {
			tmp = append(tmp, f)
		} else {
			stored = append(stored, f)
		}
	}
	return stored, tmp
}

// counter is the sum of the metric name over its labels (0 when it has no
// series yet).
func (e *env) counter(t testing.TB, name string) float64 {
	t.Helper()
	families, err := e.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
