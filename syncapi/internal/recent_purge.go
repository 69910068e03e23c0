package internal

import (
	"slices"

	"github.com/myelin-im/myelin/syncapi/storage"
)

// Remove drops purged events from a room's events in memory. The room's
// floor stays: every event after it that still exists is still there.
func (r *Recent) Remove(roomID string, eventIDs []string) {
	if len(eventIDs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rooms[roomID]
	if rg == nil {
		return
	}
	gone := make(map[string]bool, len(eventIDs))
	for _, id := range eventIDs {
		gone[id] = true
	}
	// A copy, so that slices already handed to readers stay as they were.
	evs := slices.Clone(rg.evs)
	rg.evs = slices.DeleteFunc(evs, func(e *storage.Event) bool { return gone[e.ID] })
}
