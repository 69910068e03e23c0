package routing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// site is a web server on loopback with a page naming an image: the
// /page.html it serves has OpenGraph tags and og:image "cover.png"
// (relative), /cover.png is a 40 × 20 PNG, /no-image.html names
// /missing.png, which is not there. It counts the requests per path; while gate is open (not nil), page requests
// wait for it to close.
type site struct {
	*fixture.WebServer
	image []byte

	mu       sync.Mutex
	requests map[string]int
	gate     chan struct{}
}

const sitePage = `<html><head><title>Fallback title</title>
<meta property="og:title" content="The Rock">
<meta property="og:type" content="video.movie">
<meta property="og:description" content="A film about a prison island">
<meta property="og:image" content="cover.png">
</head><body>ignored</body></html>`

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{image: fixture.PNG(t, 40, 20), requests: map[string]int{}}
	s.WebServer = fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(s.serve))
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	gate := s.gate
	s.mu.Unlock()
	switch r.URL.Path {
	case "/page.html", "/no-image.html":
		if gate != nil {
			<-gate
		}
		page := sitePage
		if r.URL.Path == "/no-image.html" {
			page = `<html><head><meta property="og:title" content="No image">` +
				`<meta property="og:image" content="/missing.png"></head></html>`
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	case "/cover.png":
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(s.image)
	default:
		http.NotFound(w, r)
	}
}

// count is how many requests path got.
func (s *site) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// hold makes page requests wait until the returned function is called.
func (s *site) hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	gate := s.gate
	return func() { close(gate) }
}

// allowLoopback whitelists the loopback range the test sites listen on.
func allowLoopback(c *config.MediaAPI) {
	c.URLPreview.IPRangeWhitelist = []string{"127.0.0.0/8"}
}

// previewPath is the preview_url path for target (legacy: the v3 one).
func previewPath(target string, legacy bool) string {
	prefix := "/_matrix/client/v1/media/preview_url"
	if legacy {
		prefix = "/_matrix/media/v3/preview_url"
	}
	return prefix + "?url=" + url.QueryEscape(target)
}

// TestPreviewURL: a page on a whitelisted address previews with its
// OpenGraph data and its image stored here, on both paths; the image
// downloads as the bytes the site served and belongs to no user.
func TestPreviewURL(t *testing.T) {
	e := newEnv(t, allowLoopback)
	s := newSite(t)
	for _, legacy := range []bool{false, true} {
		res := e.Do(t, http.MethodGet, previewPath(s.URL+"/page.html", legacy), e.alice.Token, nil)
		res.Want(t, http.StatusOK)
		var og struct {
			Title       string  `json:"og:title"`
			Type        string  `json:"og:type"`
			Description string  `json:"og:description"`
			Image       string  `json:"og:image"`
			ImageType   string  `json:"og:image:type"`
			Width       float64 `json:"og:image:width"`
			Height      float64 `json:"og:image:height"`
			Size        float64 `json:"matrix:image:size"`
		}
		res.Decode(t, &og)
		if og.Title != "The Rock" || og.Type != "video.movie" || og.Description != "A film about a prison island" ||
			og.ImageType != "image/png" || og.Width != 40 || og.Height != 20 || int(og.Size) != len(s.image) {
			t.Fatalf("preview %s", res.Body)
		}
		mxc, err := api.ParseMXC(og.Image)
		if err != nil || mxc.ServerName != e.ServerName {
			t.Fatalf("og:image %q: %v", og.Image, err)
		}
		dl := e.download(t, e.bob, mxc, "")
		dl.Want(t, http.StatusOK)
		if !bytes.Equal(dl.Body, s.image) || dl.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("the preview image downloads as %d bytes of %s", len(dl.Body), dl.Header.Get("Content-Type"))
		}
		md, err := e.media.LocalMetadata(context.Background(), mxc.MediaID)
		if err != nil || md.Uploader != "" {
			t.Fatalf("preview image stored as %+v, %v; want no uploader", md, err)
		}
	}
}

// TestPreviewForbiddenAddress: without the whitelist, loopback is refused
// before anything connects to it.
func TestPreviewForbiddenAddress(t *testing.T) {
	e := newEnv(t)
	s := newSite(t)
	for _, legacy := range []bool{false, true} {
		e.Do(t, http.MethodGet, previewPath(s.URL+"/page.html", legacy), e.alice.Token, nil).
			Want(t, http.StatusForbidden, "M_FORBIDDEN")
	}
	if n := s.Conns(); n != 0 {
		t.Fatalf("the site accepted %d connections", n)
	}
}

