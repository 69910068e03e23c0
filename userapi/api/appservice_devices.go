package api

import "context"

// AppServiceDevices is device management for application services (spec:
// application service API, "Device management"; MSC4190): a device made
// for a user of a service's namespaces without a login, so without an
// access token — the service acts as it with its as_token and device_id.
type AppServiceDevices interface {
	// CreateDevice creates device id of localpart, named displayName (nil:
	// no name), unless the user has it already; it reports whether it
	// did. A new device is a device-list change, as after a login.
	CreateDevice(ctx context.Context, localpart Localpart, id DeviceID, displayName *string) (created bool, err error)
}
