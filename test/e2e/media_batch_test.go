package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestBatchTransfer: the im.myelin.media_batch extension on a real server,
// with raw HTTP (no client library speaks it): five files up in one
// request and down in one, byte for byte and in order, on both databases;
// a batch with one part too large keeps none of its files.
func TestBatchTransfer(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		cfg.MediaAPI.MaxUploadBytes = 4 << 20
		srv := startServer(t, cfg)
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")
		base := srv.ClientURL() + "/_matrix/client/unstable/im.myelin/media"

		versions, err := alice.Versions(ctx(t))
		if err != nil || !versions.UnstableFeatures["im.myelin.media_batch"] {
			t.Fatalf("im.myelin.media_batch not advertised: %+v %v", versions, err)
		}

		big := make([]byte, 3<<20)
		_, _ = rand.Read(big)
		files := []fixture.FilePart{
			{Name: "hello.txt", ContentType: "text/plain", Body: bytes.NewReader([]byte("hello"))},
			{Name: "日本語の名前.png", ContentType: "image/png", Body: bytes.NewReader([]byte("\x89PNG\r\n\x1a\n"))},
			{Name: "empty", ContentType: "application/octet-stream", Body: bytes.NewReader(nil)},
			{Name: "big.webm", ContentType: "video/webm", Body: bytes.NewReader(big)},
			{Name: "voice.ogg", ContentType: "audio/ogg", Body: bytes.NewReader([]byte("OggS voice"))},
		}
		want := [][]byte{[]byte("hello"), []byte("\x89PNG\r\n\x1a\n"), {}, big, []byte("OggS voice")}

		res := postBatch(t, base+"/upload_batch", string(alice.AccessToken), files...)
		var up struct {
			ContentURIs []string `json:"content_uris"`
		}
		err = json.NewDecoder(res.Body).Decode(&up)
		drain(res)
		if res.StatusCode != http.StatusOK || err != nil || len(up.ContentURIs) != len(files) {
			t.Fatalf("upload_batch: %d %v %v", res.StatusCode, err, up)
		}

		body, _ := json.Marshal(map[string]any{"uris": up.ContentURIs})
		req, _ := http.NewRequest(http.MethodPost, base+"/download_batch", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+string(bob.AccessToken))
		res, err = http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("download_batch: %v %v", res, err)
		}
		parts := fixture.ReadMixed(t, res.Header.Get("Content-Type"), res.Body)
		drain(res)
		if len(parts) != len(files) {
			t.Fatalf("%d parts for %d URIs", len(parts), len(files))
		}
		for i, p := range parts {
			_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if !bytes.Equal(p.Body, want[i]) || p.Header.Get("Content-Type") != files[i].ContentType ||
				params["filename"] != files[i].Name || p.Header.Get("Content-Location") != up.ContentURIs[i] {
				t.Fatalf("part %d: %d bytes, headers %v", i, len(p.Body), p.Header)
			}
		}

		// One part over max_upload_bytes: nothing of the batch is kept.
		res = postBatch(t, base+"/upload_batch", string(alice.AccessToken),
			fixture.FilePart{Name: "first.txt", Body: bytes.NewReader([]byte("first of a failed batch"))},
			fixture.FilePart{Name: "huge.bin", Body: fixture.Generated(4<<20+1, 9)},
		)
		raw, _ := io.ReadAll(res.Body)
		drain(res)
		var refused map[string]any
		_ = json.Unmarshal(raw, &refused)
		if res.StatusCode != http.StatusRequestEntityTooLarge || refused["errcode"] != "M_TOO_LARGE" ||
			refused["im.myelin.part_index"] != float64(1) {
			t.Fatalf("a batch with a part too large: %d %s", res.StatusCode, raw)
		}
		if stored := fixture.Files(t, cfg.MediaBasePath()); len(stored) != len(files) { // the first batch's, none in tmp/
			t.Fatalf("the store holds %v", stored)
		}
	})
}

// postBatch sends files to upload_batch as token.
func postBatch(t *testing.T, url, token string, files ...fixture.FilePart) *http.Response {
	t.Helper()
	body, contentType := fixture.FormData(files...)
	defer func() { _ = body.Close() }()
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload_batch: %v", err)
	}
	return res
}
