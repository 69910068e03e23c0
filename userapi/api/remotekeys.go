package api

import (
	"context"
	"encoding/json"
)

// RemoteDeviceList is another server's user's device list as cached here:
// what their server last said of them (spec: server-server API, "Device
// Management").
type RemoteDeviceList struct {
	UserID string `json:"-"`
	// Devices are the DeviceKeys objects by device ID, display names in
	// unsigned.device_display_name.
	Devices map[string]json.RawMessage `json:"devices"`
	// MasterKey and SelfSigningKey are the user's cross-signing keys (nil:
	// none known).
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
	// StreamID is the position in the user's device-list stream this state
	// is at (0: not known, as after a /user/keys/query).
	StreamID int64 `json:"-"`
	// Fresh means updates keep this list current: it may be served as it
	// is. A stale one is fetched again first.
	Fresh bool `json:"-"`
}

// RemoteDeviceUpdate is one m.device_list_update EDU (spec: server-server
// API, "m.device_list_update"), already checked to come from the user's
// server.
type RemoteDeviceUpdate struct {
	UserID   string
	DeviceID string
	// Keys is the device's DeviceKeys object (nil: unchanged or none).
	Keys        json.RawMessage
	DisplayName string
	Deleted     bool
	StreamID    int64
	PrevIDs     []int64
}

// RemoteDevices is the cache of other servers' users' device lists, which
// the federation component fills and keeps current, and the inbox of
// to-device messages from other servers.
type RemoteDevices interface {
	// RemoteDeviceLists returns the cached lists of those of userIDs that
	// have one, by user ID.
	RemoteDeviceLists(ctx context.Context, userIDs []string) (map[string]RemoteDeviceList, error)
	// SetRemoteDeviceList replaces a user's cached list; with announce it
	// also records a device-list change for the user, so that local users
	// sharing a room with them hear of it in /sync.
	SetRemoteDeviceList(ctx context.Context, list RemoteDeviceList, announce bool) error
	// UpdateRemoteDevice applies an m.device_list_update to the user's
	// cached list when its prev_id holds the cached stream_id, and records
	// a device-list change for the user either way. It reports whether the
	// list must be fetched again: a cached list that missed an update is
	// marked stale (spec: "m.device_list_update", prev_id). A user with no
	// cached list only gets the device-list change, and not even that for
	// an update without prev_id (a join's announcement of their devices).
	UpdateRemoteDevice(ctx context.Context, up RemoteDeviceUpdate) (resync bool, err error)
	// MarkRemoteStale marks a user's cached list stale and records a
	// device-list change for them (an m.signing_key_update, say).
	MarkRemoteStale(ctx context.Context, userID string) error
	// ReceiveToDevice stores a to-device message from another server's
	// user (an m.direct_to_device EDU) for this server's users: messages is
	// user ID → device ID or AllDevices → content. A message ID already
	// received from the sender stores nothing (spec: server-server API,
	// "Send-to-device messaging", message_id).
	ReceiveToDevice(ctx context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error
}
