package routing_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
)

const (
	uploadBatchPath   = "/_matrix/client/unstable/im.myelin/media/upload_batch"
	downloadBatchPath = "/_matrix/client/unstable/im.myelin/media/download_batch"
)

// batchFile is a file of a batch test: what is sent and what should come
// back.
type batchFile struct {
	name, contentType string
	content           []byte
}

// parts are files as the parts of a form-data body.
func parts(files []batchFile) []fixture.FilePart {
	out := make([]fixture.FilePart, len(files))
	for i, f := range files {
		out[i] = fixture.FilePart{Name: f.name, ContentType: f.contentType, Body: bytes.NewReader(f.content)}
	}
	return out
}

// uploadBatch sends parts to upload_batch as token.
func (e *env) uploadBatch(t testing.TB, token string, parts ...fixture.FilePart) *fixture.Response {
	t.Helper()
	body, contentType := fixture.FormData(parts...)
	defer func() { _ = body.Close() }()
	req := e.request(http.MethodPost, uploadBatchPath, token, contentType, nil)
	req.Body, req.ContentLength = body, -1
	return e.DoRequest(t, req)
}

// contentURIs is the answer of a successful upload_batch.
func contentURIs(t testing.TB, res *fixture.Response) []string {
	t.Helper()
	res.Want(t, http.StatusOK)
	var body struct {
		ContentURIs []string `json:"content_uris"`
	}
	res.Decode(t, &body)
	return body.ContentURIs
}

// downloadBatch asks download_batch for uris as token.
func (e *env) downloadBatch(t testing.TB, token string, uris []string) *fixture.Response {
	t.Helper()
	return e.Do(t, http.MethodPost, downloadBatchPath, token, map[string]any{"uris": uris})
}

// mixedParts is a successful download_batch's parts.
func mixedParts(t testing.TB, res *fixture.Response) []fixture.MixedPart {
	t.Helper()
	res.Want(t, http.StatusOK)
	return fixture.ReadMixed(t, res.Header.Get("Content-Type"), bytes.NewReader(res.Body))
}

// wantFilePart fails the test unless p is uri's part with f's bytes, type
// and file name.
func wantFilePart(t testing.TB, p fixture.MixedPart, uri string, f batchFile) {
	t.Helper()
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	switch {
	case p.Header.Get("Content-Location") != uri:
		t.Fatalf("part for %s names %q", uri, p.Header.Get("Content-Location"))
	case !bytes.Equal(p.Body, f.content):
		t.Fatalf("%s: %d bytes came back, %d were sent (or other bytes)", f.name, len(p.Body), len(f.content))
	case p.Header.Get("Content-Type") != f.contentType:
		t.Fatalf("%s: Content-Type %q, want %q", f.name, p.Header.Get("Content-Type"), f.contentType)
	case err != nil || params["filename"] != f.name:
		t.Fatalf("%s: Content-Disposition %q (%v)", f.name, p.Header.Get("Content-Disposition"), err)
	case p.Header.Get("Content-Length") != strconv.Itoa(len(f.content)):
		t.Fatalf("%s: Content-Length %q, want %d", f.name, p.Header.Get("Content-Length"), len(f.content))
	}
}

// wantErrorPart fails the test unless p is uri's part carrying errcode with
// status.
func wantErrorPart(t testing.TB, p fixture.MixedPart, uri string, status int, errcode string) {
	t.Helper()
	got := fixture.Response{Status: status, Header: http.Header(p.Header), Body: p.Body}
	if p.Header.Get("Content-Location") != uri || p.Header.Get("Content-Type") != "application/json" ||
		p.Header.Get("X-Matrix-Status") != strconv.Itoa(status) {
		t.Fatalf("error part for %s: %v", uri, p.Header)
	}
	got.Want(t, status, errcode)
}

