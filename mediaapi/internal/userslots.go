package internal

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// userSlots bounds how many operations each user has running at once (URL
// previews being fetched). A user's entry lives while some request holds
// or waits for one of its slots.
type userSlots struct {
	per   int
	mu    sync.Mutex
	users map[string]*slots
}

// slots is one user's semaphore and how many requests hold or wait for it.
type slots struct {
	sem  chan struct{}
	refs int
}

func newUserSlots(per int) *userSlots {
	return &userSlots{per: per, users: map[string]*slots{}}
}

// acquire takes one of user's slots, a free one at once, else waiting up
// to wait for one to be released (then api.ErrTooManyPreviews). release
// gives it back.
func (u *userSlots) acquire(ctx context.Context, user string, wait time.Duration) (release func(), err error) {
	s := u.ref(user)
	release = func() {
		<-s.sem
		u.unref(user, s)
	}
	select {
	case s.sem <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return release, nil
	case <-t.C:
		u.unref(user, s)
		return nil, api.ErrTooManyPreviews
	case <-ctx.Done():
		u.unref(user, s)
		return nil, fmt.Errorf("media: waiting for a preview slot: %w", ctx.Err())
	}
}

// ref finds (or makes) user's slots and counts one more request on them.
func (u *userSlots) ref(user string) *slots {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.users[user]
	if s == nil {
		s = &slots{sem: make(chan struct{}, u.per)}
		u.users[user] = s
	}
	s.refs++
	return s
}

// unref counts a request off user's slots, forgetting them with the last.
func (u *userSlots) unref(user string, s *slots) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(u.users, user)
	}
}
