package federationapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
)

// Outbound EDUs (spec: server-server API, "EDUs"): to-device messages and
// local users' device-list updates, queued per destination like PDUs.

// errNotSending means the queues are not running (StartSending was not
// called): nothing can be sent to other servers.
var errNotSending = errors.New("federationapi: not sending to other servers")

// edu is an EDU as queued.
type edu struct {
	Type    string `json:"edu_type"`
	Content any    `json:"content"`
}

// directToDevice is m.direct_to_device's content (spec: "Send-to-device
// messaging").
type directToDevice struct {
	Sender    string                                `json:"sender"`
	Type      string                                `json:"type"`
	MessageID string                                `json:"message_id"`
	Messages  map[string]map[string]json.RawMessage `json:"messages"`
}

// SendToDeviceRemote implements api.RemoteKeys: one m.direct_to_device EDU
// per server, with a message ID of its own (spec: "message_id", unique
// per sender), which the receiver uses to store it once.
func (f *FederationAPI) SendToDeviceRemote(
	ctx context.Context, sender, eventType string, messages map[string]map[string]map[string]json.RawMessage,
) error {
	if f.queues == nil {
		return errNotSending
	}
	for _, server := range slices.Sorted(maps.Keys(messages)) {
		if server == string(f.name) {
			continue
		}
		id, err := messageID()
		if err != nil {
			return err
		}
		body, err := json.Marshal(edu{Type: "m.direct_to_device", Content: directToDevice{
			Sender: sender, Type: eventType, MessageID: id, Messages: messages[server],
		}})
		if err != nil {
			return err
		}
		if err := f.queues.EnqueueEDU(ctx, []string{server}, body); err != nil {
			return err
		}
	}
	return nil
}

// messageID is a random m.direct_to_device message ID.
func messageID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
