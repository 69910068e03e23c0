package e2e

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestPreviewURL: mautrix asks a real server for the preview of a page on
// loopback. With loopback whitelisted the answer has the page's OpenGraph
// data and its image stored as media; without, the address is refused and
// nothing connects to the page's server.
func TestPreviewURL(t *testing.T) {
	cover := fixture.PNG(t, 64, 48)
	site := fixture.NewWebServer(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cover.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(cover)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html><head><title>Release notes</title>
<meta property="og:site_name" content="Myelin"><meta property="og:image" content="/cover.png"></head></html>`)
	}))

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
		before := site.Conns()
		bob := register(t, startServer(t, testConfig(t, "")), "bob", "password-bob")
		_, err := bob.GetURLPreview(ctx(t), site.URL+"/notes.html")
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		if n := site.Conns() - before; n != 0 {
			t.Fatalf("the page's server accepted %d connections", n)
		}
	})
}
