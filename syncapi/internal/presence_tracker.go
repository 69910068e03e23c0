package internal

import (
	"context"
	"sync"
	"time"

	"github.com/myelin-im/myelin/syncapi/api"
)

// Presence timers (spec: "Idle timeout", "Last active ago"; the values are
// Synapse's, which clients are used to).
const (
	// IdleAfter: an online user with no activity for this long becomes
	// unavailable.
	IdleAfter = 5 * time.Minute
	// OfflineAfter: a user with no /sync in progress and none ended, nor
	// any activity, for this long becomes offline (a client between two
	// long-polls is still connected).
	OfflineAfter = 30 * time.Second
	// ActiveFor: currently_active stays true this long after the last
	// activity, so clients need no update for every message a user sends.
	ActiveFor = time.Minute
	// SweepInterval is how often the timers are checked.
	SweepInterval = 5 * time.Second
)

// PresenceState is what a local user's m.presence event says.
type PresenceState struct {
	Presence        string
	StatusMsg       *string
	LastActive      time.Time
	CurrentlyActive bool
}

// visiblyDiffers reports whether a client would see a change between a and
// b: last_active_ago alone is not one (it changes all the time).
func (a PresenceState) visiblyDiffers(b PresenceState) bool {
	if a.Presence != b.Presence || a.CurrentlyActive != b.CurrentlyActive || (a.StatusMsg == nil) != (b.StatusMsg == nil) {
		return true
	}
	return a.StatusMsg != nil && *a.StatusMsg != *b.StatusMsg
}

// PresenceWriter persists (and announces) a local user's new presence.
type PresenceWriter func(ctx context.Context, userID string, st PresenceState) error

// Why a user is unavailable: a client's /sync asked for it (a later
// online /sync undoes it), or the user or the idle timer set it (only
// activity undoes it).
const (
	unavailableBySync = iota + 1
	unavailableOther
)

// PresenceTracker decides local users' presence from what they do: /sync
// long-polls and WebSocket streams in progress, explicit settings, and
// activity; and from the timers (Sweep). It keeps in memory only users who
// are not offline or are syncing, and writes only changes a client would
// see, so a sync costs no write unless it brings a user online.
type PresenceTracker struct {
	now   func() time.Time
	write PresenceWriter
	mu    sync.Mutex
	users map[string]*tracked
}

// tracked is one user's state. wmu serialises the user's writes; each
// writes the latest decided state, so the last write is the latest.
type tracked struct {
	st       PresenceState
	why      int // when unavailable: unavailableBySync or unavailableOther
	syncing  int
	lastSync time.Time
	dirty    bool
	wmu      sync.Mutex
}

// NewPresenceTracker returns a tracker reading the time from now and
// persisting changes with write.
func NewPresenceTracker(now func() time.Time, write PresenceWriter) *PresenceTracker {
	return &PresenceTracker{now: now, write: write, users: map[string]*tracked{}}
}

// Load resumes users who were not offline (at start-up). They count as
// having just synced, so their clients have OfflineAfter to reconnect.
func (t *PresenceTracker) Load(states map[string]PresenceState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for id, st := range states {
		t.users[id] = &tracked{st: st, why: unavailableOther, lastSync: now}
	}
}

// userLocked returns the user's state, creating it (offline).
func (t *PresenceTracker) userLocked(userID string) *tracked {
	u := t.users[userID]
	if u == nil {
		u = &tracked{st: PresenceState{Presence: api.PresenceOffline}}
		t.users[userID] = u
	}
	return u
}

// change applies fn to the user's state under the lock and marks the
// user dirty when a client would see the difference.
func (t *PresenceTracker) change(u *tracked, fn func(st *PresenceState)) bool {
	before := u.st
	fn(&u.st)
	if u.st.visiblyDiffers(before) {
		u.dirty = true
	}
	return u.dirty
}

// Get returns a local user's presence as last decided, if known.
func (t *PresenceTracker) Get(userID string) (PresenceState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.users[userID]
	if !ok {
		return PresenceState{}, false
	}
	return u.st, true
}

// Set is an explicit setting (PUT /presence/{userId}/status): it counts as
// activity (spec: "the activity time is updated"). It returns once a
// visible change is stored.
func (t *PresenceTracker) Set(ctx context.Context, userID, presence string, statusMsg *string) error {
	t.mu.Lock()
	u := t.userLocked(userID)
	now := t.now()
	dirty := t.change(u, func(st *PresenceState) {
		st.Presence, st.StatusMsg, st.LastActive = presence, statusMsg, now
		st.CurrentlyActive = presence == api.PresenceOnline
	})
	u.why = unavailableOther
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	return t.flush(ctx, userID, u)
}

