package routing_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// randomBytes is n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestUploadDownloadRoundTrip: files of several types and sizes come back
// byte for byte with their type and name, on both databases; the largest
// is over the listener's 1 MiB body limit, which uploads raise.
func TestUploadDownloadRoundTrip(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		for _, tc := range []struct {
			name        string
			content     []byte
			contentType string
			fileName    string
			wantType    string
		}{
			{"empty file", []byte{}, "text/plain", "empty.txt", "text/plain"},
			{"one byte", []byte("x"), "text/plain; charset=utf-8", "", "text/plain; charset=utf-8"},
			{"binary with NULs", []byte("\x00\x89PNG\r\n\x1a\n\x00\x00\x00"), "image/png", "pic.png", "image/png"},
			{"3 MiB", randomBytes(3<<20, 1), "video/mp4", "clip.mp4", "video/mp4"},
			{"no content type", []byte("bytes"), "", "", "application/octet-stream"},
			{"unparseable content type", []byte("bytes"), "not a type", "", "application/octet-stream"},
			{"type Complement uses", []byte("bytes"), "img/png", "", "img/png"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mxc := e.upload(t, e.alice, tc.content, tc.contentType, tc.fileName)
				res := e.download(t, e.bob, mxc, "")
				res.Want(t, http.StatusOK)
				if !bytes.Equal(res.Body, tc.content) {
					t.Fatalf("downloaded %d bytes, uploaded %d (or different bytes)", len(res.Body), len(tc.content))
				}
				if got := res.Header.Get("Content-Type"); got != tc.wantType {
					t.Fatalf("Content-Type %q, want %q", got, tc.wantType)
				}
				if tc.fileName != "" && !strings.Contains(res.Header.Get("Content-Disposition"), `filename="`+tc.fileName+`"`) {
					t.Fatalf("Content-Disposition %q lacks %s", res.Header.Get("Content-Disposition"), tc.fileName)
				}
			})
		}
	})
}

// TestSameFileStoredOnce: two users upload the same bytes; two mxc:// URIs,
// one file on disk.
func TestSameFileStoredOnce(t *testing.T) {
	e := newEnv(t)
	content := randomBytes(100_000, 2)
	a := e.upload(t, e.alice, content, "application/pdf", "a.pdf")
	b := e.upload(t, e.bob, content, "image/png", "b.png")
	if a == b {
		t.Fatalf("both uploads got %v", a)
	}
	stored, tmp := e.files(t)
	if len(stored) != 1 || len(tmp) != 0 {
		t.Fatalf("stored %v, temporary %v; want one file", stored, tmp)
	}
	// Each keeps its own type and name.
	res := e.download(t, e.alice, b, "")
	if res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(res.Body, content) {
		t.Fatalf("second upload: %v", res.Header)
	}
}

// unsized hides a body's length, as a chunked upload does.
type unsized struct{ io.Reader }

// TestUploadSizeLimit: over max_upload_bytes is 413 M_TOO_LARGE whether the
// Content-Length says so, lies or is absent, and nothing stays on disk.
func TestUploadSizeLimit(t *testing.T) {
	e := newEnv(t, func(m *config.MediaAPI) { m.MaxUploadBytes = 2 << 20 })
	over := randomBytes(2<<20+1, 3)
	for _, tc := range []struct {
		name     string
		body     io.Reader
		declared int64
	}{
		{"declared", bytes.NewReader(over), int64(len(over))},
		{"declared far over", strings.NewReader("small"), 1 << 40},
		{"lying Content-Length", bytes.NewReader(over), 10},
		{"no Content-Length", unsized{bytes.NewReader(over)}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := e.request(http.MethodPost, "/_matrix/media/v3/upload", e.alice.Token, "application/octet-stream", nil)
			req.Body, req.ContentLength = io.NopCloser(tc.body), tc.declared
			e.DoRequest(t, req).Want(t, http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
			if stored, tmp := e.files(t); len(stored)+len(tmp) != 0 {
				t.Fatalf("a refused upload left %v %v", stored, tmp)
			}
		})
	}
	e.upload(t, e.alice, over[:2<<20], "application/octet-stream", "") // exactly the limit
}

