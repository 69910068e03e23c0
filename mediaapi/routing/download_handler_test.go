package routing_test

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// TestDownloadAuthentication: the authenticated paths want a token; the
// legacy ones serve without one.
func TestDownloadAuthentication(t *testing.T) {
	e := newEnv(t)
	mxc := e.upload(t, e.alice, []byte("hello"), "text/plain", "hello.txt")
	for _, suffix := range []string{"", "/other.txt"} {
		e.Do(t, http.MethodGet, downloadPath(mxc, false, suffix), "", nil).Want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
		e.Do(t, http.MethodGet, downloadPath(mxc, false, suffix), "nope", nil).Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		e.Do(t, http.MethodGet, downloadPath(mxc, true, suffix), "", nil).Want(t, http.StatusOK)
	}
	// Complement asks with the whole mxc:// URI as the media ID: still 401.
	e.Do(t, http.MethodGet, "/_matrix/client/v1/media/download/hs1/mxc:%2F%2Fhs1%2Fabc", "", nil).
		Want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
	for _, p := range []string{"/_matrix/client/v1/media/config", "/_matrix/media/v3/config"} {
		e.Do(t, http.MethodGet, p, "", nil).Want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
		res := e.Do(t, http.MethodGet, p, e.bob.Token, nil)
		res.Want(t, http.StatusOK)
		if res.JSON()["m.upload.size"] != float64(100<<20) {
			t.Fatalf("%s: %s", p, res.Body)
		}
	}
}

// TestDownloadRefusesPathsOutsideTheStore: traversal attempts and malformed
// media IDs or server names are refused (400, or 404 when the router finds
// no route), and no file outside the store is ever served.
func TestDownloadRefusesPathsOutsideTheStore(t *testing.T) {
	e := newEnv(t)
	secret := []byte("SECRET OUTSIDE THE STORE")
	for _, p := range []string{filepath.Join(filepath.Dir(e.base), "secret"), filepath.Join(e.base, "secret")} {
		if err := os.WriteFile(p, secret, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mxc := e.upload(t, e.alice, []byte("inside"), "text/plain", "")
	id := string(mxc.MediaID)
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"dot dot", "test.local/..", 404},
		{"dot dot encoded", "test.local/%2e%2e", 400},
		{"slash encoded", "test.local/..%2Fsecret", 400},
		{"slash encoded in the server name", "..%2F..%2Fsecret/" + id, 400},
		{"absolute path", "test.local/%2Fetc%2Fpasswd", 400},
		{"absolute path with a real ID", "test.local/" + id + "%2F..%2F..%2Fsecret", 400},
		{"NUL", "test.local/" + id + "%00", 400},
		{"dot in the media ID", "test.local/secret.txt", 400},
		{"bad server name", "exa_mple.org/" + id, 400},
		{"empty server name", "/" + id, 404},
		{"extra segments", "test.local/a/b/c", 404},
		{"unescaped traversal", "test.local/../../secret", 404},
		{"media ID too long", "test.local/" + strings.Repeat("a", 256), 400},
		{"unknown media ID", "test.local/unknownID", 404},
		{"hash of a stored file as the ID", "test.local/sha256", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, prefix := range []string{"/_matrix/client/v1/media/download/", "/_matrix/media/v3/download/"} {
				res := e.Do(t, http.MethodGet, prefix+tc.path, e.bob.Token, nil)
				if res.Status == http.StatusMovedPermanently {
					// The router's redirect to the cleaned path (dot
					// segments resolved): follow it.
					res = e.Do(t, http.MethodGet, res.Header.Get("Location"), e.bob.Token, nil)
				}
				if res.Status != tc.status || bytes.Contains(res.Body, secret) {
					t.Fatalf("%s%s: %d %s, want %d", prefix, tc.path, res.Status, res.Body, tc.status)
				}
				if res.ErrCode() == "" {
					t.Fatalf("%s%s: no Matrix error: %s", prefix, tc.path, res.Body)
				}
			}
		})
	}
}

