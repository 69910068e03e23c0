package internal

import (
	"context"
	"testing"
	"time"
)

// TestWaitWokenKeepsEarlyWakeUps: a wake-up that comes after a /sync read
// the wake count (and looked at its streams) but before it waits must end
// the wait at once; one that came before the count was read must not.
func TestWaitWokenKeepsEarlyWakeUps(t *testing.T) {
	n := NewNotifier(10, nil)
	const user = "@alice:example.org"
	n.WakeUser(user, 0) // before the count is read: already seen
	seen := n.Wakes(user)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	n.WaitWoken(ctx, user, 10, seen)
	if ctx.Err() == nil {
		t.Error("WaitWoken returned before its timeout with no new wake-up")
	}
	cancel()

	n.WakeUser(user, 0) // between the look and the wait
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.WaitWoken(ctx, user, 10, seen)
	if ctx.Err() != nil {
		t.Error("a wake-up before the wait was lost: WaitWoken waited for its timeout")
	}
	if n.Wakes("@bob:example.org") != 0 {
		t.Error("another user's wake count moved")
	}
}
