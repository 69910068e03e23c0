package internal

import (
	"context"
	"sync"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Ignores caches, per local user, the users they ignore (spec: client-server
// API, "Ignoring Users", m.ignored_user_list), so that /sync, /messages and
// push evaluation filter events without reading account data each time.
// The account-data consumer calls Invalidate when the list changes; a read
// that raced with an invalidation is returned but not cached.
type Ignores struct {
	ad     userapi.AccountData
	server string

	mu   sync.Mutex
	sets map[string]map[string]bool // user ID -> ignored user IDs (nil: none)
	gen  map[string]uint64          // user ID -> invalidations so far
}

// NewIgnores reads the lists of server's users through ad.
func NewIgnores(ad userapi.AccountData, server string) *Ignores {
	return &Ignores{ad: ad, server: server, sets: map[string]map[string]bool{}, gen: map[string]uint64{}}
}

// Of returns the users userID ignores (nil when none, or when userID is not
// a local user). The map is shared: callers must not change it.
func (c *Ignores) Of(ctx context.Context, userID string) (map[string]bool, error) {
	c.mu.Lock()
	set, ok := c.sets[userID]
	gen := c.gen[userID]
	c.mu.Unlock()
	if ok {
		return set, nil
	}
	lp, local := userapi.LocalpartOf(userID, c.server)
	if !local {
		return nil, nil
	}
	set, err := userapi.IgnoredUsers(ctx, c.ad, lp)
	if err != nil {
		return nil, err
	}
	if len(set) == 0 {
		set = nil
	}
	c.mu.Lock()
	if c.gen[userID] == gen {
		c.sets[userID] = set
	}
	c.mu.Unlock()
	return set, nil
}

// Invalidate forgets userID's list: their m.ignored_user_list changed.
func (c *Ignores) Invalidate(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sets, userID)
	c.gen[userID]++
}

// Hides reports whether an event from sender must be hidden from a user
// ignoring the users in ignored: every event of an ignored user but state
// events (spec: "Ignoring Users": the user's events are not sent to the
// client; the room's state must stay correct, so state events still are).
func Hides(ignored map[string]bool, sender string, isState bool) bool {
	return !isState && ignored[sender]
}
