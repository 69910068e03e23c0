package consumers

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi/api"
	"github.com/myelin-im/myelin/syncapi/internal"
)

// activityGroup is the presence tracker's consumer group on the output
// log: it reads only who sent what when, apart from the storing consumer,
// so a slow presence write never holds up the timeline.
const activityGroup = "syncapi-presence"

// StartPresenceInbound stores other servers' users' presence that the
// federation component received, waking the local users sharing a room
// with them. A failure to store is retried.
func StartPresenceInbound(ctx context.Context, b bus.Bus, p *internal.Presence, log logrus.FieldLogger) (bus.Subscription, error) {
	return b.Subscribe(ctx, api.PresenceInboundTopic, Group, func(ctx context.Context, msg *bus.Message) error {
		var u api.PresenceUpdate
		if err := json.Unmarshal(msg.Body, &u); err != nil {
			log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable presence update")
			return nil
		}
		return p.StoreRemote(ctx, u)
	})
}

// StartPresenceActivity counts each event a user sends as their activity
// (spec: "Last active ago": "A pro-active event may be sending a message
// to a room"). Events older than ActiveFor (a replay of the log after a
// restart) say nothing about now and are skipped.
func StartPresenceActivity(ctx context.Context, b bus.Bus, p *internal.Presence, log logrus.FieldLogger) (bus.Subscription, error) {
	return b.Subscribe(ctx, roomapi.OutputTopic, activityGroup, func(ctx context.Context, msg *bus.Message) error {
		var out struct {
			Event struct {
				Sender string `json:"sender"`
				TS     int64  `json:"origin_server_ts"`
			} `json:"event"`
		}
		if json.Unmarshal(msg.Body, &out) != nil || out.Event.Sender == "" {
			return nil
		}
		at := time.UnixMilli(out.Event.TS)
		if time.Since(at) > internal.ActiveFor {
			return nil
		}
		if err := p.Tracker.Active(ctx, out.Event.Sender, at); err != nil {
			log.WithError(err).WithField("user_id", out.Event.Sender).Warn("presence: storing activity failed")
		}
		return nil
	})
}
