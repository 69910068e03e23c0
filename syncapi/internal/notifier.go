// Package internal holds the sync component's in-memory machinery: the
// notifier that wakes the /sync long-polls and WebSocket streams of exactly
// the users an event concerns.
package internal

import (
	"context"
	"sync"
)

// Notifier knows the latest stream position and which users are in which
// room, and wakes the waiters of the users an event concerns. Nothing polls
// the database: a waiting /sync sleeps on a channel until its user is woken
// or its timeout ends.
type Notifier struct {
	mu      sync.Mutex
	pos     int64
	members map[string]map[string]struct{} // room ID → joined users
	// waiters holds, per user, a channel closed at the user's next wake-up.
	waiters map[string]chan struct{}
}

// NewNotifier starts at position pos with the given joined members.
func NewNotifier(pos int64, joined map[string][]string) *Notifier {
	n := &Notifier{pos: pos, members: map[string]map[string]struct{}{}, waiters: map[string]chan struct{}{}}
	for room, users := range joined {
		set := make(map[string]struct{}, len(users))
		for _, u := range users {
			set[u] = struct{}{}
		}
		n.members[room] = set
	}
	return n
}

// Pos is the latest stream position whose event is stored.
func (n *Notifier) Pos() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pos
}

// OnEvent records a stored event at pos in roomID. When the event is a
// membership change of target, it updates the room's members first, so a
// user who was just invited or who just left is woken too.
func (n *Notifier) OnEvent(roomID string, pos int64, target, membership string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.pos {
		n.pos = pos
	}
	set := n.members[roomID]
	if target != "" {
		if membership == "join" {
			if set == nil {
				set = map[string]struct{}{}
				n.members[roomID] = set
			}
			set[target] = struct{}{}
		} else if set != nil {
			delete(set, target)
		}
		n.wakeLocked(target)
	}
	for u := range set {
		n.wakeLocked(u)
	}
}

// WakeUser wakes one user's waiters (account data and other per-user
// streams).
func (n *Notifier) WakeUser(userID string, pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.pos {
		n.pos = pos
	}
	n.wakeLocked(userID)
}

func (n *Notifier) wakeLocked(userID string) {
	if ch, ok := n.waiters[userID]; ok {
		close(ch)
		delete(n.waiters, userID)
	}
}

// Wait blocks until the user is woken after position since, or ctx ends.
// It returns at once when something newer than since may already concern
// the user (the caller checks).
func (n *Notifier) Wait(ctx context.Context, userID string, since int64) {
	n.mu.Lock()
	if n.pos > since {
		n.mu.Unlock()
		return
	}
	ch, ok := n.waiters[userID]
	if !ok {
		ch = make(chan struct{})
		n.waiters[userID] = ch
	}
	n.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Watch returns a channel closed at the user's next wake-up, for callers
// that wait on several things (WebSocket streams).
func (n *Notifier) Watch(userID string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.waiters[userID]
	if !ok {
		ch = make(chan struct{})
		n.waiters[userID] = ch
	}
	return ch
}
