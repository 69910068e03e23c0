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
	// lastOf: user ID -> the newest event of theirs (sent, or changing
	// their membership) the stream stored.
	lastOf  sync.Map
	mu      sync.Mutex
	pos     int64
	members map[string]map[string]struct{} // room ID → joined users
	// userRooms holds every user's current membership of every room, and
	// roomLast each room's latest position since start-up (rooms without an
	// event since then answer startPos, an upper bound), so a /sync needs no
	// query to know where to look.
	userRooms map[string]map[string]Membership
	roomLast  map[string]int64
	startPos  int64
	// adPos is each user's latest account-data position, once known.
	adPos map[string]int64
	// inboxes holds, per device ("user\x00device"), what is known of its
	// to-device inbox.
	inboxes map[string]*inbox
	// waiters holds, per user, a channel closed at the user's next wake-up.
	waiters map[string]chan struct{}
	// wakes counts each user's wake-ups, so that a wake-up between a
	// /sync's look at its streams and its wait is not lost (WaitWoken).
	wakes map[string]uint64
	// advanced is closed (and replaced) whenever the position moves.
	advanced chan struct{}
	// dlPos is the device-list stream's latest position (userapi).
	dlPos int64
}

// Membership is a user's membership of a room and the position where it
// last changed.
type Membership struct {
	Membership string
	Pos        int64
}

// MemberRow is one user's current membership of one room, for loading.
type MemberRow struct {
	RoomID, UserID, Membership string
	Pos                        int64
}

// NewNotifier starts at position pos with every current membership.
func NewNotifier(pos int64, memberships []MemberRow) *Notifier {
	n := &Notifier{
		pos:       pos,
		startPos:  pos,
		members:   map[string]map[string]struct{}{},
		waiters:   map[string]chan struct{}{},
		wakes:     map[string]uint64{},
		advanced:  make(chan struct{}),
		userRooms: map[string]map[string]Membership{},
		roomLast:  map[string]int64{},
		adPos:     map[string]int64{},
		inboxes:   map[string]*inbox{},
	}
	for _, m := range memberships {
		n.setMembershipLocked(m.RoomID, m.UserID, m.Membership, m.Pos)
	}
	return n
}

func (n *Notifier) setMembershipLocked(roomID, userID, membership string, pos int64) {
	rooms := n.userRooms[userID]
	if rooms == nil {
		rooms = map[string]Membership{}
		n.userRooms[userID] = rooms
	}
	rooms[roomID] = Membership{Membership: membership, Pos: pos}
	set := n.members[roomID]
	if membership == "join" {
		if set == nil {
			set = map[string]struct{}{}
			n.members[roomID] = set
		}
		set[userID] = struct{}{}
	} else if set != nil {
		delete(set, userID)
	}
}

// MembershipOf returns the user's current membership of one room.
func (n *Notifier) MembershipOf(userID, roomID string) (Membership, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m, ok := n.userRooms[userID][roomID]
	return m, ok
}

// RoomsOf returns a copy of the user's current memberships.
func (n *Notifier) RoomsOf(userID string) map[string]Membership {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]Membership, len(n.userRooms[userID]))
	for r, m := range n.userRooms[userID] {
		out[r] = m
	}
	return out
}

// RoomLast returns the latest stream position of a room, or the start-up
// position (an upper bound) when the room has had no event since.
func (n *Notifier) RoomLast(roomID string) int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.roomLast[roomID]; ok {
		return p
	}
	return n.startPos
}

// AccountDataPos returns the user's latest account-data position, when
// known.
func (n *Notifier) AccountDataPos(userID string) (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.adPos[userID]
	return p, ok
}

// SetAccountDataPos records the user's latest account-data position (it
// never moves back).
func (n *Notifier) SetAccountDataPos(userID string, pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if pos > n.adPos[userID] {
		n.adPos[userID] = pos
	} else if _, ok := n.adPos[userID]; !ok {
		n.adPos[userID] = pos
	}
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
	if pos > n.roomLast[roomID] {
		n.roomLast[roomID] = pos
	}
	close(n.advanced)
	n.advanced = make(chan struct{})
	if target != "" {
		n.setMembershipLocked(roomID, target, membership, pos)
		n.wakeLocked(target)
	}
	for u := range n.members[roomID] {
		n.wakeLocked(u)
	}
}

