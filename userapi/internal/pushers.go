package internal

import (
	"context"

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
		return u.store.UpsertPusher(ctx, p)
	})
}

// DeletePusher implements api.Pushers.
func (u *UserAPI) DeletePusher(ctx context.Context, localpart api.Localpart, appID, pushKey string) error {
	_, err := u.store.DeletePusher(ctx, localpart, appID, pushKey)
	return err
}
