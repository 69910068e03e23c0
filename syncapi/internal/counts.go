package internal

import (
	"sync"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// Counts are a user's unread notification counts in one room: the main
// timeline's and each thread's (spec: client-server API, "Receiving
// notifications").
type Counts struct {
	Main    storage.ThreadCounts
	Threads map[string]storage.ThreadCounts
}

// Total is every thread's counts added to the main timeline's.
func (c Counts) Total() (notifications, highlights int) {
	notifications, highlights = c.Main.Notifications, c.Main.Highlights
	for _, t := range c.Threads {
		notifications += t.Notifications
		highlights += t.Highlights
	}
	return notifications, highlights
}

// CountsCache keeps each user's current counts per room: a notification
// for them in the room adds to them (Add); their own event or their read
// receipt drops them (Invalidate), to be read again. Whoever changes them
// calls Add or Invalidate after the change has committed; a reader takes a
// generation with Get before it reads the database (everything committed,
// no upper position) and Puts what it read under it, so a count read
// before a change never outlives the change.
type CountsCache struct {
	mu      sync.Mutex
	entries map[countsKey]countsEntry
	// floor is the generation of a key without an entry; maxGen the
	// highest handed out. Starting again raises floor past maxGen.
	floor, maxGen uint64
}

type countsKey struct{ user, room string }

type countsEntry struct {
	gen    uint64
	counts *Counts // nil: not known at gen
}

// maxCountsEntries bounds the cache; past it, it starts again empty.
const maxCountsEntries = 1 << 20

// NewCountsCache returns an empty cache.
func NewCountsCache() *CountsCache { return &CountsCache{entries: map[countsKey]countsEntry{}} }

func (c *CountsCache) entryLocked(k countsKey) countsEntry {
	if e, ok := c.entries[k]; ok {
		return e
	}
	return countsEntry{gen: c.floor}
}

// Get returns the cached counts of a user in a room, if known, and the
// generation to Put a fresh reading under.
func (c *CountsCache) Get(userID, roomID string) (*Counts, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entryLocked(countsKey{userID, roomID})
	return e.counts, e.gen
}

// Put records counts read at generation gen, unless they changed since.
func (c *CountsCache) Put(userID, roomID string, gen uint64, counts Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := countsKey{userID, roomID}
	if c.entryLocked(k).gen != gen {
		return
	}
	if len(c.entries) >= maxCountsEntries {
		c.resetLocked()
		return
	}
	c.entries[k] = countsEntry{gen: gen, counts: &counts}
}

// Add counts one more notification for a user in a room, after it has
// committed: a cached reading goes up by one (in its thread), so a user
// who never reads a busy room is not counted again from the database at
// every message; a reading taken before is not kept.
func (c *CountsCache) Add(userID, roomID, thread string, highlight bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := countsKey{userID, roomID}
	e := c.entryLocked(k)
	e.gen++
	c.maxGen = max(c.maxGen, e.gen)
	if e.counts != nil {
		n := e.counts.with(thread, highlight)
		e.counts = &n
	}
	c.entries[k] = e
}

// with is c with one more notification in thread.
func (c Counts) with(thread string, highlight bool) Counts {
	add := func(t storage.ThreadCounts) storage.ThreadCounts {
		t.ThreadID = thread
		t.Notifications++
		if highlight {
			t.Highlights++
		}
		return t
	}
	if thread == "" {
		c.Main = add(c.Main)
		return c
	}
	threads := make(map[string]storage.ThreadCounts, len(c.Threads)+1)
	for k, v := range c.Threads {
		threads[k] = v
	}
	threads[thread] = add(threads[thread])
	c.Threads = threads
	return c
}

// Invalidate forgets a user's counts in a room: they changed.
func (c *CountsCache) Invalidate(userID, roomID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCountsEntries {
		c.resetLocked()
	}
	k := countsKey{userID, roomID}
	gen := c.entryLocked(k).gen + 1
	c.maxGen = max(c.maxGen, gen)
	c.entries[k] = countsEntry{gen: gen}
}

// resetLocked starts again empty, every generation handed out so far
// below the new floor.
func (c *CountsCache) resetLocked() {
	c.entries = map[countsKey]countsEntry{}
	c.floor = c.maxGen + 1
	c.maxGen = c.floor
}
