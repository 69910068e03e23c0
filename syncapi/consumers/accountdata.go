package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/syncapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// StartAccountData wakes a user's /sync when their account data changes.
// Nothing is stored: /sync reads account data from the user API.
func StartAccountData(ctx context.Context, b bus.Bus, n *internal.Notifier, log logrus.FieldLogger) (bus.Subscription, error) {
	return b.Subscribe(ctx, userapi.AccountDataTopic, Group, func(_ context.Context, msg *bus.Message) error {
		var ch userapi.AccountDataChange
		if err := json.Unmarshal(msg.Body, &ch); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable account data change")
			return nil
		}
		n.SetAccountDataPos(ch.UserID, ch.Pos)
		n.WakeUser(ch.UserID, 0)
		return nil
	})
}
