package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/userapi/api"
)

var _ api.AppServiceDevices = (*UserAPI)(nil)

// CreateDevice implements api.AppServiceDevices.
func (u *UserAPI) CreateDevice(ctx context.Context, localpart api.Localpart, id api.DeviceID, displayName *string) (bool, error) {
	created := false
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		_, err := u.store.Device(ctx, localpart, id)
		if err == nil || !errors.Is(err, api.ErrNoSuchDevice) {
			return err
		}
		if err := u.store.UpsertDevice(ctx, localpart, id, displayName, u.nowMs(), "", ""); err != nil {
			return err
		}
		created = true
		return u.deviceListChanged(ctx, u.userID(localpart), id, false)
	})
	return created && err == nil, err
}
