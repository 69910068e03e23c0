package api

import (
	"context"
	"encoding/json"
)

// Pusher is where one of a user's devices wants push notifications sent
// (spec: "Push Notifications", the Pusher object of GET /pushers).
type Pusher struct {
	Localpart Localpart
	// DeviceID is the session that last set the pusher: the pusher goes
	// when that device does.
	DeviceID          DeviceID
	Kind              string // "http"
	AppID             string
	PushKey           string
	PushKeyTS         int64 // seconds since the epoch, when last set
	AppDisplayName    string
	DeviceDisplayName string
	ProfileTag        string
	Lang              string
	// Data is the client's PusherData object as sent (url, format and any
	// custom keys for the push gateway).
	Data json.RawMessage
}

// Pushers is the pusher surface of the client API.
type Pushers interface {
	Pushers(ctx context.Context, localpart Localpart) ([]Pusher, error)
	// SetPusher creates or replaces the user's pusher of p's app ID and
	// pushkey, owned from now on by p.DeviceID. Unless appendIt is set,
	// other users' pushers of the same app ID and pushkey are removed.
	SetPusher(ctx context.Context, p Pusher, appendIt bool) error
	// DeletePusher removes a pusher; removing one that does not exist is
	// no error.
	DeletePusher(ctx context.Context, localpart Localpart, appID, pushKey string) error
}

// PusherHolders tells which users may have pushers, so that the sync
// component announces notifications only for them (most users have none).
// It may answer true for a user without pushers (one deleted lately), never
// false for a user with one set in this process; one set through a user
// API in another process is seen within PusherHoldersRefresh.
type PusherHolders interface {
	MayHavePushers(ctx context.Context, localpart Localpart) bool
}