// TestDownloadRanges: range requests, as audio and video players make them.
func TestDownloadRanges(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(10_000, 7)
	mxc := e.upload(t, e.alice, content, "audio/ogg", "voice.ogg")
	get := func(rangeHeader string) *http.Request {
		req := e.request(http.MethodGet, downloadPath(mxc, false, ""), e.bob.Token, "", nil)
		req.Header.Set("Range", rangeHeader)
		return req
	}
	for _, tc := range []struct {
		rangeHeader string
		from, to    int // inclusive
	}{
		{"bytes=0-99", 0, 99},
		{"bytes=5000-", 5000, 9999},
		{"bytes=-100", 9900, 9999},
		{"bytes=9999-20000", 9999, 9999},
	} {
		res := e.DoRequest(t, get(tc.rangeHeader))
		res.Want(t, http.StatusPartialContent)
		wantRange := fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to, len(content))
		if res.Header.Get("Content-Range") != wantRange || !bytes.Equal(res.Body, content[tc.from:tc.to+1]) {
			t.Fatalf("%s: Content-Range %q (want %q), %d bytes", tc.rangeHeader, res.Header.Get("Content-Range"), wantRange, len(res.Body))
		}
		if res.Header.Get("Content-Type") != "audio/ogg" {
			t.Fatalf("%s: Content-Type %q", tc.rangeHeader, res.Header.Get("Content-Type"))
		}
	}
	res := e.DoRequest(t, get("bytes=20000-30000"))
	res.Want(t, http.StatusRequestedRangeNotSatisfiable, "M_INVALID_PARAM")
	if res.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(content)) || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("416 headers: %v", res.Header)
	}
}

