package routing

import (
	"context"
	"fmt"
	"math"

	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
)

// Unread notification counts (spec: client-server API, "Receiving
// notifications"): a room's notification rows (written when each event
// was stored, by the user's push rules) after the user's read point.
//
// Read points (spec: "Receipts", threaded read receipts): an unthreaded
// m.read or m.read.private receipt reads everything up to its event; a
// "main" receipt the main timeline, a thread's receipt that thread.
// NOTSPEC: the user's own latest event in a room also reads everything up
// to it, as clients mark a room read when their user speaks in it.

// readPoints are where a user has read a room up to (stream positions).
type readPoints struct {
	all     int64            // everything up to here
	main    int64            // the main timeline up to here
	threads map[string]int64 // thread root → that thread up to here
}

// of is the read point of a thread ("" for the main timeline).
func (rp readPoints) of(thread string) int64 {
	t := rp.main
	if thread != "" {
		t = rp.threads[thread]
	}
	return max(rp.all, t)
}

// readPointsOf reads the user's read points in a room as of upto: their
// read receipts, and their own latest event.
func (rt *Routes) readPointsOf(ctx context.Context, userID, roomID string, upto int64) (readPoints, error) {
	own, err := rt.store.LastSentPos(ctx, roomID, userID, upto)
	if err != nil {
		return readPoints{}, err
	}
	receipts, err := rt.store.ReadPoints(ctx, roomID, userID)
	if err != nil {
		return readPoints{}, err
	}
	rp := readPoints{all: max(own, receipts[""]), main: receipts["main"], threads: receipts}
	return rp, nil
}

// roomCounts counts the user's unread notifications in a room, from the
// cache when it has them. The counts are the current ones, whatever
// position a response reaches (they may run ahead of its timeline by a
// message, never behind).
func (rt *Routes) roomCounts(ctx context.Context, userID, roomID string) (internal.Counts, error) {
	cached, gen := rt.counts.Get(userID, roomID)
	if cached != nil {
		return *cached, nil
	}
	c, err := rt.readCounts(ctx, userID, roomID, math.MaxInt64)
	if err != nil {
		return internal.Counts{}, err
	}
	rt.counts.Put(userID, roomID, gen, c)
	return c, nil
}

// readCounts counts the user's unread notifications in a room as of upto.
func (rt *Routes) readCounts(ctx context.Context, userID, roomID string, upto int64) (internal.Counts, error) {
	rp, err := rt.readPointsOf(ctx, userID, roomID, upto)
	if err != nil {
		return internal.Counts{}, err
	}
	rows, err := rt.store.NotificationCounts(ctx, userID, roomID, rp.all, upto)
	if err != nil {
		return internal.Counts{}, err
	}
	c := internal.Counts{Threads: map[string]storage.ThreadCounts{}}
	for _, row := range rows {
		if from := rp.of(row.ThreadID); from > rp.all {
			// Read further than the unthreaded point: count again.
			if row, err = rt.threadCounts(ctx, userID, roomID, row.ThreadID, from, upto); err != nil {
				return internal.Counts{}, err
			}
		}
		if row.ThreadID == "" {
			c.Main = row
		} else if row.Notifications > 0 {
			c.Threads[row.ThreadID] = row
		}
	}
	return c, nil
}

// threadCounts counts one thread's rows after a read point.
func (rt *Routes) threadCounts(ctx context.Context, userID, roomID, thread string, after, upto int64) (storage.ThreadCounts, error) {
	rows, err := rt.store.NotificationCounts(ctx, userID, roomID, after, upto)
	if err != nil {
		return storage.ThreadCounts{}, fmt.Errorf("counting thread %q: %w", thread, err)
	}
	for _, row := range rows {
		if row.ThreadID == thread {
			return row, nil
		}
	}
	return storage.ThreadCounts{ThreadID: thread}, nil
}

// countsJSON is the counts object of /sync.
func countsJSON(notifications, highlights int) map[string]int {
	return map[string]int{"highlight_count": highlights, "notification_count": notifications}
}

// UnreadTotal counts a user's unread notifications across the rooms they
// are joined to, from the cached counts where they are current.
func (rt *Routes) UnreadTotal(ctx context.Context, userID string) (int, error) {
	total := 0
	for roomID, m := range rt.notifier.RoomsOf(userID) {
		if m.Membership != "join" {
			continue
		}
		c, err := rt.roomCounts(ctx, userID, roomID)
		if err != nil {
			return 0, fmt.Errorf("room %s: %w", roomID, err)
		}
		n, _ := c.Total()
		total += n
	}
	return total, nil
}
