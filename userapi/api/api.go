// Package api is what other components may know of the user API: the types
// of accounts, devices and sessions, the errors it returns, and the
// interfaces, each named for the need of the component that calls it.
package api

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Localpart is the part of a local user ID between '@' and ':'.
type Localpart string

// LocalpartOf returns the localpart of userID when it is a user ID of
// server ("@alice:server" → "alice"), and false for another server's.
func LocalpartOf(userID, server string) (Localpart, bool) {
	rest, ok := strings.CutPrefix(userID, "@")
	if !ok {
		return "", false
	}
	local, ok := strings.CutSuffix(rest, ":"+server)
	if !ok || local == "" || strings.Contains(local, ":") {
		return "", false
	}
	return Localpart(local), true
}

// DeviceID names one of a user's devices (a login session).
type DeviceID string

// Account is a local user account.
type Account struct {
	Localpart   Localpart
	UserID      string
	IsAdmin     bool
	Deactivated bool
	CreatedTS   int64
}

// Device is one login session of a user, as found from its access token.
type Device struct {
	UserID      string
	Localpart   Localpart
	ID          DeviceID
	DisplayName string
	LastSeenTS  int64
	LastSeenIP  string
	// UserAgent is the one the device was last seen with (device lists
	// only; a token lookup leaves it empty).
	UserAgent string
	// ExpiresTS is when the access token that found this device expires, in
	// milliseconds since the epoch; 0 means never.
	ExpiresTS int64
	// AppServiceID names the application service acting as the user with
	// its as_token (spec: "Identity assertion"); "" for the user's own
	// access token.
	AppServiceID string
	// Locked and Suspended are the account's moderation state when the
	// token was looked up (spec: "Account moderation"; Authenticate
	// refuses a locked account's requests).
	Locked, Suspended bool
}

// Session is what a login, registration or refresh hands the client.
type Session struct {
	Device       Device
	AccessToken  string
	RefreshToken string // empty unless the client asked for one
	ExpiresInMs  int64  // 0 unless the access token expires
}

// NewSessionRequest asks for a new login session (or a new token for an
// existing device ID of the same user, which replaces the device's tokens).
type NewSessionRequest struct {
	Localpart   Localpart
	DeviceID    DeviceID // empty: generate one
	DisplayName *string  // nil: keep the existing device's name, or none
	IP          string
	UserAgent   string
	Refreshable bool
	// ExpiresTS, when not 0 and the session is not refreshable, is when the
	// access token expires (ms since the epoch): an admin's login as a user.
	ExpiresTS int64
}

// CreateAccountRequest asks for a new local account.
type CreateAccountRequest struct {
	Localpart Localpart
	Password  string // empty: no password login
	IsAdmin   bool
	// DisplayName starts the profile; empty: the localpart, as Synapse and
	// Dendrite do, so clients show a name rather than a bare user ID.
	DisplayName string
	// RegistrationToken, when set, is consumed in the same transaction.
	RegistrationToken string
	// Msisdn, when set, is a verified phone number bound to the account in
	// the same transaction (ErrThreepidInUse when another account has it).
	Msisdn string
}

// Accounts is the account surface registration and login need.
type Accounts interface {
	CreateAccount(ctx context.Context, req CreateAccountRequest) (*Account, error)
	LocalpartAvailable(ctx context.Context, localpart Localpart) (bool, error)
	Account(ctx context.Context, localpart Localpart) (*Account, error)
	// CheckPassword returns the account when password matches. A missing
	// account and a wrong password both give ErrBadPassword, so callers
	// cannot leak which localparts exist; a deactivated one gives ErrDeactivated.
	CheckPassword(ctx context.Context, localpart Localpart, password string) (*Account, error)
	// SetPassword changes the password; when logoutOthers is set every device
	// but keep is logged out.
	SetPassword(ctx context.Context, localpart Localpart, password string, logoutOthers bool, keep DeviceID) error
	// Deactivate revokes every token and device, erases the profile and
	// account data, and refuses logins from then on.
	Deactivate(ctx context.Context, localpart Localpart) error
	// RegistrationTokenValid reports whether token may be used to register.
	RegistrationTokenValid(ctx context.Context, token string) (bool, error)
}