// TestDownloadHeaders: type, disposition (inline only for the spec's safe
// types; file names quoted or RFC 8187-encoded; the path's file name
// first), the spec's security headers and caching.
func TestDownloadHeaders(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, contentType, fileName, pathName string
		inline                                bool
	}{
		{"png", "image/png", "ascii", "", true},
		{"spaces", "image/png", "name with spaces", "", true},
		{"semicolons", "image/png", "name;with;semicolons", "", true},
		{"quotes", "text/plain", `say "hi" \o/`, "", true},
		{"unicode", "image/png", "\U0001F414", "", true},
		{"path name wins", "image/png", "ascii", "file.png", true},
		{"unicode path name", "image/png", "\U0001F414", "\u2615", true},
		{"no name", "image/png", "", "", true},
		{"type with parameters", "Text/Plain; charset=utf-8", "", "", true},
		{"svg", "image/svg+xml", "pic.svg", "", false},
		{"html", "text/html", "page.html", "", false},
		{"octet-stream", "application/octet-stream", "blob", "", false},
		{"audio", "audio/ogg", "voice.ogg", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mxc := e.upload(t, e.alice, []byte("content"), tc.contentType, tc.fileName)
			suffix := ""
			if tc.pathName != "" {
				suffix = "/" + url.PathEscape(tc.pathName)
			}
			for _, u := range []bool{false, true} {
				res := e.Do(t, http.MethodGet, downloadPath(mxc, u, suffix), e.bob.Token, nil)
				res.Want(t, http.StatusOK)
				checkDisposition(t, res.Header.Get("Content-Disposition"), tc.inline, firstNonEmpty(tc.pathName, tc.fileName))
				checkSecurityHeaders(t, res.Header, u)
			}
		})
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkDisposition parses Content-Disposition as clients do (Go's mime
// package reads filename*= as RFC 2231/8187 says).
func checkDisposition(t *testing.T, header string, inline bool, name string) {
	t.Helper()
	disp, params, err := mime.ParseMediaType(header)
	if err != nil {
		t.Fatalf("Content-Disposition %q: %v", header, err)
	}
	want := "attachment"
	if inline {
		want = "inline"
	}
	if disp != want || params["filename"] != name {
		t.Fatalf("Content-Disposition %q: %s, file name %q; want %s, %q", header, disp, params["filename"], want, name)
	}
	if name != "" && !isASCII(name) && !strings.Contains(header, "filename*=utf-8''") {
		t.Fatalf("Content-Disposition %q: a non-ASCII name not encoded as RFC 8187 says", header)
	}
}

func isASCII(s string) bool {
	for _, c := range []byte(s) {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func checkSecurityHeaders(t *testing.T, h http.Header, public bool) {
	t.Helper()
	csp := "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
		"style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"
	cache := "private, max-age=86400, immutable"
	if public {
		cache = "public, max-age=86400, immutable"
	}
	for name, want := range map[string]string{
		"Content-Security-Policy":      csp,
		"Cross-Origin-Resource-Policy": "cross-origin",
		"X-Content-Type-Options":       "nosniff",
		"Cache-Control":                cache,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !strings.HasPrefix(h.Get("ETag"), `"`) || len(h.Get("ETag")) != 66 || h.Get("Last-Modified") == "" {
		t.Errorf("ETag %q, Last-Modified %q", h.Get("ETag"), h.Get("Last-Modified"))
	}
}

// TestDownloadConditionalAndHead: If-None-Match with the ETag is 304; HEAD
// answers the headers without the body.
func TestDownloadConditionalAndHead(t *testing.T) {
	e := newEnv(t)
	mxc := e.upload(t, e.alice, []byte("cached"), "text/plain", "")
	first := e.download(t, e.bob, mxc, "")
	req := e.request(http.MethodGet, downloadPath(mxc, false, ""), e.bob.Token, "", nil)
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	res := e.DoRequest(t, req)
	res.Want(t, http.StatusNotModified)
	head := e.DoRequest(t, e.request(http.MethodHead, downloadPath(mxc, false, ""), e.bob.Token, "", nil))
	head.Want(t, http.StatusOK)
	if len(head.Body) != 0 || head.Header.Get("Content-Length") != "6" || head.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("HEAD: %d bytes, %v", len(head.Body), head.Header)
	}
}

func TestDownloadParameters(t *testing.T) {
	e := newEnv(t)
	mxc := e.upload(t, e.alice, []byte("x"), "text/plain", "")
	remote := api.MXC{ServerName: "other.example", MediaID: "abc"}
	for _, tc := range []struct {
		name    string
		path    string
		status  int
		errcode string
	}{
		{"timeout_ms not a number", downloadPath(mxc, false, "?timeout_ms=soon"), 400, "M_INVALID_PARAM"},
		{"timeout_ms negative", downloadPath(mxc, false, "?timeout_ms=-1"), 400, "M_INVALID_PARAM"},
		{"timeout_ms huge", downloadPath(mxc, false, "?timeout_ms=99999999999999"), 200, ""},
		{"allow_remote not a boolean", downloadPath(mxc, true, "?allow_remote=maybe"), 400, "M_INVALID_PARAM"},
		{"allow_redirect not a boolean", downloadPath(mxc, true, "?allow_redirect=1"), 400, "M_INVALID_PARAM"},
		{"allow_redirect", downloadPath(mxc, true, "?allow_redirect=true&allow_remote=false"), 200, ""},
		{"remote media (no federation yet)", downloadPath(remote, false, ""), 404, "M_NOT_FOUND"},
		{"remote media, allow_remote=false", downloadPath(remote, true, "?allow_remote=false"), 404, "M_NOT_FOUND"},
		{"path file name with a control character", downloadPath(mxc, false, "/a%0Ab"), 400, "M_INVALID_PARAM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Do(t, http.MethodGet, tc.path, e.bob.Token, nil).Want(t, tc.status, tc.errcode)
		})
	}
}

// TestLegacyDownloads: the unauthenticated paths serve while enabled, not
// at all when turned off, and only media stored before the freeze.
func TestLegacyDownloads(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		on := newEnvOn(t, db)
		mxc := on.upload(t, on.alice, []byte("old"), "text/plain", "")
		on.download(t, nil, mxc, "").Want(t, http.StatusOK)

		off := newEnv(t, func(m *config.MediaAPI) { m.LegacyMedia.Enabled = false })
		mxc = off.upload(t, off.alice, []byte("x"), "text/plain", "")
		off.download(t, nil, mxc, "").Want(t, http.StatusNotFound, "M_NOT_FOUND")
		off.download(t, off.bob, mxc, "").Want(t, http.StatusOK)
	})

	freeze := time.Now().Add(time.Hour)
	before := newEnv(t, func(m *config.MediaAPI) { m.LegacyMedia.FrozenAfter = freeze.Format(time.RFC3339) })
	mxc := before.upload(t, before.alice, []byte("before the freeze"), "text/plain", "")
	before.download(t, nil, mxc, "").Want(t, http.StatusOK)

	frozen := newEnv(t, func(m *config.MediaAPI) {
		m.LegacyMedia.FrozenAfter = time.Now().Add(-time.Hour).Format(time.RFC3339)
	})
	mxc = frozen.upload(t, frozen.alice, []byte("after the freeze"), "text/plain", "")
	frozen.download(t, nil, mxc, "").Want(t, http.StatusNotFound, "M_NOT_FOUND")
	frozen.download(t, nil, mxc, "/name.txt").Want(t, http.StatusNotFound, "M_NOT_FOUND")
	frozen.download(t, frozen.bob, mxc, "").Want(t, http.StatusOK)
	// An ID still waiting for its upload would be stored after the freeze:
	// not found at once rather than after a wait.
	uri, _ := frozen.create(t, frozen.alice.Token)
	start := time.Now()
	frozen.Do(t, http.MethodGet, "/_matrix/media/v3/download/"+strings.TrimPrefix(uri, "mxc://"), "", nil).
		Want(t, http.StatusNotFound, "M_NOT_FOUND")
	if time.Since(start) > 5*time.Second {
		t.Fatal("a frozen download waited for the upload")
	}
}
