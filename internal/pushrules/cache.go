package pushrules

import (
	"context"
	"sync"
)

// Cache keeps users' compiled rules in this process, so an event's
// evaluation for a room's members compiles nothing. A writer invalidates a
// user after each change; a load that raced with an invalidation is not
// kept, so the cache never holds rules older than the last write.
type Cache struct {
	mu      sync.Mutex
	entries map[string]*Compiled
	gen     uint64 // bumped by every Invalidate
	max     int
}

// NewCache returns a cache of at most max users (max <= 0: 10,000).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = 10000
	}
	return &Cache{entries: make(map[string]*Compiled), max: max}
}

// Get returns userID's compiled rules, calling load (the user's effective
// ruleset) when they are not cached.
func (c *Cache) Get(ctx context.Context, userID string, load func(context.Context) (*Ruleset, error)) (*Compiled, error) {
	c.mu.Lock()
	if compiled, ok := c.entries[userID]; ok {
		c.mu.Unlock()
		return compiled, nil
	}
	gen := c.gen
	c.mu.Unlock()
	rs, err := load(ctx)
	if err != nil {
		return nil, err
	}
	compiled := Compile(rs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		if len(c.entries) >= c.max {
			for k := range c.entries { // evict one arbitrary user
				delete(c.entries, k)
				break
			}
		}
		c.entries[userID] = compiled
	}
	return compiled, nil
}

// Invalidate forgets userID's compiled rules.
func (c *Cache) Invalidate(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, userID)
	c.gen++
}
