package sms

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
)

// readOutbox parses every line of the outbox file.
func readOutbox(t *testing.T, path string) []OutboxLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []OutboxLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l OutboxLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("outbox line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestLogProviderWritesTheOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	s, hook, reg := newTestSender(t, config.SMS{Provider: config.SMSLog, OutboxFile: path})
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the outbox file is not created at start: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("outbox file mode %v, want 0600", info.Mode().Perm())
	}

	before := time.Now().UTC().Truncate(time.Millisecond)
	m := testMessage()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	lines := readOutbox(t, path)
	if len(lines) != 1 {
		t.Fatalf("%d outbox lines, want 1", len(lines))
	}
	l := lines[0]
	if l.To != m.To || l.Body != m.Body || l.Code != testCode {
		t.Errorf("outbox line %+v, want %+v", l, m)
	}
	sentAt, err := time.Parse(time.RFC3339, l.SentAt)
	if err != nil || sentAt.Before(before) || sentAt.After(time.Now()) || sentAt.Location() != time.UTC {
		t.Errorf("sent_at %q (%v), want RFC 3339 UTC of now", l.SentAt, err)
	}

	// The development provider logs the code: that is what it is for.
	var logged bool
	for _, e := range hook.AllEntries() {
		if e.Data["code"] == testCode && e.Data["to"] == m.To {
			logged = true
		}
	}
	if !logged {
		t.Error("the log provider did not log the message's code and number")
	}
	assertSent(t, reg, "log", 1, 0)

	// A removed file is created again by the next message.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if n := len(readOutbox(t, path)); n != 1 {
		t.Errorf("%d lines after the file was removed, want 1", n)
	}
}

func TestLogProviderAppendsConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	// Two senders on one file, as two servers in one test process are.
	a, _, _ := newTestSender(t, config.SMS{Provider: config.SMSLog, OutboxFile: path})
	b, _, _ := newTestSender(t, config.SMS{Provider: config.SMSLog, OutboxFile: path})
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			code := fmt.Sprintf("%06d", i)
			m := Message{To: fmt.Sprintf("+86138%08d", i), Body: "code " + code + " ", Code: code}
			if err := s.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := readOutbox(t, path)
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	parsed, err := ReadOutbox(path)
	if err != nil || !reflect.DeepEqual(parsed, lines) {
		t.Errorf("ReadOutbox = %d lines (%v), want the %d read here", len(parsed), err, len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if l.Body != "code "+l.Code+" " || seen[l.Code] {
			t.Errorf("line %+v garbled or repeated", l)
		}
		seen[l.Code] = true
	}
}

func TestLogProviderWithoutOutbox(t *testing.T) {
	s, hook, _ := newTestSender(t, config.SMS{})
	if err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if e := hook.LastEntry(); e == nil || e.Data["code"] != testCode {
		t.Errorf("last entry %+v does not hold the code", e)
	}
}

func TestReadOutboxErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadOutbox(filepath.Join(dir, "none.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"to\":\"+1\"}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOutbox(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: %v", err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if lines, err := ReadOutbox(empty); err != nil || len(lines) != 0 {
		t.Errorf("empty file: %v, %v", lines, err)
	}
}
