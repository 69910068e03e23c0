package internal

import (
	"sync"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// recentPerRoom is how many of each room's latest events stay in memory.
const recentPerRoom = 64

// Recent keeps each room's latest events in memory, so the /sync of every
// member woken by a new event reads it from here instead of each running the
// same query: the event is decoded and stored once for all its recipients.
type Recent struct {
	mu       sync.RWMutex
	rooms    map[string]*ring
	startPos int64
}

// ring holds a room's latest events in position order; every event of the
// room after floor is in evs.
type ring struct {
	floor int64
	evs   []*storage.Event
}

// NewRecent starts with no events in memory at stream position startPos:
// what came before is only in the database.
func NewRecent(startPos int64) *Recent {
	return &Recent{rooms: map[string]*ring{}, startPos: startPos}
}

// Add records a stored event (events of a room arrive in position order).
func (r *Recent) Add(e *storage.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rooms[e.RoomID]
	if rg == nil {
		// A room seen first now holds, from start-up on, all of its events;
		// one that begins with its create event holds all of them.
		rg = &ring{floor: r.startPos}
		if e.Type == "m.room.create" {
			rg.floor = 0
		}
		r.rooms[e.RoomID] = rg
	}
	rg.evs = append(rg.evs, e)
	if len(rg.evs) > recentPerRoom {
		drop := len(rg.evs) - recentPerRoom
		rg.floor = rg.evs[drop-1].Pos
		rg.evs = append(rg.evs[:0:0], rg.evs[drop:]...)
	}
}

// Forget drops a purged room's events.
func (r *Recent) Forget(roomID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rooms, roomID)
}

// Replace swaps the copy of an event (after a redaction).
func (r *Recent) Replace(roomID, eventID string, js []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rooms[roomID]
	if rg == nil {
		return
	}
	for i, e := range rg.evs {
		if e.ID == eventID {
			c := *e
			c.JSON = js
			rg.evs[i] = &c
		}
	}
}

// Events returns up to limit of the room's events with from < pos <= to,
// newest first, and ok=false when memory cannot answer for that range.
func (r *Recent) Events(roomID string, from, to int64, limit int) ([]*storage.Event, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rg := r.rooms[roomID]
	if rg == nil || from < rg.floor {
		return nil, false
	}
	var out []*storage.Event
	for i := len(rg.evs) - 1; i >= 0 && len(out) < limit; i-- {
		e := rg.evs[i]
		if e.Pos > to {
			continue
		}
		if e.Pos <= from {
			break
		}
		out = append(out, e)
	}
	return out, true
}
