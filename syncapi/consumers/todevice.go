package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// StartToDevice wakes the /sync of a device's user when a to-device message
// for the device is stored. Nothing is stored here: /sync reads the
// messages from the user API, which keeps them until the device
// acknowledges them, so a notice lost in a restart loses no message.
func StartToDevice(ctx context.Context, b bus.Bus, n *internal.Notifier, log logrus.FieldLogger) (bus.Subscription, error) {
	return b.Subscribe(ctx, userapi.ToDeviceTopic, Group, func(_ context.Context, msg *bus.Message) error {
		var no userapi.ToDeviceNotice
		if err := json.Unmarshal(msg.Body, &no); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable to-device notice")
			return nil
		}
		n.OnToDevice(no.UserID, no.DeviceID, no.Pos)
		return nil
	})
}