// fiveFiles are the round trip's files: different types and sizes, a name
// outside ASCII, an empty file, a few MiB.
func fiveFiles() []batchFile {
	return []batchFile{
		{"notes.txt", "text/plain; charset=utf-8", []byte("five files in one request\n")},
		{"Überraschung 🎉.pdf", "application/pdf", randomBytes(70_000, 11)},
		{"empty.bin", "application/octet-stream", []byte{}},
		{"clip.mp4", "video/mp4", randomBytes(3<<20, 12)},
		{"picture.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
	}
}

// TestBatchRoundTrip: five files go up in one request and come down in
// another, in order, byte for byte, with their types and names, on both
// databases; the batch is over the listener's 1 MiB body limit.
func TestBatchRoundTrip(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		e := newEnvOn(t, db)
		files := fiveFiles()
		uris := contentURIs(t, e.uploadBatch(t, e.alice.Token, parts(files)...))
		if len(uris) != len(files) {
			t.Fatalf("content_uris %v for %d files", uris, len(files))
		}
		for _, u := range uris {
			if !strings.HasPrefix(u, e.serverPrefix) {
				t.Fatalf("content_uri %q", u)
			}
		}
		got := mixedParts(t, e.downloadBatch(t, e.bob.Token, uris))
		if len(got) != len(files) {
			t.Fatalf("%d parts for %d URIs", len(got), len(files))
		}
		for i, f := range files {
			wantFilePart(t, got[i], uris[i], f)
		}
		// Each URI is an ordinary upload: the single download agrees.
		mxc := e.upload(t, e.alice, files[1].content, files[1].contentType, files[1].name)
		if res := e.download(t, e.bob, mxc, ""); !bytes.Equal(res.Body, files[1].content) {
			t.Fatalf("single download of a batch file: %d bytes", len(res.Body))
		}
	})
}

// TestBatchDuplicatesStoredOnce: the same bytes twice in a batch (and once
// more in another) are two URIs of one stored file.
func TestBatchDuplicatesStoredOnce(t *testing.T) {
	e := newEnv(t)
	same := randomBytes(50_000, 13)
	files := []batchFile{
		{"a.bin", "application/octet-stream", same},
		{"other.txt", "text/plain", []byte("other")},
		{"b.jpg", "image/jpeg", same},
	}
	uris := contentURIs(t, e.uploadBatch(t, e.alice.Token, parts(files)...))
	contentURIs(t, e.uploadBatch(t, e.bob.Token, parts(files[:1])...))
	if len(uris) != 3 || uris[0] == uris[2] {
		t.Fatalf("content_uris %v", uris)
	}
	if stored, tmp := e.files(t); len(stored) != 2 || len(tmp) != 0 {
		t.Fatalf("stored %v, temporary %v; want two files", stored, tmp)
	}
	got := mixedParts(t, e.downloadBatch(t, e.bob.Token, uris))
	for i, f := range files {
		wantFilePart(t, got[i], uris[i], f)
	}
}

// state is what a refused batch must leave as it found: stored and
// temporary files, media rows, alice's usage.
type state struct {
	stored, tmp []string
	rows, usage int64
}

func (e *env) state(t testing.TB) state {
	t.Helper()
	var s state
	s.stored, s.tmp = e.files(t)
	ctx := context.Background()
	if err := e.DB.QueryRow(ctx, `SELECT COUNT(*) FROM mediaapi_media`).Scan(&s.rows); err != nil {
		t.Fatal(err)
	}
	err := e.DB.QueryRow(ctx, `SELECT COALESCE(SUM(bytes), 0) FROM mediaapi_usage WHERE user_id = $1`, e.alice.ID).Scan(&s.usage)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s state) equal(o state) bool {
	return slices.Equal(s.stored, o.stored) && slices.Equal(s.tmp, o.tmp) && s.rows == o.rows && s.usage == o.usage
}

// wantRefusedPart fails the test unless res is the error errcode with
// status naming part index (and, when not "", the file's name).
func wantRefusedPart(t testing.TB, res *fixture.Response, status int, errcode string, index int, name string) {
	t.Helper()
	res.Want(t, status, errcode)
	prefix := fmt.Sprintf("part %d: ", index)
	if name != "" {
		prefix = fmt.Sprintf("part %d (%s): ", index, name)
	}
	m := res.JSON()
	if msg, _ := m["error"].(string); !strings.HasPrefix(msg, prefix) || m["im.myelin.part_index"] != float64(index) {
		t.Fatalf("error %s does not name %q", res.Body, prefix)
	}
}