// TestUploadQuota: past user_quota_bytes an upload is 403 M_FORBIDDEN (the
// upload endpoint's answer for a reached quota); each user has their own,
// and the same file uploaded again counts again.
func TestUploadQuota(t *testing.T) {
	e := newEnv(t, func(m *config.MediaAPI) { m.UserQuotaBytes = 1000 })
	content := randomBytes(600, 4)
	e.upload(t, e.alice, content, "", "")
	res := e.DoRequest(t, e.request(http.MethodPost, "/_matrix/media/v3/upload", e.alice.Token, "", content))
	res.Want(t, http.StatusForbidden, "M_FORBIDDEN")
	req := e.request(http.MethodPost, "/_matrix/media/v3/upload", e.alice.Token, "", nil)
	req.Body, req.ContentLength = io.NopCloser(unsized{bytes.NewReader(randomBytes(401, 5))}), -1
	e.DoRequest(t, req).Want(t, http.StatusForbidden, "M_FORBIDDEN")
	e.upload(t, e.alice, randomBytes(400, 6), "", "")
	e.upload(t, e.bob, content, "", "")
	if _, tmp := e.files(t); len(tmp) != 0 {
		t.Fatalf("refused uploads left %v", tmp)
	}
}

func TestUploadRequests(t *testing.T) {
	e := newEnv(t)
	const upload = "/_matrix/media/v3/upload"
	for _, tc := range []struct {
		name, method, path, token string
		status                    int
		errcode                   string
	}{
		{"no token", http.MethodPost, upload, "", 401, "M_MISSING_TOKEN"},
		{"bad token", http.MethodPost, upload, "nope", 401, "M_UNKNOWN_TOKEN"},
		{"file name with a control character", http.MethodPost, upload + "?filename=a%0Ab", e.alice.Token, 400, "M_INVALID_PARAM"},
		{"file name not UTF-8", http.MethodPost, upload + "?filename=%FF", e.alice.Token, 400, "M_INVALID_PARAM"},
		{"wrong method", http.MethodPatch, upload, e.alice.Token, 405, "M_UNRECOGNIZED"},
		{"unknown media path", http.MethodGet, "/_matrix/media/v3/unknown", e.alice.Token, 404, "M_UNRECOGNIZED"},
		{"unknown media version", http.MethodGet, "/_matrix/media/unknown", "", 404, "M_UNRECOGNIZED"},
		{"create without a token", http.MethodPost, "/_matrix/media/v1/create", "", 401, "M_MISSING_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.DoRequest(t, e.request(tc.method, tc.path, tc.token, "text/plain", []byte("x"))).Want(t, tc.status, tc.errcode)
		})
	}
}

// create makes a media ID as u and returns its path parts.
func (e *env) create(t testing.TB, u string) (mxc string, expires int64) {
	t.Helper()
	res := e.Do(t, http.MethodPost, "/_matrix/media/v1/create", u, map[string]any{})
	res.Want(t, http.StatusOK)
	var body struct {
		ContentURI string `json:"content_uri"`
		Expires    int64  `json:"unused_expires_at"`
	}
	res.Decode(t, &body)
	return body.ContentURI, body.Expires
}

