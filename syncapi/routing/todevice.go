package routing

import (
	"context"
	"encoding/json"
	"fmt"

	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxToDeviceEvents bounds the to-device messages of one response (spec:
// "Send-to-Device messaging", server behaviour: 100 is recommended).
const maxToDeviceEvents = 100

// toDeviceEvent is a to-device message as /sync lists it (spec: "Extensions
// to /sync", Event).
type toDeviceEvent struct {
	Sender  string          `json:"sender"`
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// ackToDevice deletes the device's to-device messages up to the token's
// position: a sync with a token says the device received what came before
// it (spec: "Send-to-Device messaging", server behaviour). A token from
// the future (a wiped database) acknowledges nothing, and positions known
// to be deleted already cost no write.
func (rt *Routes) ackToDevice(ctx context.Context, dev *userapi.Device, tok syncToken) error {
	if tok.td <= 0 || tok.pos > rt.notifier.Pos() || rt.notifier.ToDeviceAcked(dev.UserID, string(dev.ID), tok.td) {
		return nil
	}
	if err := rt.users.AckToDevice(ctx, dev.Localpart, dev.ID, tok.td); err != nil {
		return fmt.Errorf("acknowledging to-device messages: %w", err)
	}
	rt.notifier.SetToDeviceAcked(dev.UserID, string(dev.ID), tok.td)
	return nil
}

// addToDevice puts the device's to-device messages after the token in the
// response, oldest first and at most maxToDeviceEvents of them. It returns
// the position for the next token (the last message given) and whether it
// added any.
func (rt *Routes) addToDevice(ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken) (int64, bool, error) {
	msgs, next, err := rt.toDeviceSince(ctx, dev, tok)
	if err != nil {
		return 0, false, err
	}
	for _, m := range msgs {
		ev, err := json.Marshal(toDeviceEvent{Sender: m.Sender, Type: m.Type, Content: m.Content})
		if err != nil {
			return 0, false, fmt.Errorf("encode a message at %d: %w", m.Pos, err)
		}
		resp.ToDevice.Events = append(resp.ToDevice.Events, ev)
	}
	return next, len(msgs) > 0, nil
}

// toDeviceSince reads the device's messages after the token's position
// and the position the next token carries. The notifier's position for the
// device, when it shows nothing newer, saves the read.
func (rt *Routes) toDeviceSince(ctx context.Context, dev *userapi.Device, tok syncToken) ([]userapi.ToDeviceMessage, int64, error) {
	// known is read before the user API: once that shows nothing after
	// since, nothing at or below known can arrive any more (positions
	// commit in order), so the next token may carry it.
	known, ok := rt.notifier.ToDevicePos(dev.UserID, string(dev.ID))
	if ok && tok.td >= 0 && known <= tok.td {
		return nil, tok.td, nil
	}
	since := max(tok.td, 0)
	msgs, latest, err := rt.users.ToDeviceSince(ctx, dev.Localpart, dev.ID, since, maxToDeviceEvents)
	if err != nil {
		return nil, 0, err
	}
	rt.notifier.NoteToDevicePos(dev.UserID, string(dev.ID), latest)
	if len(msgs) == 0 {
		return nil, max(since, known), nil
	}
	return msgs, msgs[len(msgs)-1].Pos, nil
}
