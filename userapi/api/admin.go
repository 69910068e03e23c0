package api

import (
	"context"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Errors of account moderation (spec: "Account locking", "Account
// suspension").
var (
	// ErrUserLocked answers every request of a locked account but logging
	// out, with soft_logout so that the client keeps its state.
	ErrUserLocked = coded.WithFields("this account has been locked", http.StatusUnauthorized, "M_USER_LOCKED",
		map[string]any{"soft_logout": true})
	// ErrUserSuspended answers what a suspended account may not do.
	ErrUserSuspended = coded.New("you cannot perform this action while suspended", http.StatusForbidden, "M_USER_SUSPENDED")
)

// AccountQuery selects accounts for the admin API's user list (Synapse's
// GET /_synapse/admin/v2/users parameters).
type AccountQuery struct {
	// From is the offset of the page, Limit its size.
	From, Limit int
	// Name matches localparts and display names containing it; UserID
	// (ignored when Name is set) user IDs containing it. Both ignore case.
	Name, UserID string
	// Admins and Suspended, when set, keep only accounts with that flag.
	Admins, Suspended *bool
	// Deactivated and Locked include deactivated and locked accounts.
	Deactivated, Locked bool
	// OrderBy is a Synapse order_by key ("": name); Backwards reverses it.
	OrderBy   string
	Backwards bool
	// ServerName is filled in by the user API (UserID matches full IDs).
	ServerName string
}

// AccountSummary is an account as the admin API shows it.
type AccountSummary struct {
	Localpart Localpart
	UserID    string
	CreatedTS int64
	// LastSeenTS is the latest last-seen time of the account's devices (0: none).
	LastSeenTS                                      int64
	IsAdmin, Deactivated, Locked, Suspended, Erased bool
	DisplayName, AvatarURL                          *string
}

// AccountAdmin is what the admin API does to accounts.
type AccountAdmin interface {
	// ListAccounts returns a page of accounts and how many match in all.
	ListAccounts(ctx context.Context, q AccountQuery) ([]AccountSummary, int, error)
	// AccountSummary describes one account (ErrNoSuchAccount).
	AccountSummary(ctx context.Context, localpart Localpart) (*AccountSummary, error)
	SetAdmin(ctx context.Context, localpart Localpart, admin bool) error
	// SetLocked and SetSuspended take effect on the account's next request.
	SetLocked(ctx context.Context, localpart Localpart, locked bool) error
	SetSuspended(ctx context.Context, localpart Localpart, suspended bool) error
	// Erase marks a deactivated account erased: its data is to be
	// forgotten (docs/decisions.md, "Erasing a user").
	Erase(ctx context.Context, localpart Localpart) error
	// Reactivate lifts a deactivation with a new password.
	Reactivate(ctx context.Context, localpart Localpart, password string) error
}

// RegistrationToken is a registration token as the admin API shows it
// (Synapse's registration token object). Myelin counts a use only when a
// registration completes, so Pending is always 0.
type RegistrationToken struct {
	Token string
	// UsesAllowed nil: unlimited; ExpiryTS nil: never (ms since the epoch).
	UsesAllowed *int64
	ExpiryTS    *int64
	Pending     int64
	Completed   int64
}

// RegistrationTokenUpdate changes a token's limits; a field left nil is
// kept, Clear* set it to unlimited / never.
type RegistrationTokenUpdate struct {
	UsesAllowed, ExpiryTS           *int64
	ClearUsesAllowed, ClearExpiryTS bool
}

// ErrRegistrationTokenExists is a new registration token that is taken.
var ErrRegistrationTokenExists = coded.New("registration token already exists", http.StatusBadRequest, "M_INVALID_PARAM")

// RegistrationTokens is the admin API's registration token surface.
type RegistrationTokens interface {
	// RegistrationTokens lists tokens: valid nil every one, true those
	// still usable, false those used up or expired.
	RegistrationTokens(ctx context.Context, valid *bool) ([]RegistrationToken, error)
	// RegistrationToken returns one token (ErrNotFound).
	RegistrationToken(ctx context.Context, token string) (*RegistrationToken, error)
	// AddRegistrationToken stores a new token (ErrRegistrationTokenExists).
	AddRegistrationToken(ctx context.Context, t RegistrationToken) error
	UpdateRegistrationToken(ctx context.Context, token string, u RegistrationTokenUpdate) (*RegistrationToken, error)
	// DeleteRegistrationToken removes a token (ErrNotFound).
	DeleteRegistrationToken(ctx context.Context, token string) error
}
