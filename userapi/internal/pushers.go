package internal

import (
	"context"
	"sync"
	"time"

	"github.com/myelin-im/myelin/userapi/api"
)

// Pushers implements api.Pushers.
func (u *UserAPI) Pushers(ctx context.Context, localpart api.Localpart) ([]api.Pusher, error) {
	return u.store.Pushers(ctx, localpart)
}

// SetPusher implements api.Pushers. The pushkey's timestamp is now: the
// push gateway's pushkey_ts is when the pushkey was last set.
func (u *UserAPI) SetPusher(ctx context.Context, p api.Pusher, appendIt bool) error {
	p.PushKeyTS = u.nowMs() / 1000
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		// Without append, a pushkey of an app reaches one user only
		// (spec: POST /pushers/set, "append").
		if !appendIt {
			if err := u.store.DeleteOtherUsersPushers(ctx, p.Localpart, p.AppID, p.PushKey); err != nil {
				return err
			}
		}
		u.holders.add(p.Localpart) // before the commit: an extra announcement at worst
		return u.store.UpsertPusher(ctx, p)
	})
}

// DeletePusher implements api.Pushers.
func (u *UserAPI) DeletePusher(ctx context.Context, localpart api.Localpart, appID, pushKey string) error {
	_, err := u.store.DeletePusher(ctx, localpart, appID, pushKey)
	return err
}

// PusherHoldersRefresh is how often the set of users with pushers is read
// again from the database (pushers set through another process, deleted
// ones gone).
const PusherHoldersRefresh = 30 * time.Second

// pusherHolders is the set of users who may have pushers, read from the
// database at first use and every PusherHoldersRefresh, added to when a
// pusher is set here.
type pusherHolders struct {
	mu       sync.Mutex
	set      map[api.Localpart]bool
	loadedAt time.Time
}

func (h *pusherHolders) add(l api.Localpart) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set != nil {
		h.set[l] = true
	}
}

// MayHavePushers implements api.PusherHolders. When the set cannot be
// read, every user may have pushers.
func (u *UserAPI) MayHavePushers(ctx context.Context, localpart api.Localpart) bool {
	h := &u.holders
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := (*u.clock.Load())(); h.set == nil || now.Sub(h.loadedAt) > PusherHoldersRefresh {
		ls, err := u.store.PusherLocalparts(ctx)
		if err != nil {
			u.log.WithError(err).Warn("reading the users with pushers")
			return true
		}
		set := make(map[api.Localpart]bool, len(ls))
		for _, l := range ls {
			set[l] = true
		}
		h.set, h.loadedAt = set, now
	}
	return h.set[localpart]
}
