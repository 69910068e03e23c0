package internal

import (
	"context"

	"github.com/myelin-im/myelin/userapi/api"
)

// Threepids implements api.PhoneNumbers.
func (u *UserAPI) Threepids(ctx context.Context, localpart api.Localpart) ([]api.Threepid, error) {
	return u.store.Threepids(ctx, localpart)
}

// ThreepidOwner implements api.PhoneNumbers.
func (u *UserAPI) ThreepidOwner(ctx context.Context, medium, address string) (api.Localpart, error) {
	return u.store.ThreepidOwner(ctx, medium, address)
}

// BindThreepid implements api.PhoneNumbers.
func (u *UserAPI) BindThreepid(ctx context.Context, localpart api.Localpart, medium, address string) error {
	return u.store.InsertThreepid(ctx, localpart, medium, address, u.nowMs())
}

// UnbindThreepid implements api.PhoneNumbers.
func (u *UserAPI) UnbindThreepid(ctx context.Context, localpart api.Localpart, medium, address string) error {
	return u.store.DeleteThreepid(ctx, localpart, medium, address)
}
