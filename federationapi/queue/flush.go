package queue

import (
	"context"
	"time"
)

// flushPoll is how often Flush looks at a destination's queue.
const flushPoll = 5 * time.Millisecond

// Flush waits until every PDU this process has queued for dest is
// delivered, for at most limit, and reports whether the queue emptied. It
// returns false at once when dest is failing (backing off): a down server
// would only make the caller wait. Callers that are about to ask dest to
// judge one of our users by the room's state (a join through it) flush
// first, so that dest has seen our latest events — a leave sent a moment
// earlier, say — before it answers.
func (q *Queues) Flush(ctx context.Context, dest string, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(flushPoll)
	defer tick.Stop()
	for {
		pending, failing := q.pendingPDUs(dest)
		switch {
		case pending == 0:
			return true
		case failing:
			return false
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		case <-q.ctx.Done():
			return false
		}
	}
}

// pendingPDUs is how many PDUs are queued for dest in this process, and
// whether its last attempt failed.
func (q *Queues) pendingPDUs(dest string) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.dests[dest]
	if d == nil {
		return 0, false
	}
	return d.queued[kindPDU], d.failing
}
