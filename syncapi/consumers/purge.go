package consumers

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// decodePurge reads an output log entry naming purged events; nil for any
// other entry.
func (c *RoomserverConsumer) decodePurge(msg *bus.Message) *roomapi.OutputPurgedEvents {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(msg.Body, &head) != nil || head.Type != roomapi.OutputTypePurgedEvents {
		return nil
	}
	var out roomapi.OutputPurgedEvents
	if err := json.Unmarshal(msg.Body, &out); err != nil {
		c.log.WithError(err).WithField("msg_id", msg.ID).Error("unreadable purge on the output log")
		return nil
	}
	return &out
}

// applyPurge removes purged events from the timeline, search and memory
// (docs/decisions.md, "Message retention"): no endpoint serves them after
// this. It is idempotent, so a redelivery is harmless.
func (c *RoomserverConsumer) applyPurge(ctx context.Context, out *roomapi.OutputPurgedEvents) error {
	removed, err := c.store.PurgeEvents(ctx, out.RoomID, out.EventIDs)
	if err != nil {
		return err
	}
	c.recent.Remove(out.RoomID, removed)
	c.log.WithFields(logrus.Fields{"room_id": out.RoomID, "purged": len(removed)}).Info("purged events removed")
	return nil
}