// TestPreviewCached: the second preview of a URL (the same one but for its
// fragment, asked by another user) is answered from the cache without a
// fetch, on both databases.
func TestPreviewCached(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db, allowLoopback)
		s := newSite(t)
		first := e.Do(t, http.MethodGet, previewPath(s.URL+"/page.html", false), e.alice.Token, nil)
		first.Want(t, http.StatusOK)
		second := e.Do(t, http.MethodGet, previewPath(s.URL+"/page.html#top", true)+"&ts=1510610716656", e.bob.Token, nil)
		second.Want(t, http.StatusOK)
		if !bytes.Equal(first.Body, second.Body) {
			t.Fatalf("cached answer %s differs from %s", second.Body, first.Body)
		}
		if p, i := s.count("/page.html"), s.count("/cover.png"); p != 1 || i != 1 {
			t.Fatalf("the site served the page %d times and the image %d times, want once each", p, i)
		}
	})
}

// TestPreviewFetchedOnce: users asking for the same URL at once wait for
// one fetch.
func TestPreviewFetchedOnce(t *testing.T) {
	e := newEnv(t, allowLoopback)
	s := newSite(t)
	release := s.hold()
	const askers = 6
	answers := make(chan []byte, askers)
	for i := range askers {
		token := e.alice.Token
		if i%2 == 1 {
			token = e.bob.Token
		}
		go func() {
			res := e.Do(t, http.MethodGet, previewPath(s.URL+"/page.html", false), token, nil)
			if res.Status != http.StatusOK {
				t.Errorf("status %d: %s", res.Status, res.Body)
			}
			answers <- res.Body
		}()
	}
	waitFor(t, func() bool { return s.count("/page.html") > 0 })
	time.Sleep(200 * time.Millisecond) // the others reach the fetch in flight
	release()
	first := <-answers
	for range askers - 1 {
		if got := <-answers; !bytes.Equal(got, first) {
			t.Fatalf("answers differ: %s and %s", got, first)
		}
	}
	if n := s.count("/page.html"); n != 1 {
		t.Fatalf("the page was fetched %d times for %d users at once", n, askers)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPreviewImageFailure: a page whose image cannot be fetched previews
// with its text and no og:image.
func TestPreviewImageFailure(t *testing.T) {
	e := newEnv(t, allowLoopback)
	s := newSite(t)
	res := e.Do(t, http.MethodGet, previewPath(s.URL+"/no-image.html", false), e.alice.Token, nil)
	res.Want(t, http.StatusOK)
	if string(res.Body) != `{"og:title":"No image"}` {
		t.Fatalf("preview %s, want the title alone", res.Body)
	}
	if s.count("/missing.png") != 1 {
		t.Fatal("the image was not asked for")
	}
}

// TestPreviewBadRequests: the requests refused before any fetch, and the
// paths' answers when URL previews are off.
func TestPreviewBadRequests(t *testing.T) {
	e := newEnv(t, allowLoopback)
	off := newEnv(t, allowLoopback, func(c *config.MediaAPI) { c.URLPreview.Enabled = false })
	s := newSite(t)
	page := s.URL + "/page.html"
	for _, tc := range []struct {
		name    string
		env     *env
		path    string
		token   string
		status  int
		errcode string
	}{
		{"missing url", e, "/_matrix/client/v1/media/preview_url", e.alice.Token, 400, "M_MISSING_PARAM"},
		{"empty url", e, "/_matrix/media/v3/preview_url?url=", e.alice.Token, 400, "M_MISSING_PARAM"},
		{"ftp URL", e, previewPath("ftp://127.0.0.1/file.txt", false), e.alice.Token, 400, "M_INVALID_PARAM"},
		{"file URL", e, previewPath("file:///etc/passwd", true), e.alice.Token, 400, "M_INVALID_PARAM"},
		{"relative URL", e, previewPath("/page.html", false), e.alice.Token, 400, "M_INVALID_PARAM"},
		{"ts not a number", e, previewPath(page, false) + "&ts=yesterday", e.alice.Token, 400, "M_INVALID_PARAM"},
		{"no token", e, previewPath(page, false), "", 401, "M_MISSING_TOKEN"},
		{"no token, legacy path", e, previewPath(page, true), "", 401, "M_MISSING_TOKEN"},
		{"bad token", e, previewPath(page, false), "not-a-token", 401, "M_UNKNOWN_TOKEN"},
		{"POST", e, previewPath(page, false), e.alice.Token, 405, "M_UNRECOGNIZED"},
		{"previews off", off, previewPath(page, false), off.alice.Token, 404, "M_UNRECOGNIZED"},
		{"previews off, legacy path", off, previewPath(page, true), off.alice.Token, 404, "M_UNRECOGNIZED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.name == "POST" {
				method = http.MethodPost
			}
			tc.env.Do(t, method, tc.path, tc.token, nil).Want(t, tc.status, tc.errcode)
		})
	}
	if n := s.Conns(); n != 0 {
		t.Fatalf("the site accepted %d connections", n)
	}
}
