package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// The user API's notices wake /sync; nothing is stored here: /sync reads
// account data, to-device messages and the device-list stream from the
// user API itself, so a notice lost in a restart loses nothing.

// onNotice subscribes to one of the user API's notice topics, decoding
// each body as T and handing it to wake; an unreadable body is logged and
// skipped (redelivering it would not make it readable).
func onNotice[T any](ctx context.Context, b bus.Bus, topic, what string, log logrus.FieldLogger, wake func(T)) (bus.Subscription, error) {
	return b.Subscribe(ctx, topic, Group, func(_ context.Context, msg *bus.Message) error {
		var body T
		if err := json.Unmarshal(msg.Body, &body); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable " + what)
			return nil
		}
		wake(body)
		return nil
	})
}

// StartAccountData wakes a user's /sync when their account data changes,
// after forgetting their cached ignore list when that is what changed (spec:
// "Ignoring Users": the sync API for all clients should immediately start
// ignoring, or un-ignoring, the user).
func StartAccountData(
	ctx context.Context, b bus.Bus, n *internal.Notifier, ignores *internal.Ignores, log logrus.FieldLogger,
) (bus.Subscription, error) {
	return onNotice(ctx, b, userapi.AccountDataTopic, "account data change", log, func(ch userapi.AccountDataChange) {
		if ch.RoomID == "" && ch.Type == userapi.IgnoredUserListType {
			ignores.Invalidate(ch.UserID)
		}
		n.SetAccountDataPos(ch.UserID, ch.Pos)
		n.WakeUser(ch.UserID, 0)
	})
}

// StartToDevice wakes the /sync of a device's user when a to-device message
// for the device is stored; the user API keeps it until the device
// acknowledges it.
func StartToDevice(ctx context.Context, b bus.Bus, n *internal.Notifier, log logrus.FieldLogger) (bus.Subscription, error) {
	return onNotice(ctx, b, userapi.ToDeviceTopic, "to-device notice", log, func(no userapi.ToDeviceNotice) {
		n.OnToDevice(no.UserID, no.DeviceID, no.Pos)
	})
}

// StartDeviceLists wakes the /sync of a user whose device list changed and
// of every user sharing a room with them, whose clients must query the
// user's keys again (spec: "Tracking the device list for a user").
func StartDeviceLists(ctx context.Context, b bus.Bus, n *internal.Notifier, log logrus.FieldLogger) (bus.Subscription, error) {
	return onNotice(ctx, b, userapi.DeviceListTopic, "device list change", log, func(ch userapi.DeviceListChange) {
		n.OnDeviceListChange(ch.UserID, ch.Pos)
	})
}