// Sessions is the access-token and device surface.
type Sessions interface {
	NewSession(ctx context.Context, req NewSessionRequest) (*Session, error)
	// QueryAccessToken finds the device an access token belongs to:
	// ErrUnknownToken if none, ErrTokenExpired if it has expired.
	QueryAccessToken(ctx context.Context, token string) (*Device, error)
	// Refresh exchanges a refresh token for a new access and refresh token.
	Refresh(ctx context.Context, refreshToken string) (*Session, error)
	// Logout deletes one device and its tokens; LogoutAll every device.
	Logout(ctx context.Context, localpart Localpart, device DeviceID) error
	LogoutAll(ctx context.Context, localpart Localpart) error
	Devices(ctx context.Context, localpart Localpart) ([]Device, error)
	Device(ctx context.Context, localpart Localpart, id DeviceID) (*Device, error)
	SetDeviceDisplayName(ctx context.Context, localpart Localpart, id DeviceID, name string) error
	DeleteDevices(ctx context.Context, localpart Localpart, ids []DeviceID) error
	// TouchDevice records that a device was seen (rate-limited internally).
	TouchDevice(ctx context.Context, d *Device, ip, userAgent string)
}

// Profiles is the profile surface (spec v1.16 profile fields). Values are
// JSON; displayname and avatar_url are strings.
type Profiles interface {
	Profile(ctx context.Context, localpart Localpart) (map[string]json.RawMessage, error)
	SetProfileField(ctx context.Context, localpart Localpart, key string, value json.RawMessage) error
	DeleteProfileField(ctx context.Context, localpart Localpart, key string) error
}

// AccountDataTopic is the bus topic on which the user API announces account
// data changes, keyed by user ID; the body is an AccountDataChange.
const AccountDataTopic = "userapi.account_data"

// AccountDataChange is the body of an AccountDataTopic message.
type AccountDataChange struct {
	UserID string `json:"user_id"`
	RoomID string `json:"room_id,omitempty"`
	Type   string `json:"type"`
	Pos    int64  `json:"pos"`
}

// AccountDataEntry is one account-data object with its position in the
// user's account-data stream.
type AccountDataEntry struct {
	RoomID  string
	Type    string
	Content json.RawMessage
	Pos     int64
}

// AccountData is the account-data surface; roomID "" is global data.
type AccountData interface {
	AccountData(ctx context.Context, localpart Localpart, roomID, dataType string) (json.RawMessage, error)
	SetAccountData(ctx context.Context, localpart Localpart, roomID, dataType string, content json.RawMessage) error
	// AccountDataSince returns the objects changed after position since
	// (-1: all) and the user's latest position.
	AccountDataSince(ctx context.Context, localpart Localpart, since int64) ([]AccountDataEntry, int64, error)
}

// Sync is the user API as the sync component uses it: token lookups,
// account data and to-device messages.
type Sync interface {
	Sessions
	AccountData
	Keys
	ToDevice
	CompiledPushRules
	PusherHolders
}

// Operator is what operators' tools do through the user API.
type Operator interface {
	// CreateRegistrationToken makes a new registration token that allows
	// usesAllowed registrations (nil: unlimited) until expiry (nil: never).
	CreateRegistrationToken(ctx context.Context, usesAllowed *int64, expiry *time.Time) (string, error)
}

// UserAPI is every method the user API offers (what userapi.New returns);
// the client API uses all but Operator.
type UserAPI interface {
	Accounts
	Sessions
	Profiles
	ProfilesBatch
	AccountData
	Keys
	KeyBackup
	CrossSigning
	ToDevice
	RemoteDevices
	DehydratedDevices
	AppServiceDevices
	Pushers
	Operator
	PushRules
	CompiledPushRules
	PusherHolders
	RoomTags
	RoomUpgrades
	PhoneNumbers
	UserDirectory
	OpenID
	AccountAdmin
	RegistrationTokens
}
