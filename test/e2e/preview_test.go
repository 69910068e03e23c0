package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestPreviewURL: mautrix asks a real server for the preview of a page on
// loopback. With loopback whitelisted the answer has the page's OpenGraph
// data and its image stored as media; without, the address is refused and
// nothing connects to the page's server.
func TestPreviewURL(t *testing.T) {
	cover := previewImage(t)
	var conns atomic.Int64
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cover.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(cover)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html><head><title>Release notes</title>
<meta property="og:site_name" content="Myelin"><meta property="og:image" content="/cover.png"></head></html>`)
	}))
	site.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	site.Start()
	t.Cleanup(site.Close)

	t.Run("whitelisted", func(t *testing.T) {
		cfg := testConfig(t, "")
		cfg.MediaAPI.URLPreview.IPRangeWhitelist = []string{"127.0.0.0/8"}
		alice := register(t, startServer(t, cfg), "alice", "password-alice")
		p, err := alice.GetURLPreview(ctx(t), site.URL+"/notes.html")
		if err != nil {
			t.Fatal(err)
		}
		if p.Title != "Release notes" || p.SiteName != "Myelin" || p.ImageType != "image/png" ||
			int(p.ImageSize) != len(cover) || p.ImageWidth != 64 || p.ImageHeight != 48 {
			t.Fatalf("preview %+v", p)
		}
		mxc, err := p.ImageURL.Parse()
		if err != nil {
			t.Fatalf("og:image %q: %v", p.ImageURL, err)
		}
		if got, _ := download(t, alice, mxc); !bytes.Equal(got, cover) {
			t.Fatalf("the preview image came back as %d other bytes", len(got))
		}
	})

	t.Run("not whitelisted", func(t *testing.T) {
		before := conns.Load()
		bob := register(t, startServer(t, testConfig(t, "")), "bob", "password-bob")
		_, err := bob.GetURLPreview(ctx(t), site.URL+"/notes.html")
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		if n := conns.Load() - before; n != 0 {
			t.Fatalf("the page's server accepted %d connections", n)
		}
	})
}

// previewImage is a 64 × 48 PNG.
func previewImage(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		img.Set(x, x%48, color.NRGBA{B: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
