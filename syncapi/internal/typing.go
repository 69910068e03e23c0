package internal

import (
	"slices"
	"sync"
	"time"
)

// Typing notifications (spec: client-server API, "Typing Notifications")
// are kept in memory only: each room's typing users, each with a timer that
// ends their typing when no new notice comes first. A change bumps the
// typing stream position (the token's ty) and records it on the room, so a
// /sync sends a room's m.typing when it changed after its token.

// MaxTypingTimeout caps the timeout a client (or another server) asks for:
// a user is typing for at most this long unless told again. Clients resend
// every few seconds while typing; a minute bounds what a crashed client
// leaves behind.
const MaxTypingTimeout = 60 * time.Second

// DefaultTypingTimeout applies when a typing notice carries no timeout (an
// m.typing EDU has none: spec, server-server API, "Typing Notifications").
const DefaultTypingTimeout = 30 * time.Second

// Typing holds the rooms' typing users.
type Typing struct {
	mu    sync.Mutex
	pos   int64
	rooms map[string]*roomTyping
	// changed is told of every change, outside the lock (the notifier
	// wakes the room's members).
	changed func(roomID string)
}

type roomTyping struct {
	pos   int64             // the room's latest change
	users map[string]*typer // user ID → the end of their typing
}

// typer is one user's typing: the timer that ends it, and when.
type typer struct {
	timer *time.Timer
	until time.Time
}

// NewTyping starts the typing stream at start (the process's start time in
// unix milliseconds, so positions grow across restarts and a token from
// before one sees the rooms changed since). changed is called after each
// change with its room.
func NewTyping(start int64, changed func(roomID string)) *Typing {
	return &Typing{pos: start, rooms: map[string]*roomTyping{}, changed: changed}
}

// Set starts (typing, for timeout capped at MaxTypingTimeout) or stops a
// user's typing in a room. Starting again only renews the timer: the typing
// users are the same, so nothing changes for /sync.
func (t *Typing) Set(roomID, userID string, typing bool, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultTypingTimeout
	}
	timeout = min(timeout, MaxTypingTimeout)
	t.mu.Lock()
	r := t.rooms[roomID]
	if r == nil {
		r = &roomTyping{users: map[string]*typer{}}
		t.rooms[roomID] = r
	}
	cur, was := r.users[userID]
	if was {
		cur.timer.Stop()
		delete(r.users, userID)
	}
	if typing {
		ty := &typer{until: time.Now().Add(timeout)}
		ty.timer = time.AfterFunc(timeout, func() { t.expire(roomID, userID, ty) })
		r.users[userID] = ty
	}
	changed := was != typing
	if changed {
		t.pos++
		r.pos = t.pos
	}
	if len(r.users) == 0 && !changed {
		delete(t.rooms, roomID)
	}
	t.mu.Unlock()
	if changed && t.changed != nil {
		t.changed(roomID)
	}
}

// expire ends a user's typing when its timer fires, unless a newer notice
// replaced the timer.
func (t *Typing) expire(roomID, userID string, ty *typer) {
	t.mu.Lock()
	r := t.rooms[roomID]
	if r == nil || r.users[userID] != ty {
		t.mu.Unlock()
		return
	}
	delete(r.users, userID)
	t.pos++
	r.pos = t.pos
	t.mu.Unlock()
	if t.changed != nil {
		t.changed(roomID)
	}
}

// Pos is the typing stream's latest position.
func (t *Typing) Pos() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos
}

// Since returns a room's typing users, sorted, and whether they changed
// after position since (since < 0: whether anyone is typing).
func (t *Typing) Since(roomID string, since int64) ([]string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rooms[roomID]
	if r == nil {
		return nil, false
	}
	users := make([]string, 0, len(r.users))
	for u := range r.users {
		users = append(users, u)
	}
	slices.Sort(users)
	if since < 0 {
		return users, len(users) > 0
	}
	return users, r.pos > since
}

// WakeRoom wakes the joined members of a room (a change of its ephemeral
// events: typing, receipts), without moving the event stream.
func (n *Notifier) WakeRoom(roomID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for u := range n.members[roomID] {
		n.wakeLocked(u)
	}
}
