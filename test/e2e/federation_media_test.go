package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/server"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestFederationMedia: alice on one downloads a file bob uploaded on two,
// through /_matrix/client/v1/media/download/two.test/…, which one fetches
// from two's federation media endpoint: the bytes, the type and the file
// name arrive as uploaded. One keeps the copy: a second download does not
// ask two again, and with two stopped the file is still served.
func TestFederationMedia(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f, alice, bob := startPair(t, d)
			one, two := f.servers["one.test"], f.servers["two.test"]
			file := make([]byte, 3<<20)
			_, _ = rand.Read(file)
			up, err := bob.UploadBytesWithName(ctx(t), file, "application/pdf", "r\u00e9sum\u00e9 \U0001F414.pdf")
			if err != nil {
				t.Fatal(err)
			}
			if up.ContentURI.Homeserver != "two.test" {
				t.Fatalf("uploaded to %s", up.ContentURI)
			}
			const route = "/_matrix/federation/v1/media/download/{mediaId}"
			for i := range 2 {
				wantFile(t, alice, up.ContentURI, file, "application/pdf", "r\u00e9sum\u00e9 \U0001F414.pdf")
				if n := counted(t, two, "myelin_http_requests_total", map[string]string{"listener": "federation", "route": route}); n != 1 {
					t.Fatalf("after download %d two served %v federation downloads, want 1", i+1, n)
				}
			}
			if n := counted(t, one, "myelin_media_remote_fetches_total", map[string]string{"result": "stored"}); n != 1 {
				t.Fatalf("one counts %v fetches stored, want 1", n)
			}
			f.stop(t, "two.test")
			wantFile(t, alice, up.ContentURI, file, "application/pdf", "r\u00e9sum\u00e9 \U0001F414.pdf")
		})
	}
}

