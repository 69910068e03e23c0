package e2e

import (
	"bytes"
	"crypto/rand"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// download fetches mxc with c (authenticated, as mautrix does) and returns
// the body and response.
func download(t *testing.T, c *mautrix.Client, mxc id.ContentURI) ([]byte, *http.Response) {
	t.Helper()
	res, err := c.Download(ctx(t), mxc)
	if err != nil {
		t.Fatalf("download %s: %v", mxc, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, res
}

// TestMedia: mautrix uploads (whole, streamed, to a created ID, in the
// background) and downloads on a real server, on both databases.
func TestMedia(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")

		cfg, err := alice.GetMediaConfig(ctx(t))
		if err != nil || cfg.UploadSize != 100<<20 {
			t.Fatalf("media config: %+v %v", cfg, err)
		}

		picture := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
		up, err := alice.UploadBytesWithName(ctx(t), picture, "image/png", "\U0001F414.png")
		if err != nil {
			t.Fatal(err)
		}
		got, res := download(t, bob, up.ContentURI)
		disposition, params, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
		if !bytes.Equal(got, picture) || res.Header.Get("Content-Type") != "image/png" ||
			disposition != "inline" || params["filename"] != "\U0001F414.png" {
			t.Fatalf("downloaded %q with %v", got, res.Header)
		}

		// A streamed upload of unknown length, over the 1 MiB request limit.
		big := make([]byte, 5<<20)
		_, _ = rand.Read(big)
		up, err = alice.UploadMedia(ctx(t), mautrix.ReqUploadMedia{
			Content:       io.MultiReader(bytes.NewReader(big)),
			ContentLength: -1,
			ContentType:   "video/webm",
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := download(t, bob, up.ContentURI); !bytes.Equal(got, big) {
			t.Fatalf("5 MiB came back as %d different bytes", len(got))
		}

		// Created first, uploaded later.
		created, err := alice.CreateMXC(ctx(t))
		if err != nil || created.UnusedExpiresAt.IsZero() {
			t.Fatalf("create: %+v %v", created, err)
		}
		if _, err := bob.UploadMedia(ctx(t), mautrix.ReqUploadMedia{ContentBytes: []byte("x"), MXC: created.ContentURI}); err == nil {
			t.Fatal("bob uploaded to alice's media ID")
		} else {
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		}
		if _, err := alice.UploadMedia(ctx(t), mautrix.ReqUploadMedia{
			ContentBytes: []byte("voice"), ContentType: "audio/ogg", MXC: created.ContentURI,
		}); err != nil {
			t.Fatal(err)
		}
		_, err = alice.UploadMedia(ctx(t), mautrix.ReqUploadMedia{ContentBytes: []byte("again"), MXC: created.ContentURI})
		wantMatrixError(t, err, http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")
		if got, _ := download(t, bob, created.ContentURI); string(got) != "voice" {
			t.Fatalf("async upload came back as %q", got)
		}

		// In the background: the download waits for the upload.
		done := make(chan struct{})
		later := []byte("uploaded while the download waits")
		async, err := alice.UploadAsync(ctx(t), mautrix.ReqUploadMedia{
			Content:       &slowReader{data: later, delay: 300 * time.Millisecond},
			ContentLength: int64(len(later)),
			ContentType:   "text/plain",
			DoneCallback:  func() { close(done) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := download(t, bob, async.ContentURI); !bytes.Equal(got, later) {
			t.Fatalf("background upload came back as %q", got)
		}
		<-done
	})
}

// slowReader waits delay before handing out data.
type slowReader struct {
	data  []byte
	delay time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.delay > 0 {
		time.Sleep(r.delay)
		r.delay = 0
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestMediaLegacyPaths: the unauthenticated v3 and r0 paths older clients
// use, and the authenticated path refusing a request without a token.
func TestMediaLegacyPaths(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "password-alice")
	base := srv.ClientURL()
	req, _ := http.NewRequest(http.MethodPost, base+"/_matrix/media/r0/upload?filename=old.txt", strings.NewReader("from an r0 client"))
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("r0 upload: %d", res.StatusCode)
	}
	up, err := alice.UploadBytes(ctx(t), []byte("legacy"), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	path := up.ContentURI.Homeserver + "/" + up.ContentURI.FileID
	for _, p := range []string{"/_matrix/media/v3/download/", "/_matrix/media/r0/download/"} {
		res, err := http.Get(base + p + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "legacy" {
			t.Fatalf("%s: %d %q", p, res.StatusCode, body)
		}
	}
	raw := do(t, http.MethodGet, base+"/_matrix/client/v1/media/download/"+path, "", nil)
	if raw.Status != http.StatusUnauthorized || raw.errcode() != "M_MISSING_TOKEN" {
		t.Fatalf("authenticated path without a token: %d %v", raw.Status, raw.Body)
	}
	raw = do(t, http.MethodPatch, base+"/_matrix/media/v3/upload", alice.AccessToken, nil)
	if raw.Status != http.StatusMethodNotAllowed || raw.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("PATCH upload: %d %v", raw.Status, raw.Body)
	}
}