// TestAsyncUpload: create, then upload, then download; only the creator,
// only once, only while the ID is fresh.
func TestAsyncUpload(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		uri, expires := e.create(t, e.alice.Token)
		if !strings.HasPrefix(uri, e.serverPrefix) {
			t.Fatalf("content_uri %q", uri)
		}
		if d := time.Until(time.UnixMilli(expires)); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("unused_expires_at is %v away, want the default 24h", d)
		}
		put := "/_matrix/media/v3/upload/" + strings.TrimPrefix(uri, "mxc://")
		dl := "/_matrix/client/v1/media/download/" + strings.TrimPrefix(uri, "mxc://")
		e.Do(t, http.MethodGet, dl+"?timeout_ms=0", e.bob.Token, nil).Want(t, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		e.DoRequest(t, e.request(http.MethodPut, put, e.bob.Token, "text/plain", []byte("x"))).Want(t, http.StatusForbidden, "M_FORBIDDEN")
		res := e.DoRequest(t, e.request(http.MethodPut, put+"?filename=later.txt", e.alice.Token, "text/plain", []byte("later")))
		res.Want(t, http.StatusOK)
		if string(res.Body) != "{}" {
			t.Fatalf("PUT answered %s, want {}", res.Body)
		}
		got := e.Do(t, http.MethodGet, dl, e.bob.Token, nil)
		got.Want(t, http.StatusOK)
		if string(got.Body) != "later" || got.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("download: %q %v", got.Body, got.Header)
		}
		// A second upload, even one with no body, is refused before reading.
		e.DoRequest(t, e.request(http.MethodPut, put, e.alice.Token, "", nil)).Want(t, http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")

		other := "/_matrix/media/v3/upload/other.example/" + strings.TrimPrefix(uri, e.serverPrefix)
		e.DoRequest(t, e.request(http.MethodPut, other, e.alice.Token, "", []byte("x"))).Want(t, http.StatusNotFound, "M_NOT_FOUND")
		never := "/_matrix/media/v3/upload/" + e.ServerName + "/neverCreated"
		e.DoRequest(t, e.request(http.MethodPut, never, e.alice.Token, "", []byte("x"))).Want(t, http.StatusNotFound, "M_NOT_FOUND")
		bad := "/_matrix/media/v3/upload/" + e.ServerName + "/bad.id"
		e.DoRequest(t, e.request(http.MethodPut, bad, e.alice.Token, "", []byte("x"))).Want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	})
}

// TestAsyncUploadWaitingDownload: a download of a created ID waits for its
// upload and answers as soon as it lands.
func TestAsyncUploadWaitingDownload(t *testing.T) {
	e := newEnv(t)
	uri, _ := e.create(t, e.alice.Token)
	id := strings.TrimPrefix(uri, "mxc://")
	srv := httptest.NewServer(e.Handler(t))
	defer srv.Close()
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/_matrix/client/v1/media/download/"+id+"?timeout_ms=20000", nil)
		req.Header.Set("Authorization", "Bearer "+e.bob.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{0, err.Error()}
			return
		}
		defer func() { _ = res.Body.Close() }()
		b, _ := io.ReadAll(res.Body)
		done <- result{res.StatusCode, string(b)}
	}()
	time.Sleep(100 * time.Millisecond)
	e.DoRequest(t, e.request(http.MethodPut, "/_matrix/media/v3/upload/"+id, e.alice.Token, "text/plain", []byte("arrived"))).
		Want(t, http.StatusOK)
	select {
	case r := <-done:
		if r.status != http.StatusOK || r.body != "arrived" {
			t.Fatalf("waiting download got %d %q", r.status, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting download did not end when the upload landed")
	}
}

// TestAsyncUploadLimits: created IDs expire, and a user holds at most
// max_pending_uploads of them (429 M_LIMIT_EXCEEDED).
func TestAsyncUploadLimits(t *testing.T) {
	e := newEnv(t, func(m *config.MediaAPI) {
		m.MaxPendingUploads = 2
		m.UnusedUploadExpiry = config.Duration(200 * time.Millisecond) // below the configurable minute
	})
	first, _ := e.create(t, e.alice.Token)
	e.create(t, e.alice.Token)
	e.Do(t, http.MethodPost, "/_matrix/media/v1/create", e.alice.Token, map[string]any{}).
		Want(t, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	e.create(t, e.bob.Token)
	time.Sleep(300 * time.Millisecond)
	put := "/_matrix/media/v3/upload/" + strings.TrimPrefix(first, "mxc://")
	e.DoRequest(t, e.request(http.MethodPut, put, e.alice.Token, "", []byte("late"))).Want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.Do(t, http.MethodGet, "/_matrix/client/v1/media/download/"+strings.TrimPrefix(first, "mxc://"), e.bob.Token, nil).
		Want(t, http.StatusNotFound, "M_NOT_FOUND")
	e.create(t, e.alice.Token) // the expired ones no longer count
}
