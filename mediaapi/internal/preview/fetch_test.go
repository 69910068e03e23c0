package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

const page = `<html><head><title>Hello</title></head><body></body></html>`

// htmlHandler answers every request with page.
var htmlHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, page)
})

func TestForbiddenAddresses(t *testing.T) {
	v4 := fixture.NewWebServer(t, "127.0.0.1:0", htmlHandler)
	v4port := v4.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name string
		url  string
		srv  *fixture.WebServer // nil: nothing listens there
	}{
		{"IPv4 loopback", v4.URL, v4},
		{"localhost, resolving to loopback", fmt.Sprintf("http://localhost:%d/", v4port), v4},
		{"IPv4-mapped IPv6 loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", v4port), v4},
		{"0.0.0.0, the local host", fmt.Sprintf("http://0.0.0.0:%d/", v4port), v4},
		{"RFC 1918", "http://10.0.0.1/", nil},
		{"cloud metadata, link-local", "http://169.254.169.254/latest/meta-data/", nil},
		{"IPv6 unique local", "https://[fd00::1]/", nil},
		{"CGNAT", "http://100.64.1.1:8080/", nil},
	}
	f := newFetcher(t, Config{Timeout: 2 * time.Second})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := conns(tc.srv)
			_, err := f.Preview(context.Background(), tc.url)
			wantError(t, err, ErrForbiddenAddress, http.StatusForbidden)
			if after := conns(tc.srv); after != before {
				t.Fatalf("the server accepted %d connections", after-before)
			}
		})
	}
	t.Run("IPv6 loopback", func(t *testing.T) {
		v6 := fixture.NewWebServer(t, "[::1]:0", htmlHandler)
		_, err := f.Preview(context.Background(), v6.URL)
		wantError(t, err, ErrForbiddenAddress, http.StatusForbidden)
		if n := v6.Conns(); n != 0 {
			t.Fatalf("the server accepted %d connections", n)
		}
	})
	t.Run("numeric host forms never connect", func(t *testing.T) {
		for _, host := range []string{"2130706433", "0x7f.1", "017700000001"} {
			_, err := f.Preview(context.Background(), fmt.Sprintf("http://%s:%d/", host, v4port))
			if err == nil || v4.Conns() != 0 {
				t.Fatalf("%s: err = %v, %d connections", host, err, v4.Conns())
			}
		}
	})
}

// conns is how many connections s has accepted (0 without a server).
func conns(s *fixture.WebServer) int64 {
	if s == nil {
		return 0
	}
	return s.Conns()
}

func TestWhitelistAllowsLoopback(t *testing.T) {
	v4 := fixture.NewWebServer(t, "127.0.0.1:0", htmlHandler)
	v6 := fixture.NewWebServer(t, "[::1]:0", htmlHandler)
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})
	for _, s := range []*fixture.WebServer{v4, v6} {
		p, err := f.Preview(context.Background(), s.URL+"/page")
		if err != nil {
			t.Fatalf("Preview(%s): %v", s.URL, err)
		}
		if p.OG["og:title"] != "Hello" || p.URL != s.URL+"/page" {
			t.Fatalf("Preview(%s) = %+v", s.URL, p)
		}
	}
}

func TestUnsupportedURLs(t *testing.T) {
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})
	tests := []struct {
		url  string
		want error
	}{
		{"file:///etc/passwd", ErrUnsupportedScheme},
		{"ftp://ftp.example.org/pub/file.txt", ErrUnsupportedScheme},
		{"gopher://127.0.0.1:70/1", ErrUnsupportedScheme},
		{"data:text/html,<title>x</title>", ErrUnsupportedScheme},
		{"javascript:alert(1)", ErrUnsupportedScheme},
		{"mxc://example.org/abc", ErrUnsupportedScheme},
		{"HTTP://", ErrInvalidURL},
		{"http:///etc/passwd", ErrInvalidURL},
		{"http:example.org", ErrInvalidURL},
		{"//example.org/page", ErrInvalidURL},
		{"/relative/path", ErrInvalidURL},
		{"not a url", ErrInvalidURL},
		{"http://[::1", ErrInvalidURL},
		{"http://example.org/" + strings.Repeat("a", maxURLLength), ErrInvalidURL},
	}
	for _, tc := range tests {
		t.Run(tc.url[:min(len(tc.url), 40)], func(t *testing.T) {
			_, err := f.Preview(context.Background(), tc.url)
			wantError(t, err, tc.want, http.StatusBadRequest)
			_, _, err = f.FetchImage(context.Background(), tc.url)
			wantError(t, err, tc.want, http.StatusBadRequest)
			_, err = CanonicalURL(tc.url)
			wantError(t, err, tc.want, http.StatusBadRequest)
		})
	}
}

func TestCanonicalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.org/page", "https://example.org/page"},
		{"https://example.org/page#section", "https://example.org/page"},
		{"https://example.org/page?q=1#", "https://example.org/page?q=1"},
		{"http://EXAMPLE.org:8080/a%20b", "http://EXAMPLE.org:8080/a%20b"},
	}
	for _, tc := range tests {
		got, err := CanonicalURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestRedirects(t *testing.T) {
	forbidden := fixture.NewWebServer(t, "127.0.0.2:0", htmlHandler)
	final := fixture.NewWebServer(t, "127.0.0.1:0", htmlHandler)
	redirector := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-forbidden":
			http.Redirect(w, r, forbidden.URL+"/secret", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusMovedPermanently)
		case "/to-final":
			http.Redirect(w, r, final.URL+"/page", http.StatusSeeOther)
		default: // /loop/N redirects to /loop/N+1
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/loop/"))
			http.Redirect(w, r, fmt.Sprintf("/loop/%d", n+1), http.StatusTemporaryRedirect)
		}
	}))
	// Only 127.0.0.1 is whitelisted: 127.0.0.2 is loopback, refused.
	f := newFetcher(t, Config{IPRangeWhitelist: []string{"127.0.0.1/32"}, MaxRedirects: 3})

	t.Run("to a forbidden address", func(t *testing.T) {
		_, err := f.Preview(context.Background(), redirector.URL+"/to-forbidden")
		wantError(t, err, ErrForbiddenAddress, http.StatusForbidden)
		if n := forbidden.Conns(); n != 0 {
			t.Fatalf("the forbidden server accepted %d connections", n)
		}
	})
	t.Run("to a file: URL", func(t *testing.T) {
		_, err := f.Preview(context.Background(), redirector.URL+"/to-file")
		wantError(t, err, ErrUnsupportedScheme, http.StatusBadRequest)
	})
	t.Run("too many", func(t *testing.T) {
		_, err := f.Preview(context.Background(), redirector.URL+"/loop/0")
		wantError(t, err, ErrUpstream, http.StatusBadGateway)
	})
	t.Run("followed", func(t *testing.T) {
		p, err := f.Preview(context.Background(), redirector.URL+"/to-final")
		if err != nil {
			t.Fatal(err)
		}
		if p.URL != final.URL+"/page" || p.OG["og:title"] != "Hello" {
			t.Fatalf("Preview = %+v", p)
		}
	})
}

func TestUpstreamStatus(t *testing.T) {
	s := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(status)
	}))
	f := newFetcher(t, Config{IPRangeWhitelist: loopback})
	tests := []struct {
		status int
		want   error
		answer int
	}{
		{http.StatusNotFound, ErrNotFound, http.StatusNotFound},
		{http.StatusGone, ErrNotFound, http.StatusNotFound},
		{http.StatusForbidden, ErrUpstream, http.StatusBadGateway},
		{http.StatusInternalServerError, ErrUpstream, http.StatusBadGateway},
		{http.StatusNotModified, ErrUpstream, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			_, err := f.Preview(context.Background(), fmt.Sprintf("%s/%d", s.URL, tc.status))
			wantError(t, err, tc.want, tc.answer)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		closed := fixture.NewWebServer(t, "127.0.0.1:0", htmlHandler)
		closed.Close()
		_, err := f.Preview(context.Background(), closed.URL)
		wantError(t, err, ErrUpstream, http.StatusBadGateway)
	})
}

