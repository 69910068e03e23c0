package appservice

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/bus"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// ToDeviceStore is what the to-device sender reads of the user API: the
// stored messages the bus's notices point at, and their deletion once a
// service has them.
type ToDeviceStore interface {
	ToDeviceSince(ctx context.Context, localpart userapi.Localpart, device userapi.DeviceID, since int64, limit int) (
		[]userapi.ToDeviceMessage, int64, error)
	AckToDevice(ctx context.Context, localpart userapi.Localpart, device userapi.DeviceID, upTo int64) error
}

// startToDevice subscribes the to-device sender of a service: the
// send-to-device messages for the devices of the users of its namespaces
// (MSC4203, split off MSC2409), through a consumer group of its own on the
// user API's to-device topic, keyed by recipient, so each user's messages
// arrive in order. Bridges read them only when they asked for ephemeral
// events (as Synapse sends them), so that is the opt-in.
func (s *sender) startToDevice(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	sub, err := b.SubscribeBatch(ctx, userapi.ToDeviceTopic, GroupName(s.as.ID)+"_to_device", s.handleToDevice)
	if err != nil {
		return nil, fmt.Errorf("appservice %s: subscribing its to-device messages: %w", s.as.ID, err)
	}
	return sub, nil
}

// toDeviceEvent is one to-device message in a transaction: the /sync
// format plus its recipient (MSC4203).
type toDeviceEvent struct {
	Type       string          `json:"type"`
	Sender     string          `json:"sender"`
	Content    json.RawMessage `json:"content"`
	ToUserID   string          `json:"to_user_id"`
	ToDeviceID string          `json:"to_device_id"`
}

// deviceKey names one device of one user.
type deviceKey struct {
	localpart userapi.Localpart
	device    userapi.DeviceID
}

func (s *sender) handleToDevice(ctx context.Context, msgs []*bus.Message) error {
	var events []toDeviceEvent
	delivered := map[deviceKey]int64{} // highest position pushed, for exclusive users
	for _, m := range msgs {
		if m.Published.Before(s.since) {
			continue
		}
		var n userapi.ToDeviceNotice
		if err := json.Unmarshal(m.Body, &n); err != nil || !s.ownsLocal(n.UserID) {
			continue
		}
		ev, ok, err := s.toDeviceMessage(ctx, n)
		if err != nil {
			return err
		}
		if !ok {
			continue // gone: delivered before a restart, or its device deleted
		}
		events = append(events, ev)
		if s.exclusivelyOwns(n.UserID) {
			k := deviceKey{userapi.Localpart(s.reg.Localpart(n.UserID)), userapi.DeviceID(n.DeviceID)}
			delivered[k] = max(delivered[k], n.Pos)
		}
	}
	if len(events) == 0 {
		return nil
	}
	body := map[string]any{"events": []any{}, "to_device": events}
	if s.as.MSC2409PushEphemeral || s.as.PushEphemeral {
		body["de.sorunome.msc2409.to_device"] = events
	}
	if err := s.pushBody(ctx, "d"+transactionID(msgs)[1:], body); err != nil {
		return err
	}
	return s.forgetDelivered(ctx, delivered)
}

// exclusivelyOwns reports whether userID is the service's alone: its
// sender or in one of its exclusive user namespaces.
func (s *sender) exclusivelyOwns(userID string) bool {
	return userID == s.as.SenderUserID(s.reg.ServerName()) || s.as.ExclusiveUser(userID)
}

// toDeviceMessage reads the message a notice announces; false when it is
// no longer stored.
func (s *sender) toDeviceMessage(ctx context.Context, n userapi.ToDeviceNotice) (toDeviceEvent, bool, error) {
	local := userapi.Localpart(s.reg.Localpart(n.UserID))
	msgs, _, err := s.toDevice.ToDeviceSince(ctx, local, userapi.DeviceID(n.DeviceID), n.Pos-1, 1)
	if err != nil {
		return toDeviceEvent{}, false, fmt.Errorf("appservice %s: reading a to-device message: %w", s.as.ID, err)
	}
	if len(msgs) == 0 || msgs[0].Pos != n.Pos {
		return toDeviceEvent{}, false, nil
	}
	return toDeviceEvent{Type: msgs[0].Type, Sender: msgs[0].Sender, Content: msgs[0].Content,
		ToUserID: n.UserID, ToDeviceID: n.DeviceID}, true, nil
}

// forgetDelivered deletes the messages the service now has for the users
// of its exclusive namespaces: no one else reads those devices, so they
// would pile up (MSC4203's suggestion). Users of a non-exclusive namespace
// may sync their devices themselves, which then deletes them.
func (s *sender) forgetDelivered(ctx context.Context, delivered map[deviceKey]int64) error {
	for k, pos := range delivered {
		if err := s.toDevice.AckToDevice(ctx, k.localpart, k.device, pos); err != nil {
			return fmt.Errorf("appservice %s: deleting delivered to-device messages: %w", s.as.ID, err)
		}
	}
	return nil
}
