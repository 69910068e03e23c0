package internal

import (
	"context"
	"errors"

	"github.com/myelin-im/myelin/userapi/api"
)

// Dehydrated devices (MSC3814). The device is an ordinary row of the
// user's devices, without access tokens, so that /keys/query lists its keys,
// /keys/claim hands out its one-time keys and to-device messages sent to
// "*" reach its inbox with no special case; userapi_dehydrated_devices marks
// which one it is and keeps its device_data. Deleting it in any way
// (DELETE /dehydrated_device, a new upload, /delete_devices, /logout/all,
// deactivation) deletes its keys and inbox with it.

var _ api.DehydratedDevices = (*UserAPI)(nil)

// SetDehydratedDevice implements api.DehydratedDevices. Everything happens in
// one transaction: keys that fail the upload checks leave the previous
// dehydrated device in place.
func (u *UserAPI) SetDehydratedDevice(ctx context.Context, localpart api.Localpart, up api.DehydratedDeviceUpload) error {
	now := u.nowMs()
	var revoked []string
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.LockDehydratedDevice(ctx, localpart); err != nil {
			return err
		}
		var err error
		if _, revoked, err = u.deleteDehydratedDevice(ctx, localpart); err != nil && !errors.Is(err, api.ErrNoDehydratedDevice) {
			return err
		}
		// An existing device of that ID would become the dehydrated one,
		// keeping its tokens and keys: refused.
		if _, err := u.store.Device(ctx, localpart, up.DeviceID); !errors.Is(err, api.ErrNoSuchDevice) {
			if err == nil {
				err = api.ErrDeviceIDInUse
			}
			return err
		}
		if err := u.store.UpsertDevice(ctx, localpart, up.DeviceID, up.DisplayName, now, "", ""); err != nil {
			return err
		}
		if err := u.store.SetDehydratedDevice(ctx, localpart, up.DeviceID, up.DeviceData); err != nil {
			return err
		}
		// A new device is a device-list change (spec: "Tracking the device
		// list for a user"), as for a login.
		if err := u.deviceListChanged(ctx, u.userID(localpart), up.DeviceID, false); err != nil {
			return err
		}
		_, err = u.UploadKeys(ctx, localpart, up.DeviceID, up.Keys)
		return err
	})
	if err != nil {
		return err
	}
	u.forgetTokens(ctx, revoked)
	return nil
}

// deleteDehydratedDevice deletes the user's dehydrated device, in ctx's
// transaction, and returns its ID and the hashes of the access tokens it
// had (none, unless someone logged in with its ID);
// api.ErrNoDehydratedDevice when there is none.
func (u *UserAPI) deleteDehydratedDevice(ctx context.Context, localpart api.Localpart) (api.DeviceID, []string, error) {
	old, err := u.store.DehydratedDevice(ctx, localpart)
	if err != nil {
		return "", nil, err
	}
	revoked, err := u.deleteDevices(ctx, localpart, []api.DeviceID{old.DeviceID}, "")
	return old.DeviceID, revoked, err
}

// DehydratedDevice implements api.DehydratedDevices.
func (u *UserAPI) DehydratedDevice(ctx context.Context, localpart api.Localpart) (*api.DehydratedDevice, error) {
	return u.store.DehydratedDevice(ctx, localpart)
}

// DeleteDehydratedDevice implements api.DehydratedDevices.
func (u *UserAPI) DeleteDehydratedDevice(ctx context.Context, localpart api.Localpart) (api.DeviceID, error) {
	var id api.DeviceID
	var revoked []string
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.LockDehydratedDevice(ctx, localpart); err != nil {
			return err
		}
		var err error
		id, revoked, err = u.deleteDehydratedDevice(ctx, localpart)
		return err
	})
	if err != nil {
		return "", err
	}
	u.forgetTokens(ctx, revoked)
	return id, nil
}

// DehydratedDeviceEvents implements api.DehydratedDevices. Unlike /sync,
// reading on acknowledges nothing (MSC3814: the server should not delete
// the messages of earlier batches, so that a rehydration that was cut off
// can be started again by another device).
func (u *UserAPI) DehydratedDeviceEvents(
	ctx context.Context, localpart api.Localpart, device api.DeviceID, since int64, limit int,
) ([]api.ToDeviceMessage, int64, error) {
	d, err := u.store.DehydratedDevice(ctx, localpart)
	if errors.Is(err, api.ErrNoDehydratedDevice) || err == nil && d.DeviceID != device {
		return nil, 0, api.ErrNotDehydratedDevice
	}
	if err != nil {
		return nil, 0, err
	}
	msgs, _, err := u.store.ToDeviceSince(ctx, localpart, device, since, limit)
	if err != nil {
		return nil, 0, err
	}
	next := since
	if len(msgs) > 0 {
		next = msgs[len(msgs)-1].Pos
	}
	return msgs, next, nil
}
