package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// StartDeviceLists wakes the /sync of a user whose device list changed and
// of every user sharing a room with them, whose clients must query the
// user's keys again (spec: "Tracking the device list for a user"). Nothing
// is stored: /sync reads the device-list stream from the user API.
func StartDeviceLists(ctx context.Context, b bus.Bus, n *internal.Notifier, log logrus.FieldLogger) (bus.Subscription, error) {
	return b.Subscribe(ctx, userapi.DeviceListTopic, Group, func(_ context.Context, msg *bus.Message) error {
		var ch userapi.DeviceListChange
		if err := json.Unmarshal(msg.Body, &ch); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable device list change")
			return nil
		}
		n.OnDeviceListChange(ch.UserID, ch.Pos)
		return nil
	})
}
