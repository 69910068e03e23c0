package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// DehydratedDevice is a user's dehydrated device (MSC3814): a device with
// no access token that other devices encrypt for like any other, so that a
// user with no device online still receives room keys. A new login
// rehydrates it from DeviceData (opaque to the server) and reads its
// to-device messages.
type DehydratedDevice struct {
	DeviceID   DeviceID
	DeviceData json.RawMessage
}

// DehydratedDeviceUpload creates a dehydrated device (MSC3814: PUT
// /dehydrated_device).
type DehydratedDeviceUpload struct {
	DeviceID DeviceID
	// DeviceData is kept as sent and handed back by DehydratedDevice.
	DeviceData  json.RawMessage
	DisplayName *string // nil: none
	// Keys are the device's keys, checked as POST /keys/upload checks a
	// device's own: DeviceKeys must name the dehydrated device.
	Keys KeyUpload
}

// Errors of dehydrated devices.
var (
	// ErrNoDehydratedDevice: the user has no dehydrated device (MSC3814:
	// GET and DELETE /dehydrated_device).
	ErrNoDehydratedDevice = coded.New("no dehydrated device", http.StatusNotFound, "M_NOT_FOUND")
	// ErrNotDehydratedDevice is a device ID that is not the user's
	// dehydrated device's (MSC3814: POST /dehydrated_device/{device_id}/events).
	ErrNotDehydratedDevice = coded.New("this is not your dehydrated device", http.StatusForbidden, "M_FORBIDDEN")
	// ErrDeviceIDInUse is a dehydrated device named after one of the user's
	// other devices: that device would lose its place to it.
	ErrDeviceIDInUse = coded.New("device_id names one of your other devices", http.StatusBadRequest, "M_INVALID_PARAM")
)

// DehydratedDevices is the dehydrated device surface (MSC3814).
type DehydratedDevices interface {
	// SetDehydratedDevice creates the user's dehydrated device with its
	// keys, deleting the previous one (with its keys and to-device messages)
	// in the same transaction.
	SetDehydratedDevice(ctx context.Context, localpart Localpart, up DehydratedDeviceUpload) error
	// DehydratedDevice returns the user's dehydrated device, or
	// ErrNoDehydratedDevice.
	DehydratedDevice(ctx context.Context, localpart Localpart) (*DehydratedDevice, error)
	// DeleteDehydratedDevice deletes the user's dehydrated device, as
	// deleting any device does, and returns its ID; ErrNoDehydratedDevice
	// when there is none.
	DeleteDehydratedDevice(ctx context.Context, localpart Localpart) (DeviceID, error)
	// DehydratedDeviceEvents returns up to limit of the dehydrated device's
	// to-device messages after position since, oldest first, and the
	// position to continue from. Nothing is deleted: the messages stay until
	// the device is. ErrNotDehydratedDevice when device is not the user's
	// dehydrated device.
	DehydratedDeviceEvents(
		ctx context.Context, localpart Localpart, device DeviceID, since int64, limit int,
	) ([]ToDeviceMessage, int64, error)
}