func TestSizeLimit(t *testing.T) {
	const limit = 4096
	img := fixture.PNG(t, 10, 10)
	big := append(bytes.Clone(img), make([]byte, limit)...) // a valid PNG followed by padding
	s := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big.png": // with a Content-Length
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = w.Write(big)
		case "/chunked.png": // without one: only reading finds out
			w.Header().Set("Content-Type", "image/png")
			for i := 0; i < len(big); i += 1000 {
				_, _ = w.Write(big[i:min(i+1000, len(big))])
				w.(http.Flusher).Flush()
			}
		case "/exact.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(append(bytes.Clone(img), make([]byte, limit-len(img))...))
		case "/long.html": // the head, then more than the limit of body
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<html><head><meta property="og:title" content="Long page"></head><body>`)
			_, _ = io.WriteString(w, strings.Repeat("<p>filler</p>", limit))
		case "/late-title.html": // the title only after the limit
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><head><!-- "+strings.Repeat("x", limit)+" --><title>Too late</title></head>")
		}
	}))
	f := newFetcher(t, Config{IPRangeWhitelist: loopback, MaxBytes: limit})

	t.Run("image with a Content-Length over the limit", func(t *testing.T) {
		_, _, err := f.FetchImage(context.Background(), s.URL+"/big.png")
		wantError(t, err, ErrTooLarge, http.StatusBadGateway)
	})
	t.Run("streamed image over the limit", func(t *testing.T) {
		body, _, err := f.FetchImage(context.Background(), s.URL+"/chunked.png")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = body.Close() }()
		got, err := io.ReadAll(body)
		wantError(t, err, ErrTooLarge, http.StatusBadGateway)
		if len(got) != limit {
			t.Fatalf("read %d bytes before the error, want %d", len(got), limit)
		}
	})
	t.Run("image of exactly the limit", func(t *testing.T) {
		body, _, err := f.FetchImage(context.Background(), s.URL+"/exact.png")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = body.Close() }()
		if got, err := io.ReadAll(body); err != nil || len(got) != limit {
			t.Fatalf("ReadAll = %d bytes, %v", len(got), err)
		}
	})
	t.Run("HTML is read up to the limit", func(t *testing.T) {
		p, err := f.Preview(context.Background(), s.URL+"/long.html")
		if err != nil || p.OG["og:title"] != "Long page" {
			t.Fatalf("Preview = %+v, %v", p, err)
		}
		p, err = f.Preview(context.Background(), s.URL+"/late-title.html")
		if err != nil || len(p.OG) != 0 {
			t.Fatalf("Preview = %+v, %v; want an empty preview", p, err)
		}
	})
	t.Run("an image URL is previewed without reading it", func(t *testing.T) {
		p, err := f.Preview(context.Background(), s.URL+"/big.png")
		if err != nil || p.ImageURL != s.URL+"/big.png" {
			t.Fatalf("Preview = %+v, %v", p, err)
		}
	})
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	partial := fixture.PNG(t, 4, 4)[:20]
	s := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/mid-body.html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><head><title>Sta")
			w.(http.Flusher).Flush()
		case "/mid-body.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(partial)
			w.(http.Flusher).Flush()
		}
		select { // stall until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	const timeout = 300 * time.Millisecond
	f := newFetcher(t, Config{IPRangeWhitelist: loopback, Timeout: timeout})

	for _, path := range []string{"/before-headers", "/mid-body.html"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			_, err := f.Preview(context.Background(), s.URL+path)
			wantError(t, err, ErrTimeout, http.StatusGatewayTimeout)
			if d := time.Since(start); d > timeout+time.Second {
				t.Fatalf("gave up after %v", d)
			}
		})
	}
	t.Run("image body", func(t *testing.T) {
		body, _, err := f.FetchImage(context.Background(), s.URL+"/mid-body.png")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = body.Close() }()
		_, err = io.ReadAll(body)
		wantError(t, err, ErrTimeout, http.StatusGatewayTimeout)
	})
	t.Run("the caller's cancellation is not a timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := f.Preview(ctx, s.URL+"/before-headers")
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
			t.Fatalf("error = %v, want the caller's context.DeadlineExceeded", err)
		}
	})
}
