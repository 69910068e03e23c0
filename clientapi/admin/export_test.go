package admin_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/test/fixture"
)

func TestRoomExportEndpoint(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	hello := s.Send(t, s.Alice, room, "你好，世界")
	path := "/v1/rooms/" + room + "/export"
	run(t, s, refusals(s, http.MethodGet, path, nil))
	run(t, s, []call{
		{name: "unknown room", method: http.MethodGet, path: "/v1/rooms/!nope:test/export", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "not a room ID", method: http.MethodGet, path: "/v1/rooms/%23alias:test/export", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "wrong method", method: http.MethodPost, path: path, token: s.Root.Token,
			status: http.StatusMethodNotAllowed, errcode: "M_UNRECOGNIZED"},
		{name: "admin exports", method: http.MethodGet, path: path, token: s.Root.Token, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) { checkExportZip(t, r, hello) }},
		{name: "the export is in the audit log", method: http.MethodGet, path: "/v1/audit_log?target=" + room,
			token: s.Root.Token, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				var got struct {
					Entries []struct {
						Admin, Method, Path, Detail string
						Status                      int
					} `json:"entries"`
				}
				r.Decode(t, &got)
				if len(got.Entries) != 1 || got.Entries[0].Admin != s.Root.ID || got.Entries[0].Method != http.MethodGet ||
					got.Entries[0].Status != http.StatusOK || !strings.HasPrefix(got.Entries[0].Detail, "exported ") {
					t.Fatalf("audit log %s", r.Body)
				}
			}},
	})
}

// checkExportZip checks the archive verifies against its manifest and
// holds the room's events with the message sent.
func checkExportZip(t *testing.T, r *fixture.Response, msgID string) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/zip" {
		t.Fatalf("Content-Type %q", ct)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.Body), int64(len(r.Body)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	m, err := export.Verify(zr)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != export.RoomFormat || len(m.Files) < 7 {
		t.Fatalf("manifest %+v", m)
	}
	f, err := zr.Open(export.EventsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	found, lines := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l export.EventLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines++
		found = found || l.EventID == msgID && strings.Contains(string(l.Event), "你好，世界")
	}
	if !found || lines < 5 {
		t.Fatalf("events.jsonl has %d lines, message found: %v", lines, found)
	}
	html, err := zr.Open(export.TranscriptFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = html.Close() }()
	var b bytes.Buffer
	if _, err := b.ReadFrom(html); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "你好，世界") || strings.Count(b.String(), `class="msg"`) != 1 {
		t.Fatalf("transcript:\n%s", b.String())
	}
}