// NoteUserEvent records eventID, just stored, as the newest event of
// userID in the stream (HasUserEvent).
func (n *Notifier) NoteUserEvent(userID, eventID string) {
	n.lastOf.Store(userID, eventID)
}

// HasUserEvent reports whether eventID is the newest event of userID the
// stream has stored (a cheap check before asking the database).
func (n *Notifier) HasUserEvent(userID, eventID string) bool {
	v, ok := n.lastOf.Load(userID)
	return ok && v.(string) == eventID
}

// OnOutlierMember records a membership from the state a join through
// another server brought (below the timeline), unless the user's
// membership of the room is known already (from a later event). It wakes
// no one: the join that follows does.
func (n *Notifier) OnOutlierMember(roomID string, pos int64, userID, membership string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.userRooms[userID][roomID]; ok {
		return
	}
	n.setMembershipLocked(roomID, userID, membership, pos)
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
	n.wakes[userID]++
	if ch, ok := n.waiters[userID]; ok {
		close(ch)
		delete(n.waiters, userID)
	}
}

// Wakes is the number of times the user has been woken; a caller reads it
// before looking at the user's streams and passes it to WaitWoken.
func (n *Notifier) Wakes(userID string) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.wakes[userID]
}

// Wait blocks until the user is woken after position since, or ctx ends.
// It returns at once when something newer than since may already concern
// the user (the caller checks).
func (n *Notifier) Wait(ctx context.Context, userID string, since int64) {
	n.wait(ctx, userID, since, func(uint64) bool { return false })
}

// WaitWoken is Wait that also returns at once when the user has been woken
// since Wakes returned wakes: per-user streams (account data, to-device
// messages, device lists) wake a user without moving the event position,
// and such a wake-up may come before the caller starts waiting.
func (n *Notifier) WaitWoken(ctx context.Context, userID string, since int64, wakes uint64) {
	n.wait(ctx, userID, since, func(now uint64) bool { return now != wakes })
}

// wait blocks as Wait does; woken says, under the lock, whether the user's
// wake count shows a wake-up the caller has not yet seen.
func (n *Notifier) wait(ctx context.Context, userID string, since int64, woken func(uint64) bool) {
	n.mu.Lock()
	if n.pos > since || woken(n.wakes[userID]) {
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

// WaitAdvance blocks until the position moves past since, or ctx ends.
func (n *Notifier) WaitAdvance(ctx context.Context, since int64) {
	n.mu.Lock()
	if n.pos > since {
		n.mu.Unlock()
		return
	}
	ch := n.advanced
	n.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Peers is the set of users who share a joined room with userID, userID
// included: the users whose clients track userID's devices (spec: "Tracking
// the device list for a user").
func (n *Notifier) Peers(userID string) map[string]struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.peersLocked(userID)
}

func (n *Notifier) peersLocked(userID string) map[string]struct{} {
	out := map[string]struct{}{userID: {}}
	for roomID, m := range n.userRooms[userID] {
		if m.Membership != "join" {
			continue
		}
		for u := range n.members[roomID] {
			out[u] = struct{}{}
		}
	}
	return out
}

// OnDeviceListChange records the device-list stream's position pos (it
// never moves back) and wakes userID and every user sharing a room with
// them.
func (n *Notifier) OnDeviceListChange(userID string, pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dlPos = max(n.dlPos, pos)
	for u := range n.peersLocked(userID) {
		n.wakeLocked(u)
	}
}

// DeviceListPos is the latest device-list stream position seen.
func (n *Notifier) DeviceListPos() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dlPos
}

// SetDeviceListPos starts the device-list position at start-up.
func (n *Notifier) SetDeviceListPos(pos int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dlPos = max(n.dlPos, pos)
}

// JoinedMembers lists the users joined to a room.
func (n *Notifier) JoinedMembers(roomID string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.members[roomID]))
	for u := range n.members[roomID] {
		out = append(out, u)
	}
	return out
}
