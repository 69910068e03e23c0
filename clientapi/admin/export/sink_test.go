package export_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/admin/export"
)

// writeFiles writes three files, two of them open at once (as the JSON
// lines are), and finishes the sink.
func writeFiles(t *testing.T, s *export.Sink) {
	t.Helper()
	a, err := s.Create("a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create("sub/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if _, err := io.WriteString(a, "line 行\n"); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := io.WriteString(b, "b"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteJSON("c.json", map[string]string{"k": "值"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create("../escape"); err == nil {
		t.Fatal("a path out of the export was accepted")
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestZipSinkVerifies(t *testing.T) {
	var buf bytes.Buffer
	writeFiles(t, export.NewZipSink(&buf, "test/1"))
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Verify(zr)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != "test/1" || len(m.Files) != 3 || m.Files[0].Path != "a.jsonl" || m.Files[0].Size != int64(len("line 行\n")*1000) {
		t.Fatalf("manifest %+v", m)
	}
}

func TestDirSinkVerifyFindsTampering(t *testing.T) {
	dir := t.TempDir()
	s, err := export.NewDirSink(dir, "test/1")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, s)
	if _, err := export.Verify(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := export.Verify(os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "not in the manifest") {
		t.Fatalf("an extra file: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "extra.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := export.Verify(os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "sub/b.txt") {
		t.Fatalf("a changed file: %v", err)
	}
}
