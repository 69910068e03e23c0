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

// ToDevice is the send-to-device surface (spec: "Send-to-Device
// messaging"). The user API never reads the content it routes.
type ToDevice interface {
	// SendToDevice stores eventType with each content of messages (user ID
	// → device ID or AllDevices → content) for this server's users, once
	// per (sender, senderDevice, txnID): a retried send stores nothing new
	// and returns nil. It returns once the messages are stored. Messages for
	// other servers' users are returned, grouped by server, for federation.
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
