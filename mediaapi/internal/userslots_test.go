package internal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// TestUserSlots: a user holding every slot waits, then is refused; another
// user is not held up; a released slot is taken by a waiter; and a user's
// entry goes with its last request.
func TestUserSlots(t *testing.T) {
	ctx := context.Background()
	u := newUserSlots(2)
	take := func(user string, wait time.Duration) (func(), error) {
		t.Helper()
		return u.acquire(ctx, user, wait)
	}
	a1, err := take("alice", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := take("alice", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := take("alice", 20*time.Millisecond); !errors.Is(err, api.ErrTooManyPreviews) {
		t.Fatalf("third slot: %v, want ErrTooManyPreviews", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := u.acquire(cancelled, "alice", time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("a wait its request gave up: %v, want context.Canceled", err)
	}
	b, err := take("bob", 0)
	if err != nil {
		t.Fatalf("bob held up by alice: %v", err)
	}
	b()

	got := make(chan error, 1)
	go func() {
		release, err := take("alice", 10*time.Second)
		if err == nil {
			release()
		}
		got <- err
	}()
	a1()
	if err := <-got; err != nil {
		t.Fatalf("waiting for a released slot: %v", err)
	}

	a2()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.users) != 0 {
		t.Fatalf("entries left: %v", u.users)
	}
}
