package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Other servers' users' device lists, cached (spec: server-server API,
// "Device Management"), and to-device messages from other servers.

var _ api.RemoteDevices = (*UserAPI)(nil)

// RemoteDeviceLists implements api.RemoteDevices.
func (u *UserAPI) RemoteDeviceLists(ctx context.Context, userIDs []string) (map[string]api.RemoteDeviceList, error) {
	return u.store.RemoteDeviceLists(ctx, userIDs)
}

// SetRemoteDeviceList implements api.RemoteDevices.
func (u *UserAPI) SetRemoteDeviceList(ctx context.Context, list api.RemoteDeviceList, announce bool) error {
	if _, ok := u.localpartOf(list.UserID); ok {
		return fmt.Errorf("userapi: %s is a local user, not cached", list.UserID)
	}
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.SetRemoteDeviceList(ctx, list); err != nil || !announce {
			return err
		}
		return u.deviceListChanged(ctx, list.UserID, "", false)
	})
}

// UpdateRemoteDevice implements api.RemoteDevices.
func (u *UserAPI) UpdateRemoteDevice(ctx context.Context, up api.RemoteDeviceUpdate) (bool, error) {
	if _, ok := u.localpartOf(up.UserID); ok {
		return false, fmt.Errorf("userapi: %s is a local user, not cached", up.UserID)
	}
	resync := false
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		list, ok, err := u.store.RemoteDeviceList(ctx, up.UserID)
		if err != nil {
			return err
		}
		switch {
		case !ok && len(up.PrevIDs) == 0:
			// Not cached and no earlier update: the user's server tells of
			// their devices as they join a room shared with this server
			// (or their first device). Local users learn of a new room
			// member from the membership itself; nothing to record.
			return nil
		case !ok:
			// Not cached: the next query asks the user's server.
		case list.Fresh && list.StreamID != 0 && slices.Contains(up.PrevIDs, list.StreamID):
			applyDeviceUpdate(&list, up)
			if err := u.store.SetRemoteDeviceList(ctx, list); err != nil {
				return err
			}
		case list.StreamID >= up.StreamID && list.Fresh:
			// An update the cached list already has (a repeat).
			return nil
		default:
			// Spec: a prev_id the server does not know means it missed an
			// update: the list is fetched again.
			resync = true
			if err := u.store.MarkRemoteStale(ctx, up.UserID); err != nil {
				return err
			}
		}
		return u.deviceListChanged(ctx, up.UserID, "", false)
	})
	return resync, err
}

// applyDeviceUpdate applies an update whose prev_id matched.
func applyDeviceUpdate(list *api.RemoteDeviceList, up api.RemoteDeviceUpdate) {
	if list.Devices == nil {
		list.Devices = map[string]json.RawMessage{}
	}
	list.StreamID = up.StreamID
	if up.Deleted {
		delete(list.Devices, up.DeviceID)
		return
	}
	keys := up.Keys
	if len(keys) == 0 || string(keys) == "null" {
		keys = list.Devices[up.DeviceID]
	}
	if len(keys) == 0 {
		// A device without keys yet: nothing to hand out, but known.
		keys, _ = json.Marshal(map[string]string{"user_id": up.UserID, "device_id": up.DeviceID})
	}
	if named, err := withDisplayName(keys, up.DisplayName); err == nil {
		keys = named
	}
	list.Devices[up.DeviceID] = keys
}

// MarkRemoteStale implements api.RemoteDevices.
func (u *UserAPI) MarkRemoteStale(ctx context.Context, userID string) error {
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.store.MarkRemoteStale(ctx, userID); err != nil {
			return err
		}
		return u.deviceListChanged(ctx, userID, "", false)
	})
}

// ReceiveToDevice implements api.RemoteDevices. The message ID is claimed
// in the table of local senders' transaction IDs, under the sender's full
// user ID (never a local localpart: those have no ':') and no device.
func (u *UserAPI) ReceiveToDevice(
	ctx context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage,
) error {
	if _, ok := u.localpartOf(sender); ok || !strings.Contains(sender, ":") {
		return fmt.Errorf("userapi: %q is not another server's user", sender)
	}
	local, _ := u.splitRecipients(messages)
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		fresh, err := u.store.ClaimToDeviceTxn(ctx, api.Localpart(sender), "", messageID, u.nowMs())
		if err != nil || !fresh {
			return err
		}
		for _, userID := range slices.Sorted(maps.Keys(local)) {
			row := storage.ToDeviceRow{Sender: sender, TxnID: messageID, Type: eventType}
			if err := u.storeForUser(ctx, userID, row, local[userID]); err != nil {
				return err
			}
		}
		return nil
	})
}
