package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/myelin-im/myelin/clientapi/admin/export"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/roomserver"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	usersapi "github.com/myelin-im/myelin/userapi/api"
)

// exportFixture writes a config of an SQLite database in a temporary
// directory holding a room by @alice with a Chinese message, a redacted
// one and an edit; it returns the config's path, the room and the
// redacted message's ID.
func exportFixture(t *testing.T) (cfgPath, roomID, redactedID string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "myelin.yaml")
	cfg := "global:\n  data_dir: " + dir + "\n  server_name: example.org\nuser_api:\n  bcrypt_cost: 4\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := openExportSources(ctx, cfgPath, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := src.close(); err != nil {
			t.Error(err)
		}
	}()
	if _, err := src.users.CreateAccount(ctx, usersapi.CreateAccountRequest{Localpart: "alice", Password: "hunter2hunter2"}); err != nil {
		t.Fatal(err)
	}
	// The tool's roomserver publishes nothing; this one, writing, needs a bus.
	b, err := bus.Open(ctx, src.cfg.Global.Bus.URL, src.db, bus.Options{}, src.log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	key, _, err := signingkey.LoadOrGenerate(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := roomserver.New(ctx, "example.org", key, src.db, b, src.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if roomID, err = rooms.CreateRoom(ctx, roomapi.CreateRoomRequest{Creator: "@alice:example.org", Preset: "private_chat"}); err != nil {
		t.Fatal(err)
	}
	send := func(body string, extra string) string {
		id, err := rooms.SendEvent(ctx, roomapi.SendEventRequest{RoomID: roomID, Sender: "@alice:example.org",
			Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"` + body + `"` + extra + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := send("你好", "")
	send("* 你好，世界", `,"m.new_content":{"msgtype":"m.text","body":"你好，世界"},"m.relates_to":{"rel_type":"m.replace","event_id":"`+first+`"}`)
	redactedID = send("secret", "")
	if _, err := rooms.Redact(ctx, roomapi.RedactRequest{RoomID: roomID, Sender: "@alice:example.org", EventID: redactedID}); err != nil {
		t.Fatal(err)
	}
	return cfgPath, roomID, redactedID
}

func TestExportRoomCommand(t *testing.T) {
	cfgPath, roomID, redactedID := exportFixture(t)
	out := filepath.Join(t.TempDir(), "export")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export-room", roomID, "--out", out, "--config", cfgPath}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("export-room: %d %q", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "2 messages, 1 redacted (1 originals kept)") {
		t.Fatalf("stdout %q", stdout.String())
	}
	if _, err := export.Verify(os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	red := readLines[export.RedactionLine](t, filepath.Join(out, export.RedactionsFile))
	if len(red) != 1 || red[0].EventID != redactedID || !strings.Contains(string(red[0].Original), `"secret"`) {
		t.Fatalf("redactions %+v", red)
	}
	html, err := os.ReadFile(filepath.Join(out, export.TranscriptFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `你好，世界 <span class="edited">(edited)</span></div>`) {
		t.Fatalf("the edit is not shown as the latest text:\n%s", html)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{"export-room", roomID, "--config", cfgPath}, 2, "usage: myelin export-room"},
		{"no room", []string{"export-room", "--out", out, "--config", cfgPath}, 2, "usage: myelin export-room"},
		{"unknown room", []string{"export-room", "--out", out, "--config", cfgPath, "!nope:example.org"}, 1, "room not found"},
		{"unknown user", []string{"export-user", "@bob:example.org", "--out", out, "--config", cfgPath}, 1, "not a user of this server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, nil, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
}

func TestExportUserCommand(t *testing.T) {
	cfgPath, roomID, redactedID := exportFixture(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"export-user", "--out", out, "--config", cfgPath, "@alice:example.org"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("export-user: %d %q", code, stderr.String())
	}
	if _, err := export.Verify(os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	msgs := readLines[export.UserEventLine](t, filepath.Join(out, export.MessagesFile))
	var sent, original int
	for _, m := range msgs {
		if m.RoomID != roomID || m.Sender != "@alice:example.org" {
			t.Fatalf("line %+v", m)
		}
		if m.Type == "m.room.message" {
			sent++
		}
		if m.EventID == redactedID && strings.Contains(string(m.Original), `"secret"`) {
			original++
		}
	}
	if sent != 3 || original != 1 {
		t.Fatalf("%d messages, redacted original %d times, in %+v", sent, original, msgs)
	}
	var rooms []roomapi.UserRoom
	if b, err := os.ReadFile(filepath.Join(out, export.RoomsFile)); err != nil || json.Unmarshal(b, &rooms) != nil ||
		len(rooms) != 1 || rooms[0] != (roomapi.UserRoom{RoomID: roomID, Membership: "join"}) {
		t.Fatalf("rooms.json: %v %+v", err, rooms)
	}
}

func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	out, err := export.ReadLines[T](os.DirFS(filepath.Dir(path)), filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