// wantFile downloads mxc as c and checks its bytes, type and file name.
func wantFile(t *testing.T, c *mautrix.Client, mxc id.ContentURI, want []byte, contentType, name string) {
	t.Helper()
	got, res := download(t, c, mxc)
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
	if !bytes.Equal(got, want) || res.Header.Get("Content-Type") != contentType || params["filename"] != name {
		t.Fatalf("%s: %d bytes (equal: %v), %q, %q; want %d bytes, %s, %q", mxc, len(got), bytes.Equal(got, want),
			res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"), len(want), contentType, name)
	}
}

// counted is the sum of srv's metric name over the series carrying labels.
func counted(t *testing.T, srv *server.Server, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// TestFederationMediaStandIn: media of servers that do not answer the
// federation media endpoint with the content itself. old.test predates
// them (404 M_UNRECOGNIZED): one asks its deprecated download with
// allow_remote=false, as the spec says. For another media ID old.test
// answers with a Location part pointing to a content delivery network on
// loopback (which redirects once more): one follows it only when
// federation may reach private networks, as for any server.
//
// old.test is a stand-in, not a Myelin: every Myelin serves the federation
// media endpoints and never redirects. Older Synapse and Dendrite answer
// 404 M_UNRECOGNIZED there and serve the deprecated endpoint, and servers
// behind a CDN answer with a Location, but neither can run in the test
// suite. The stand-in speaks their wire format: HTTPS with a certificate
// of its name, the federation request's X-Matrix signature checked with
// one's published key, the spec's error body, multipart/mixed answer and
// deprecated download.
func TestFederationMediaStandIn(t *testing.T) {
	ca := newTestCA(t)
	old := startStandIn(t, ca, "old.test")
	cdn := startCDN(t, ca)
	old.serveMedia(cdn.url)
	f := startFederationBeside(t, ca, map[string]string{"old.test": old.addr},
		func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test")
	old.origin.Store(f)
	alice := register(t, f.servers["one.test"], "alice", "long enough")

	legacy := id.ContentURI{Homeserver: "old.test", FileID: "legacy"}
	wantFile(t, alice, legacy, []byte("a voice message"), "audio/ogg", "voice message.ogg")
	if got := old.mediaRequests(); len(got) != 2 || got[0] != "federation legacy signed" || got[1] != "legacy legacy allow_remote=false" {
		t.Fatalf("old.test was asked %q, want the federation endpoint (signed), then the deprecated one", got)
	}

	redirected := id.ContentURI{Homeserver: "old.test", FileID: "redirected"}
	_, err := alice.Download(ctx(t), redirected)
	wantMatrixError(t, err, http.StatusBadGateway, "M_UNKNOWN")
	if cdn.hits() != 0 {
		t.Fatal("the CDN on loopback was reached with private networks refused")
	}

	f.configs["one.test"].FederationAPI.AllowPrivateNetworks = true
	f.restart(t, "one.test")
	alice = login(t, f.servers["one.test"], "alice", "long enough")
	wantFile(t, alice, redirected, []byte("a photo"), "image/jpeg", "photo.jpg")
	if cdn.hits() != 2 {
		t.Fatalf("the CDN was asked %d times, want 2 (its redirect, then the file)", cdn.hits())
	}
	wantFile(t, alice, legacy, []byte("a voice message"), "audio/ogg", "voice message.ogg") // kept across the restart
}

// serveMedia adds to the stand-in the media endpoints of a server older
// than v1.11 and of one behind a CDN at cdnURL: the federation download
// answers 404 M_UNRECOGNIZED for "legacy", whose content the deprecated
// download serves, and a Location part into the CDN for "redirected".
func (s *standIn) serveMedia(cdnURL string) {
	s.mux.HandleFunc("GET /_matrix/federation/v1/media/download/{mediaId}", func(w http.ResponseWriter, r *http.Request) {
		if s.signed(w, r) == nil {
			return
		}
		s.recordMedia("federation " + r.PathValue("mediaId") + " signed")
		switch r.PathValue("mediaId") {
		case "legacy":
			writeJSON(w, http.StatusNotFound, map[string]string{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
		case "redirected":
			writeLocation(w, cdnURL+"/hop")
		default:
			writeJSON(w, http.StatusNotFound, map[string]string{"errcode": "M_NOT_FOUND", "error": "Not found"})
		}
	})
	s.mux.HandleFunc("GET /_matrix/media/v3/download/{serverName}/{mediaId}", func(w http.ResponseWriter, r *http.Request) {
		s.recordMedia("legacy " + r.PathValue("mediaId") + " allow_remote=" + r.URL.Query().Get("allow_remote"))
		if r.PathValue("serverName") != s.name || r.PathValue("mediaId") != "legacy" {
			writeJSON(w, http.StatusNotFound, map[string]string{"errcode": "M_NOT_FOUND", "error": "Not found"})
			return
		}
		w.Header().Set("Content-Type", "audio/ogg")
		w.Header().Set("Content-Disposition", `attachment; filename="voice message.ogg"`)
		_, _ = io.WriteString(w, "a voice message")
	})
}

// writeLocation answers a federation media request with the spec's
// multipart/mixed of the JSON metadata and a part holding only a Location.
func writeLocation(w http.ResponseWriter, location string) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	meta, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	_, _ = io.WriteString(meta, "{}")
	_, _ = mw.CreatePart(textproto.MIMEHeader{"Location": {location}})
	_ = mw.Close()
}

// recordMedia notes a media request the stand-in was asked.
func (s *standIn) recordMedia(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media = append(s.media, what)
}

// mediaRequests is the media requests the stand-in was asked, in order.
func (s *standIn) mediaRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.media)
}

// cdn is a content delivery network on loopback, reached as localhost
// with a certificate from the test CA: /hop redirects to /file, which
// serves a photo.
type cdn struct {
	url string
	mu  sync.Mutex
	n   int
}

func startCDN(t *testing.T, ca *testCA) *cdn {
	t.Helper()
	certPath, keyPath := ca.issue(t, "localhost")
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &cdn{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hop", func(w http.ResponseWriter, r *http.Request) {
		c.hit()
		http.Redirect(w, r, "/file", http.StatusFound)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		c.hit()
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Disposition", `inline; filename="photo.jpg"`)
		_, _ = io.WriteString(w, "a photo")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c.url = "https://localhost:" + port
	return c
}

func (c *cdn) hit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
}

func (c *cdn) hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestFederationThumbnailAcross: alice on one asks for thumbnails of a
// photograph bob uploaded to two. one asks two's federation thumbnail
// endpoint once per size and keeps what it gets: the sizes and types are
// those asked for, and asking again (even with two stopped) is answered
// from one's copy.
func TestFederationThumbnailAcross(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	two := f.servers["two.test"]
	up, err := bob.UploadBytesWithName(ctx(t), fixture.EncodePNG(t, fixture.Photo(640, 480)), "image/png", "photo.png")
	if err != nil {
		t.Fatal(err)
	}
	const route = "/_matrix/federation/v1/media/thumbnail/{mediaId}"
	crop := mautrix.DownloadThumbnailExtra{Method: "crop"}
	for i := range 2 {
		if got := thumbnail(t, alice, up.ContentURI, 96, 96, crop); got.w != 96 || got.h != 96 || got.format != "png" {
			t.Fatalf("round %d: crop 96x96 across servers is %+v", i, got)
		}
		if n := counted(t, two, "myelin_http_requests_total", map[string]string{"listener": "federation", "route": route}); n != 1 {
			t.Fatalf("round %d: two served %v federation thumbnails, want 1", i, n)
		}
	}
	if got := thumbnail(t, alice, up.ContentURI, 320, 240, mautrix.DownloadThumbnailExtra{}); got.w > 320 || got.h > 240 ||
		(got.w != 320 && got.h != 240) {
		t.Fatalf("scale 320x240 across servers is %+v", got)
	}
	f.stop(t, "two.test")
	if got := thumbnail(t, alice, up.ContentURI, 96, 96, crop); got.w != 96 || got.h != 96 {
		t.Fatalf("crop 96x96 with two stopped is %+v", got)
	}
}