// TestBatchUploadAllOrNothing: a batch with one bad part is refused with an
// error naming the part, and keeps nothing: no rows, no files (a file
// another row names stays), the usage as it was.
func TestBatchUploadAllOrNothing(t *testing.T) {
	const limit = 256 << 10
	ok := func(name string, seed uint64) fixture.FilePart {
		return fixture.FilePart{Name: name, ContentType: "image/png", Body: bytes.NewReader(randomBytes(10_000, seed))}
	}
	header := func(kv ...string) textproto.MIMEHeader {
		h := textproto.MIMEHeader{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	many := func(n int, size int64) []fixture.FilePart {
		var out []fixture.FilePart
		for i := range n {
			out = append(out, fixture.FilePart{Name: fmt.Sprintf("%d.bin", i), Body: fixture.Generated(size, uint64(30+i))})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		quota   int64
		parts   []fixture.FilePart
		status  int
		errcode string
		index   int
		file    string
	}{
		{"a part over max_upload_bytes", 0,
			[]fixture.FilePart{ok("a.png", 20), ok("b.png", 21), {Name: "big.bin", Body: fixture.Generated(limit+1, 22)}, ok("c.png", 23)},
			413, "M_TOO_LARGE", 2, "big.bin"},
		{"the files together over the batch's limit", 0, many(11, limit), 413, "M_TOO_LARGE", 10, "10.bin"},
		{"the files together over the quota", 35_000,
			[]fixture.FilePart{ok("a.png", 40), ok("b.png", 41), ok("c.png", 42)},
			403, "M_FORBIDDEN", 2, "c.png"},
		{"a form field that is not a file", 0,
			[]fixture.FilePart{ok("a.png", 50), {
				Header: header("Content-Disposition", `form-data; name="caption"`),
				Body:   strings.NewReader("hi"),
			}},
			400, "M_INVALID_PARAM", 1, ""},
		{"a part that is not form-data", 0,
			[]fixture.FilePart{ok("a.png", 51), {Name: "x", Header: header("Content-Disposition", `attachment; filename="x.png"`)}},
			400, "M_INVALID_PARAM", 1, "x.png"},
		{"a file name with a control character", 0, // RFC 8187-encoded: raw, the header itself would be malformed
			[]fixture.FilePart{ok("a.png", 52), {Header: header("Content-Disposition", `form-data; name="f"; filename*=UTF-8''b%07.png`)}},
			400, "M_INVALID_PARAM", 1, "b\x07.png"},
		{"a base64 part", 0,
			[]fixture.FilePart{ok("a.png", 54), {
				Name:   "b.png",
				Header: header("Content-Transfer-Encoding", "base64"),
				Body:   strings.NewReader("aGk="),
			}},
			400, "M_INVALID_PARAM", 1, "b.png"},
		{"more than 100 parts", 0, many(101, 1), 400, "M_INVALID_PARAM", 100, "100.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(m *config.MediaAPI) { m.MaxUploadBytes, m.UserQuotaBytes = limit, tc.quota })
			e.upload(t, e.alice, randomBytes(10_000, 20), "image/png", "") // the first part's bytes, already stored
			before := e.state(t)
			wantRefusedPart(t, e.uploadBatch(t, e.alice.Token, tc.parts...), tc.status, tc.errcode, tc.index, tc.file)
			if after := e.state(t); !after.equal(before) {
				t.Fatalf("a refused batch changed the store: before %+v, after %+v", before, after)
			}
		})
	}
}

// TestBatchUploadMalformed: bodies that are not a batch, cut short, or
// without a file are refused, keeping nothing.
func TestBatchUploadMalformed(t *testing.T) {
	e := newEnv(t)
	before := e.state(t)
	send := func(contentType, body string) *fixture.Response {
		return e.DoRequest(t, e.request(http.MethodPost, uploadBatchPath, e.alice.Token, contentType, []byte(body)))
	}
	first := "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nfirst\r\n"
	second := "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"b.txt\"\r\n\r\nsecond, cut short"
	wantRefusedPart(t, send("multipart/form-data; boundary=b", first+second), 400, "M_INVALID_PARAM", 1, "b.txt")
	wantRefusedPart(t, send("multipart/form-data; boundary=b", first+"--b\r\nno header end"), 400, "M_INVALID_PARAM", 1, "")
	send("multipart/form-data; boundary=b", "--b--\r\n").Want(t, 400, "M_INVALID_PARAM")
	send("application/octet-stream", first+"--b--\r\n").Want(t, 400, "M_INVALID_PARAM")
	send("multipart/form-data", first+"--b--\r\n").Want(t, 400, "M_INVALID_PARAM")
	if after := e.state(t); !after.equal(before) {
		t.Fatalf("refused batches changed the store: before %+v, after %+v", before, after)
	}
	contentURIs(t, send("multipart/form-data; boundary=b", first+"--b--\r\n"))
}

// TestBatchCommitFailureRemovesItsFiles: when the rows cannot be committed
// (another upload used up the quota while the batch was arriving), the
// files the batch put in place go, the file another row names stays, and
// the error names the part whose row passed the quota.
func TestBatchCommitFailureRemovesItsFiles(t *testing.T) {
	e := newEnv(t, func(m *config.MediaAPI) { m.UserQuotaBytes = 1000 })
	shared := randomBytes(100, 60)
	e.upload(t, e.alice, shared, "", "")
	before := e.state(t)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req := e.request(http.MethodPost, uploadBatchPath, e.alice.Token, mw.FormDataContentType(), nil)
	req.Body, req.ContentLength = pr, -1
	answered := make(chan *fixture.Response, 1)
	go func() {
		res := e.DoRequest(t, req)
		_ = pr.Close() // a handler that stops early fails the writes below instead of blocking them
		answered <- res
	}()
	writePart := func(name string, content []byte) {
		w, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = w.Write(content)
		}
		if err != nil {
			t.Error(err)
		}
	}
	writePart("shared.bin", shared) // read by the handler: the batch has started, 900 bytes of quota left
	e.upload(t, e.alice, randomBytes(700, 61), "", "")
	writePart("new.bin", randomBytes(300, 62))
	_ = mw.Close()
	_ = pw.Close()

	wantRefusedPart(t, <-answered, http.StatusForbidden, "M_FORBIDDEN", 1, "new.bin")
	after := e.state(t)
	if after.rows != before.rows+1 || after.usage != before.usage+700 || len(after.stored) != len(before.stored)+1 || len(after.tmp) != 0 {
		t.Fatalf("before %+v, after %+v: want only the 700-byte upload added", before, after)
	}
	if !slices.Contains(after.stored, before.stored[0]) {
		t.Fatalf("the shared file %s went: %v", before.stored[0], after.stored)
	}
}

// TestBatchDownloadPartErrors: a URI that cannot be served gets a part with
// its error; the parts around it are whole.
func TestBatchDownloadPartErrors(t *testing.T) {
	e := newEnv(t)
	files := fiveFiles()[:2]
	uris := contentURIs(t, e.uploadBatch(t, e.alice.Token, parts(files)...))
	missing := e.serverPrefix + "neverUploaded"
	created, _ := e.create(t, e.alice.Token)
	got := mixedParts(t, e.downloadBatch(t, e.bob.Token, []string{uris[0], missing, uris[1], created, uris[0]}))
	if len(got) != 5 {
		t.Fatalf("%d parts for 5 URIs", len(got))
	}
	wantFilePart(t, got[0], uris[0], files[0])
	wantErrorPart(t, got[1], missing, http.StatusNotFound, "M_NOT_FOUND")
	wantFilePart(t, got[2], uris[1], files[1])
	wantErrorPart(t, got[3], created, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED") // not waited for
	wantFilePart(t, got[4], uris[0], files[0])
}

// TestBatchRequests: what is refused before anything is stored or
// streamed.
func TestBatchRequests(t *testing.T) {
	e := newEnv(t)
	uri := contentURIs(t, e.uploadBatch(t, e.alice.Token, parts(fiveFiles()[:1])...))[0]
	tooMany := slices.Repeat([]string{uri}, 101)
	for _, tc := range []struct {
		name    string
		token   string
		body    any
		status  int
		errcode string
	}{
		{"no token", "", map[string]any{"uris": []string{uri}}, 401, "M_MISSING_TOKEN"},
		{"bad token", "nope", map[string]any{"uris": []string{uri}}, 401, "M_UNKNOWN_TOKEN"},
		{"no uris", e.bob.Token, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"empty uris", e.bob.Token, map[string]any{"uris": []string{}}, 400, "M_INVALID_PARAM"},
		{"101 uris", e.bob.Token, map[string]any{"uris": tooMany}, 400, "M_INVALID_PARAM"},
		{"uris not strings", e.bob.Token, map[string]any{"uris": []int{1}}, 400, "M_BAD_JSON"},
		{"not JSON", e.bob.Token, "uris", 400, "M_NOT_JSON"},
	} {
		t.Run("download "+tc.name, func(t *testing.T) {
			e.Do(t, http.MethodPost, downloadBatchPath, tc.token, tc.body).Want(t, tc.status, tc.errcode)
		})
	}
	t.Run("download a malformed URI", func(t *testing.T) {
		malformed := []string{"mxc://" + e.ServerName + "/../etc", "https://example.org/x", "mxc://bad host/x", "mxc://" + e.ServerName}
		for i, bad := range malformed {
			res := e.downloadBatch(t, e.bob.Token, []string{uri, bad})
			res.Want(t, http.StatusBadRequest, "M_INVALID_PARAM")
			if m := res.JSON(); !strings.HasPrefix(m["error"].(string), "uris[1]: ") || m["im.myelin.part_index"] != float64(1) {
				t.Fatalf("case %d: %s does not name uris[1]", i, res.Body)
			}
		}
	})
	t.Run("upload without a token", func(t *testing.T) {
		e.uploadBatch(t, "", parts(fiveFiles()[:1])...).Want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
	t.Run("wrong method", func(t *testing.T) {
		e.Do(t, http.MethodGet, uploadBatchPath, e.alice.Token, nil).Want(t, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
		e.Do(t, http.MethodGet, downloadBatchPath, e.alice.Token, nil).Want(t, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
	})
}

// TestBatchStreams sends three 50 MiB files up in one batch and back down
// in another through a real listener, generated and hashed on the fly, and
// checks that neither direction holds them in memory: what the process
// allocates and the heap it uses stay a fraction of one file.
func TestBatchStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("300 MiB through the disk")
	}
	const size, files = 50 << 20, 3
	const bound = 16 << 20 // a third of one file
	e := newEnv(t, func(m *config.MediaAPI) { m.MaxUploadBytes = size })
	srv := httptest.NewServer(e.Handler(t))
	defer srv.Close()

	checkMemory := watchMemory(t)

	var up []fixture.FilePart
	want := make([][]byte, files)
	for i := range files {
		up = append(up, fixture.FilePart{
			Name:        fmt.Sprintf("big-%d.bin", i),
			ContentType: "video/mp4",
			Body:        fixture.Generated(size, uint64(70+i)),
		})
		h := sha256.New()
		_, _ = io.Copy(h, fixture.Generated(size, uint64(70+i)))
		want[i] = h.Sum(nil)
	}
	body, contentType := fixture.FormData(up...)
	res := postRaw(t, srv.URL+uploadBatchPath, e.alice.Token, contentType, body)
	var uploaded struct {
		ContentURIs []string `json:"content_uris"`
	}
	err := json.NewDecoder(res.Body).Decode(&uploaded)
	_ = res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || len(uploaded.ContentURIs) != files {
		t.Fatalf("upload_batch: %d %v %v", res.StatusCode, err, uploaded.ContentURIs)
	}

	req, _ := json.Marshal(map[string]any{"uris": uploaded.ContentURIs})
	res = postRaw(t, srv.URL+downloadBatchPath, e.bob.Token, "application/json", bytes.NewReader(req))
	defer func() { _ = res.Body.Close() }()
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	mr := multipart.NewReader(res.Body, params["boundary"])
	for i := range files {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		h := sha256.New()
		if n, err := io.Copy(h, p); err != nil || n != size || !bytes.Equal(h.Sum(nil), want[i]) {
			t.Fatalf("part %d: %d bytes, %v, same bytes %v", i, n, err, bytes.Equal(h.Sum(nil), want[i]))
		}
	}

	checkMemory("3 × 50 MiB up and down in batches", bound)
}

// postRaw sends body to url as token and returns the response.
func postRaw(t testing.TB, url, token, contentType string, body io.Reader) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
