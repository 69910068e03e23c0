package internal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

var _ api.ToDevice = (*UserAPI)(nil)

// SendToDevice implements api.ToDevice. The messages, their transaction ID
// and their bus notices are written in one transaction: the sender's 200
// means every local recipient will get them, and a retry finds the
// transaction ID taken (spec: "Transaction identifiers").
func (u *UserAPI) SendToDevice(
	ctx context.Context, sender string, senderDevice api.DeviceID, txnID, eventType string,
	messages map[string]map[string]json.RawMessage,
) (api.RemoteToDevice, error) {
	senderLocal, ok := u.localpartOf(sender)
	if !ok {
		return nil, fmt.Errorf("userapi: to-device sender %q is not a local user", sender)
	}
	local, remote := u.splitRecipients(messages)
	fresh := false
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if fresh, err = u.store.ClaimToDeviceTxn(ctx, senderLocal, senderDevice, txnID, u.nowMs()); err != nil || !fresh {
			return err
		}
		for _, userID := range slices.Sorted(maps.Keys(local)) {
			row := storage.ToDeviceRow{Sender: sender, SenderDevice: senderDevice, TxnID: txnID, Type: eventType}
			if err := u.storeForUser(ctx, userID, row, local[userID]); err != nil {
				return err
			}
		}
		return u.publishRemote(ctx, sender, eventType, remote)
	})
	if err != nil || !fresh {
		return nil, err
	}
	return remote, nil
}

// storeForUser stores row's message for the devices of one local user that
// byDevice names (api.AllDevices: all of them) and announces each. Devices
// the user does not have get nothing: no one could ever collect it.
func (u *UserAPI) storeForUser(ctx context.Context, userID string, row storage.ToDeviceRow, byDevice map[string]json.RawMessage) error {
	localpart, _ := u.localpartOf(userID)
	devices, err := u.store.Devices(ctx, localpart)
	if err != nil {
		return err
	}
	row.Localpart = localpart
	all, toAll := byDevice[api.AllDevices]
	for _, d := range devices {
		content, ok := byDevice[string(d.ID)]
		if toAll {
			content, ok = all, true
		}
		if !ok {
			continue
		}
		row.DeviceID, row.Content = d.ID, content
		pos, err := u.store.InsertToDevice(ctx, row)
		if err != nil {
			return err
		}
		if err := u.announceToDevice(ctx, userID, d.ID, pos); err != nil {
			return err
		}
	}
	return nil
}

// announceToDevice publishes the ToDeviceTopic notice of a message stored
// in ctx's transaction: it is delivered if and only if that commits.
func (u *UserAPI) announceToDevice(ctx context.Context, userID string, device api.DeviceID, pos int64) error {
	if u.bus == nil {
		return nil
	}
	body, err := json.Marshal(api.ToDeviceNotice{UserID: userID, DeviceID: string(device), Pos: pos})
	if err != nil {
		return err
	}
	return u.bus.Publish(ctx, api.ToDeviceTopic, userID, body, nil)
}

// publishRemote hands the messages for other servers' users to the
// federation component, one bus message per server, in ctx's transaction
// (spec: server-server API, "Send-to-device messaging").
func (u *UserAPI) publishRemote(ctx context.Context, sender, eventType string, remote api.RemoteToDevice) error {
	if u.bus == nil {
		return nil
	}
	for _, server := range slices.Sorted(maps.Keys(remote)) {
		var id [12]byte
		if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		body, err := json.Marshal(api.RemoteToDeviceSend{
			Server: server, Sender: sender, Type: eventType, MessageID: hex.EncodeToString(id[:]), Messages: remote[server],
		})
		if err != nil {
			return err
		}
		if err := u.bus.Publish(ctx, api.ToDeviceRemoteTopic, server, body, nil); err != nil {
			return err
		}
	}
	return nil
}

// splitRecipients separates this server's users from other servers',
// grouping the latter by server name.
func (u *UserAPI) splitRecipients(
	messages map[string]map[string]json.RawMessage,
) (map[string]map[string]json.RawMessage, api.RemoteToDevice) {
	local := map[string]map[string]json.RawMessage{}
	var remote api.RemoteToDevice
	for userID, byDevice := range messages {
		if _, ok := u.localpartOf(userID); ok {
			local[userID] = byDevice
			continue
		}
		_, server, _ := strings.Cut(userID, ":")
		if remote == nil {
			remote = api.RemoteToDevice{}
		}
		if remote[server] == nil {
			remote[server] = map[string]map[string]json.RawMessage{}
		}
		remote[server][userID] = byDevice
	}
	return local, remote
}

// ToDeviceSince implements api.ToDevice.
func (u *UserAPI) ToDeviceSince(
	ctx context.Context, localpart api.Localpart, device api.DeviceID, since int64, limit int,
) ([]api.ToDeviceMessage, int64, error) {
	return u.store.ToDeviceSince(ctx, localpart, device, since, limit)
}

// AckToDevice implements api.ToDevice.
func (u *UserAPI) AckToDevice(ctx context.Context, localpart api.Localpart, device api.DeviceID, upTo int64) error {
	return u.store.AckToDevice(ctx, localpart, device, upTo)
}
