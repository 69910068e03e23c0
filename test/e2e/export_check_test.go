package e2e

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/server"
)

// downloadExport fetches the room's export through the admin API, checks
// it against its manifest and unpacks it into a directory.
func downloadExport(t *testing.T, srv *server.Server, root *mautrix.Client, roomID string) string {
	t.Helper()
	start := time.Now()
	req, err := http.NewRequest(http.MethodGet, srv.ClientURL()+"/_synapse/admin/v1/rooms/"+url.PathEscape(roomID)+"/export", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+root.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("export: %d %s", res.StatusCode, b)
	}
	archive, err := os.Create(filepath.Join(t.TempDir(), "export.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = archive.Close() }()
	size, err := io.Copy(archive, res.Body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exported %d bytes in %s", size, time.Since(start).Round(time.Millisecond))
	zr, err := zip.NewReader(archive, size)
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Verify(zr)
	if err != nil {
		t.Fatalf("the manifest does not verify: %v", err)
	}
	dir := t.TempDir()
	for _, f := range m.Files {
		unzip(t, zr, f.Path, dir)
	}
	unzip(t, zr, export.ManifestName, dir)
	if _, err := export.Verify(os.DirFS(dir)); err != nil {
		t.Fatalf("unpacked: %v", err)
	}
	return dir
}

func unzip(t *testing.T, zr *zip.Reader, name, dir string) {
	t.Helper()
	in, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func readJSONLines[T any](t *testing.T, path string) []T {
	t.Helper()
	out, err := export.ReadLines[T](os.DirFS(filepath.Dir(path)), filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExportedEvents: events.jsonl holds exactly the events the sync
// component serves, with the same content, in an order where every
// event comes after its prev_events; redactions.jsonl the original of
// every redacted message; membership.jsonl every membership change.
func checkExportedEvents(t *testing.T, r *exportRoom, dir string) {
	t.Helper()
	want, _ := serverEvents(t, r.client, r.roomID)
	lines := readJSONLines[export.EventLine](t, filepath.Join(dir, export.EventsFile))
	if len(lines) != len(want) || len(lines) < 10_000 {
		t.Fatalf("events.jsonl has %d events; the server %d (want at least 10,000)", len(lines), len(want))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var pdu struct {
			Content    json.RawMessage `json:"content"`
			PrevEvents []string        `json:"prev_events"`
		}
		if err := json.Unmarshal(l.Event, &pdu); err != nil {
			t.Fatal(err)
		}
		if c, ok := want[l.EventID]; !ok || !sameJSON(c, pdu.Content) {
			t.Fatalf("%s: exported content %s; the server has %s (known: %v)", l.EventID, pdu.Content, c, ok)
		}
		for _, prev := range pdu.PrevEvents {
			if !seen[prev] {
				t.Fatalf("%s comes before its prev event %s", l.EventID, prev)
			}
		}
		seen[l.EventID] = true
	}
	for id := range r.contents {
		if !seen[id] {
			t.Fatalf("sent event %s not exported", id)
		}
	}
	checkRedactionHistory(t, r, dir)
	members := readJSONLines[export.MembershipLine](t, filepath.Join(dir, export.MembershipFile))
	kicks := 0
	for _, m := range members {
		if m.Action == "kick" {
			kicks++
		}
	}
	if len(members) != r.members || kicks != 4*33 {
		t.Fatalf("membership.jsonl: %d changes, %d kicks; want %d, %d", len(members), kicks, r.members, 4*33)
	}
}

func checkRedactionHistory(t *testing.T, r *exportRoom, dir string) {
	t.Helper()
	red := readJSONLines[export.RedactionLine](t, filepath.Join(dir, export.RedactionsFile))
	if len(red) != len(r.redacted) {
		t.Fatalf("redactions.jsonl has %d events; %d were redacted", len(red), len(r.redacted))
	}
	for _, l := range red {
		var orig struct {
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(l.Original, &orig); err != nil || !r.redacted[l.EventID] {
			t.Fatalf("redaction line %+v: %v", l, err)
		}
		sent, err := json.Marshal(r.contents[l.EventID])
		if err != nil || !sameJSON(orig.Content, sent) {
			t.Fatalf("%s: original %s, sent %s", l.EventID, orig.Content, sent)
		}
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// checkExportedMedia: both uploads are in the export, byte for byte.
func checkExportedMedia(t *testing.T, r *exportRoom, dir string) {
	t.Helper()
	lines := readJSONLines[export.MediaLine](t, filepath.Join(dir, export.MediaFile))
	if len(lines) != len(r.media) {
		t.Fatalf("media.jsonl: %+v", lines)
	}
	for _, l := range lines {
		data, ok := r.media[l.MXC]
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(l.Path)))
		if !ok || err != nil || l.Missing || sha256.Sum256(got) != sha256.Sum256(data) {
			t.Fatalf("media %+v: %v", l, err)
		}
	}
}

// checkTranscript: one message block per message sent (edits are not
// messages), the edits' text marked edited, Chinese as UTF-8.
func checkTranscript(t *testing.T, r *exportRoom, dir string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, export.TranscriptFile))
	if err != nil {
		t.Fatal(err)
	}
	html := string(raw)
	if got := strings.Count(html, `<div class="msg`); got != r.messages {
		t.Fatalf("the transcript shows %d messages; %d were sent", got, r.messages)
	}
	if !strings.Contains(html, `<meta charset="utf-8">`) || !strings.Contains(html, "大家好！这是房间导出的测试。") ||
		!strings.Contains(html, "Noto Sans CJK SC") {
		t.Fatal("the transcript lacks its charset, its Chinese text or its CJK fonts")
	}
	if n := strings.Count(html, `<span class="edited">(edited)</span>`); n != len(r.edited) {
		t.Fatalf("%d messages marked edited; %d were edited", n, len(r.edited))
	}
	for target, body := range r.edited {
		if !strings.Contains(html, body+` <span class="edited">(edited)</span></div>`) {
			t.Fatalf("edit of %s (%q) not shown", target, body)
		}
		break
	}
	if n := strings.Count(html, `<blockquote class="reply">`); n != 1501 {
		t.Fatalf("%d replies quoted, want 1501", n)
	}
	if !strings.Contains(html, `src="media/`) || !strings.Contains(html, `>报告.txt</a>`) {
		t.Fatal("attachments not linked to the exported files")
	}
	t.Logf("transcript: %s (%d bytes)", filepath.Join(dir, export.TranscriptFile), len(raw))
}

// screenshotTranscript opens the transcript in headless Chromium and keeps
// the screenshot in the test's artifact directory (go test -artifacts).
func screenshotTranscript(t *testing.T, dir string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv(chromiumEnv) == "required" {
			t.Fatalf("Chromium is required (%s=required) but missing: %v", chromiumEnv, err)
		}
		t.Skipf("chromium is not installed (apt-get install chromium fonts-noto-cjk; .ci/run does): %v", err)
	}
	shot := filepath.Join(t.ArtifactDir(), "transcript.png")
	cmd := exec.CommandContext(ctx(t), bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1000,1400",
		"file://"+filepath.Join(dir, export.TranscriptFile))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("transcript screenshot: %s (%d bytes)", shot, st.Size())
}
