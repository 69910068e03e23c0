package api

import (
	"context"
	"encoding/json"
)

// ToDeviceTopic is the bus topic on which the user API announces a stored
// send-to-device message, keyed by the recipient's user ID; the body is a
// ToDeviceNotice.
const ToDeviceTopic = "userapi.to_device"

// ToDeviceNotice is the body of a ToDeviceTopic message: the recipient
// device has a message at position Pos.
type ToDeviceNotice struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Pos      int64  `json:"pos"`
}

// AllDevices, as a device ID in SendToDevice's messages, stands for every
// device of the user (spec: PUT /sendToDevice, "*").
const AllDevices = "*"

// ToDeviceMessage is one message waiting for a device, with its position.
// Positions grow across all devices and are never reused.
type ToDeviceMessage struct {
	Pos     int64
	Sender  string
	Type    string
	Content json.RawMessage
}

// RemoteToDevice is what a send holds for other servers' users: server
// name → user ID → device ID (or AllDevices) → content.
type RemoteToDevice map[string]map[string]map[string]json.RawMessage

// ToDeviceRemoteTopic is the bus topic on which the user API hands the
// federation component a send's messages for one other server's users,
// keyed by that server's name; the body is a RemoteToDeviceSend. It is
// published in the send's transaction, so the messages are as durable as
// the local ones when the client gets its answer.
const ToDeviceRemoteTopic = "userapi.to_device_remote"

// RemoteToDeviceSend is the body of a ToDeviceRemoteTopic message: one
// m.direct_to_device EDU's content. MessageID is chosen once, so that a
// redelivered message is the same EDU and the receiving server takes it
// once.
type RemoteToDeviceSend struct {
	Server    string                                `json:"server"`
	Sender    string                                `json:"sender"`
	Type      string                                `json:"type"`
	MessageID string                                `json:"message_id"`
	Messages  map[string]map[string]json.RawMessage `json:"messages"`
}

// ToDevice is the send-to-device surface (spec: "Send-to-Device
// messaging"). The user API never reads the content it routes.
type ToDevice interface {
	// SendToDevice stores eventType with each content of messages (user ID
	// → device ID or AllDevices → content) for this server's users, once
	// per (sender, senderDevice, txnID): a retried send stores nothing new
	// and returns nil. It returns once the messages are stored; those for
	// other servers' users are published on ToDeviceRemoteTopic in the same
	// transaction and also returned, grouped by server.
	SendToDevice(
		ctx context.Context, sender string, senderDevice DeviceID, txnID, eventType string,
		messages map[string]map[string]json.RawMessage,
	) (RemoteToDevice, error)
	// ToDeviceSince returns up to limit of a device's messages after
	// position since, oldest first, and the device's latest position: the
	// newest stored when more are left, else the last returned (since
	// when none is).
	ToDeviceSince(ctx context.Context, localpart Localpart, device DeviceID, since int64, limit int) ([]ToDeviceMessage, int64, error)
	// AckToDevice deletes a device's messages at or below position upTo:
	// the device has received them.
	AckToDevice(ctx context.Context, localpart Localpart, device DeviceID, upTo int64) error
}
