package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// DeviceListTopic is the bus topic on which the user API announces that a
// user's device list changed (a device added or deleted, its identity keys
// uploaded or replaced), keyed by user ID; the body is a DeviceListChange.
const DeviceListTopic = "userapi.device_list"

// DeviceListChange is the body of a DeviceListTopic message: the user and
// the change's position in the device-list stream. For a local user's
// change, DeviceID is the device that changed, Deleted whether it is gone,
// and PrevPos the user's previous position (0: none), which federation
// sends as m.device_list_update's stream_id and prev_id (spec:
// server-server API, "Device Management"). Other servers' users' changes
// (from their servers' updates) carry only UserID and Pos.
type DeviceListChange struct {
	UserID   string `json:"user_id"`
	Pos      int64  `json:"pos"`
	DeviceID string `json:"device_id,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	PrevPos  int64  `json:"prev_pos,omitempty"`
}

// KeyUpload is what a device uploads (spec: "POST /keys/upload"). Every key
// is kept exactly as sent and handed back unchanged.
type KeyUpload struct {
	// DeviceKeys is the device's DeviceKeys object; nil leaves it as it is.
	DeviceKeys json.RawMessage
	// OneTimeKeys and FallbackKeys map "<algorithm>:<key_id>" to the key
	// (a string or a signed object).
	OneTimeKeys  map[string]json.RawMessage
	FallbackKeys map[string]json.RawMessage
}

// Errors of the key API.
var (
	// ErrBadDeviceKeys is a DeviceKeys object without a required field
	// (user_id, device_id, algorithms, keys, signatures).
	ErrBadDeviceKeys = coded.New("device_keys is missing a required field or has one of the wrong type",
		http.StatusBadRequest, "M_BAD_JSON")
	// ErrKeysNotYours is device keys naming another user or device than the
	// uploader's (spec: "POST /keys/upload", device_keys).
	ErrKeysNotYours = coded.New("device_keys must name the uploading user and device", http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrBadKeyID is a one-time or fallback key name not of the form
	// "<algorithm>:<key_id>", or a key that is neither a string nor an object.
	ErrBadKeyID = coded.New("keys must be named <algorithm>:<key_id> and be a string or an object",
		http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrKeyConflict is a one-time key uploaded again under the same ID with
	// different content (Synapse answers the same).
	ErrKeyConflict = coded.New("a one-time key with this ID and different content already exists",
		http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrTwoFallbackKeys is more than one fallback key for an algorithm in
	// one upload: the server keeps one per algorithm.
	ErrTwoFallbackKeys = coded.New("at most one fallback key per algorithm", http.StatusBadRequest, "M_INVALID_PARAM")
)

// Keys is the end-to-end encryption key surface: the device, one-time and
// fallback keys of local devices, and the device-list stream that tells
// who must be asked again (spec: "Key Distribution").
type Keys interface {
	// UploadKeys stores a device's keys and returns its unclaimed one-time
	// key counts by algorithm (signed_curve25519 always present).
	UploadKeys(ctx context.Context, localpart Localpart, device DeviceID, up KeyUpload) (map[string]int, error)
	// QueryKeys returns, for each local user in query (others are
	// skipped), the device keys of the listed devices (none listed: all),
	// with unsigned.device_display_name and the signatures uploaded on them by
	// their owner (POST /keys/signatures/upload) added. Every local user queried
	// has an entry, empty when it has no keys.
	QueryKeys(ctx context.Context, query map[string][]DeviceID) (map[string]map[DeviceID]json.RawMessage, error)
	// ClaimKeys hands out one key per local user, device and algorithm
	// asked for: the device's oldest one-time key, each only once, or when
	// none is left its fallback key. Devices with neither are absent; a
	// user with none of them too.
	ClaimKeys(ctx context.Context, claim map[string]map[DeviceID]string) (map[string]map[DeviceID]map[string]json.RawMessage, error)
	// OneTimeKeyCounts is a device's unclaimed one-time keys by algorithm
	// (signed_curve25519 always present), for /sync.
	OneTimeKeyCounts(ctx context.Context, localpart Localpart, device DeviceID) (map[string]int, error)
	// UnusedFallbackKeyTypes lists the algorithms of a device's fallback
	// keys not yet handed out, for /sync.
	UnusedFallbackKeyTypes(ctx context.Context, localpart Localpart, device DeviceID) ([]string, error)
	// DeviceListChanges returns the users whose device lists changed at a
	// position in (from, to] (to < 0: up to the latest) and the latest
	// position.
	DeviceListChanges(ctx context.Context, from, to int64) ([]string, int64, error)
	// DeviceListStreamID is the position of a user's latest device-list
	// change (0: none), the stream_id of GET /user/devices.
	DeviceListStreamID(ctx context.Context, userID string) (int64, error)
}
