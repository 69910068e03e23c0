package export_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/myelin-im/myelin/clientapi/admin/export"
)

func TestReadLines(t *testing.T) {
	type line struct {
		ID string `json:"event_id"`
	}
	fsys := fstest.MapFS{
		"good.jsonl":  {Data: []byte("{\"event_id\":\"$a\"}\n{\"event_id\":\"$b\"}\n")},
		"bad.jsonl":   {Data: []byte("{\"event_id\":\"$a\"}\nnot json\n")},
		"empty.jsonl": {Data: nil},
	}
	got, err := export.ReadLines[line](fsys, "good.jsonl")
	if err != nil || len(got) != 2 || got[0].ID != "$a" || got[1].ID != "$b" {
		t.Fatalf("good: %v, %v", got, err)
	}
	if got, err := export.ReadLines[line](fsys, "empty.jsonl"); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	if _, err := export.ReadLines[line](fsys, "bad.jsonl"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad: %v, want an error naming line 2", err)
	}
	if _, err := export.ReadLines[line](fsys, "missing.jsonl"); err == nil {
		t.Fatal("a missing file read without an error")
	}
}
