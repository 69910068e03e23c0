package routing

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

const (
	// backfillBatch is how many events one backfill request asks for.
	backfillBatch = 100
	// backfillRounds bounds the requests one /messages page makes.
	backfillRounds = 3
	// backfillWait bounds the time one /messages page waits for them.
	backfillWait = 20 * time.Second
	// backfillRetry is how long a room whose history ran out (nothing new
	// came back) is not asked about again from the same event.
	backfillRetry = time.Minute
)

// backfillState serialises backfills per room and remembers where history
// ran out.
type backfillState struct {
	mu      sync.Mutex
	rooms   map[string]*sync.Mutex
	dryFrom map[string]time.Time // oldest event ID -> when backfill from it gave nothing
}

func (rt *Routes) roomBackfillLock(roomID string) *sync.Mutex {
	rt.backfill.mu.Lock()
	defer rt.backfill.mu.Unlock()
	m := rt.backfill.rooms[roomID]
	if m == nil {
		m = &sync.Mutex{}
		rt.backfill.rooms[roomID] = m
	}
	return m
}

func (rt *Routes) dry(eventID string) bool {
	rt.backfill.mu.Lock()
	defer rt.backfill.mu.Unlock()
	t, ok := rt.backfill.dryFrom[eventID]
	if ok && time.Since(t) > backfillRetry {
		delete(rt.backfill.dryFrom, eventID)
		return false
	}
	return ok
}

func (rt *Routes) markDry(eventID string) {
	rt.backfill.mu.Lock()
	defer rt.backfill.mu.Unlock()
	rt.backfill.dryFrom[eventID] = time.Now()
}

// backfillHistory extends a room's timeline backwards from other servers
// until it has want more events than it had, reaches the room's creation,
// or they have no more (spec: client-server API, /messages: "the server
// may need to backfill"; server-server API, "Backfilling and retrieving
// missing events"). It reports whether any event was added; errors are
// logged, not returned: the page is served with what this server has.
func (rt *Routes) backfillHistory(ctx context.Context, roomID string, want int) bool {
	b := rt.backfiller
	if b == nil || want <= 0 {
		return false
	}
	lock := rt.roomBackfillLock(roomID)
	lock.Lock()
	defer lock.Unlock()
	ctx, cancel := context.WithTimeout(ctx, backfillWait)
	defer cancel()
	log := httputil.Logger(ctx).WithField("room_id", roomID)
	added := 0
	for round := 0; round < backfillRounds && added < want; round++ {
		oldest, err := rt.store.OldestEvent(ctx, roomID)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				log.WithError(err).Warn("backfill: reading the oldest event")
			}
			break
		}
		if oldest.Type == "m.room.create" || rt.dry(oldest.ID) {
			break
		}
		pdus, err := b.Backfill(ctx, roomID, []string{oldest.ID}, max(want-added, backfillBatch))
		if err != nil {
			log.WithError(err).Info("backfill: no server gave the room's history")
			break
		}
		evs := make([]*storage.Event, 0, len(pdus))
		for _, p := range slices.Backward(pdus) {
			e, err := internal.StorageEvent(p.EventID(), roomID, p.JSON())
			if err != nil {
				continue
			}
			evs = append(evs, e)
		}
		n, err := rt.store.InsertHistory(ctx, evs)
		if err != nil {
			log.WithError(err).Error("backfill: storing history")
			break
		}
		if n == 0 {
			rt.markDry(oldest.ID)
			break
		}
		added += n
	}
	return added > 0
}