// Syncing records that a /sync or WebSocket stream of the user started,
// with its set_presence (spec: GET /sync): "online" or "" brings an offline
// user online (an idle one stays idle until activity, unless idle was a
// sync's doing), "unavailable" marks the user idle, "offline" neither
// marks nor keeps the user online. The returned function records its end.
// A write failure is returned with it: the sync goes on.
func (t *PresenceTracker) Syncing(ctx context.Context, userID, setPresence string) (done func(), err error) {
	if setPresence == api.PresenceOffline {
		return func() {}, nil
	}
	t.mu.Lock()
	u := t.userLocked(userID)
	now := t.now()
	u.syncing++
	u.lastSync = now
	dirty := t.change(u, func(st *PresenceState) {
		switch {
		case setPresence == api.PresenceUnavailable:
			st.Presence, st.CurrentlyActive = api.PresenceUnavailable, false
		case st.Presence == api.PresenceOffline, st.Presence == api.PresenceUnavailable && u.why == unavailableBySync:
			st.Presence, st.LastActive, st.CurrentlyActive = api.PresenceOnline, now, true
		}
	})
	if setPresence == api.PresenceUnavailable && u.st.Presence == api.PresenceUnavailable {
		u.why = unavailableBySync
	}
	t.mu.Unlock()
	done = func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		u.syncing--
		u.lastSync = t.now()
	}
	if dirty {
		err = t.flush(ctx, userID, u)
	}
	return done, err
}

// Active records activity of a local user at time at (sending an event):
// the last active time moves and an idle user comes back online (spec:
// "Idle timeout"). Users the tracker does not hold (offline, not syncing)
// are left alone.
func (t *PresenceTracker) Active(ctx context.Context, userID string, at time.Time) error {
	t.mu.Lock()
	u, ok := t.users[userID]
	if !ok || at.Before(u.st.LastActive) {
		t.mu.Unlock()
		return nil
	}
	dirty := t.change(u, func(st *PresenceState) {
		st.LastActive = at
		if st.Presence == api.PresenceUnavailable {
			st.Presence = api.PresenceOnline
		}
		st.CurrentlyActive = st.Presence == api.PresenceOnline && t.now().Sub(at) < ActiveFor
	})
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	return t.flush(ctx, userID, u)
}

// Sweep applies the timers: online users idle for IdleAfter become
// unavailable, currently_active ends ActiveFor after the last activity,
// and users with no sync in progress for OfflineAfter become offline. It
// writes the changes and forgets offline users who are not syncing. It
// returns the number of users written and the first write error.
func (t *PresenceTracker) Sweep(ctx context.Context) (int, error) {
	type pending struct {
		id string
		u  *tracked
	}
	var todo []pending
	t.mu.Lock()
	now := t.now()
	for id, u := range t.users {
		if t.expire(u, now) {
			todo = append(todo, pending{id, u})
		} else if u.st.Presence == api.PresenceOffline && u.syncing == 0 {
			delete(t.users, id)
		}
	}
	t.mu.Unlock()
	var first error
	for _, p := range todo {
		if err := t.flush(ctx, p.id, p.u); err != nil && first == nil {
			first = err
		}
	}
	return len(todo), first
}

// expire applies the timers to one user (under the lock) and reports
// whether the user needs a write.
func (t *PresenceTracker) expire(u *tracked, now time.Time) bool {
	return t.change(u, func(st *PresenceState) {
		lastSeen := u.lastSync
		if st.LastActive.After(lastSeen) {
			lastSeen = st.LastActive
		}
		switch {
		case st.Presence != api.PresenceOffline && u.syncing == 0 && now.Sub(lastSeen) > OfflineAfter:
			st.Presence = api.PresenceOffline
		case st.Presence == api.PresenceOnline && now.Sub(st.LastActive) > IdleAfter:
			st.Presence = api.PresenceUnavailable
			u.why = unavailableOther
		}
		if st.Presence != api.PresenceOnline || now.Sub(st.LastActive) > ActiveFor {
			st.CurrentlyActive = false
		}
	})
}

// flush writes the user's latest state if it has an unwritten visible
// change. On failure the change stays pending for the next sweep.
func (t *PresenceTracker) flush(ctx context.Context, userID string, u *tracked) error {
	u.wmu.Lock()
	defer u.wmu.Unlock()
	t.mu.Lock()
	st, dirty := u.st, u.dirty
	u.dirty = false
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := t.write(ctx, userID, st); err != nil {
		t.mu.Lock()
		u.dirty = true
		t.mu.Unlock()
		return err
	}
	return nil
}

// Len is the number of users held in memory.
func (t *PresenceTracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.users)
}
