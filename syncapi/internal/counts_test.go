package internal

import (
	"testing"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// TestCountsCache: a reading is kept until invalidated; a reading taken
// before an invalidation is not kept; users and rooms are apart.
func TestCountsCache(t *testing.T) {
	c := NewCountsCache()
	one := Counts{Main: storage.ThreadCounts{Notifications: 1}}
	if got, _ := c.Get("@u:x", "!r:x"); got != nil {
		t.Fatalf("empty cache answered %+v", got)
	}
	_, gen := c.Get("@u:x", "!r:x")
	c.Put("@u:x", "!r:x", gen, one)
	if got, _ := c.Get("@u:x", "!r:x"); got == nil || got.Main.Notifications != 1 {
		t.Fatalf("kept %+v", got)
	}
	if got, _ := c.Get("@v:x", "!r:x"); got != nil {
		t.Fatalf("another user's counts: %+v", got)
	}
	_, stale := c.Get("@u:x", "!r:x")
	c.Invalidate("@u:x", "!r:x")
	if got, _ := c.Get("@u:x", "!r:x"); got != nil {
		t.Fatalf("invalidated, still %+v", got)
	}
	c.Put("@u:x", "!r:x", stale, one) // read before the change
	if got, _ := c.Get("@u:x", "!r:x"); got != nil {
		t.Fatalf("a reading from before the change was kept: %+v", got)
	}
	_, gen = c.Get("@u:x", "!r:x")
	c.Put("@u:x", "!r:x", gen, Counts{})
	if got, _ := c.Get("@u:x", "!r:x"); got == nil || got.Main.Notifications != 0 {
		t.Fatalf("fresh reading not kept: %+v", got)
	}
	// Starting again leaves no reading from before valid.
	_, old := c.Get("@w:x", "!r:x")
	c.Invalidate("@w:x", "!r:x")
	c.resetLocked()
	c.Put("@w:x", "!r:x", old, one)
	if got, _ := c.Get("@w:x", "!r:x"); got != nil {
		t.Fatalf("a reading from before a reset was kept: %+v", got)
	}
}

// TestCountsTotal adds threads to the main timeline.
func TestCountsTotal(t *testing.T) {
	c := Counts{
		Main:    storage.ThreadCounts{Notifications: 2, Highlights: 1},
		Threads: map[string]storage.ThreadCounts{"$a": {Notifications: 3}, "$b": {Notifications: 1, Highlights: 1}},
	}
	if n, h := c.Total(); n != 6 || h != 2 {
		t.Fatalf("total %d, %d", n, h)
	}
}

// TestCountsAdd: a notification adds to a cached reading, in its thread,
// without a trip to the database; a reading taken before it is not kept;
// without a reading there is nothing to add to.
func TestCountsAdd(t *testing.T) {
	c := NewCountsCache()
	_, gen := c.Get("@u:x", "!r:x")
	c.Put("@u:x", "!r:x", gen, Counts{Main: storage.ThreadCounts{Notifications: 2}})
	_, stale := c.Get("@u:x", "!r:x")
	c.Add("@u:x", "!r:x", "", true)
	c.Add("@u:x", "!r:x", "$root", false)
	got, _ := c.Get("@u:x", "!r:x")
	if got == nil || got.Main.Notifications != 3 || got.Main.Highlights != 1 || got.Threads["$root"].Notifications != 1 {
		t.Fatalf("after two notifications: %+v", got)
	}
	c.Put("@u:x", "!r:x", stale, Counts{})
	if got, _ := c.Get("@u:x", "!r:x"); got == nil || got.Main.Notifications != 3 {
		t.Fatalf("a reading from before the notifications replaced the counts: %+v", got)
	}
	c.Add("@v:x", "!r:x", "", false)
	if got, _ := c.Get("@v:x", "!r:x"); got != nil {
		t.Fatalf("added to no reading: %+v", got)
	}
}
