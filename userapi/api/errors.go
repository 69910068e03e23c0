package api

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Errors returned by the user API, each with the answer the spec gives it
// (internal/coded, compared with errors.Is).
var (
	ErrUserInUse = coded.New("user ID already taken", http.StatusBadRequest, "M_USER_IN_USE")
	// ErrBadPassword is a wrong password or an unknown user: the same
	// answer for both, so that no one learns which users exist.
	ErrBadPassword = coded.New("invalid username or password", http.StatusForbidden, "M_FORBIDDEN")
	ErrDeactivated = coded.New("this account has been deactivated", http.StatusForbidden, "M_USER_DEACTIVATED")
	// ErrUnknownToken is an access or refresh token that does not exist
	// (or no longer): the client must log in again (spec: "Soft logout").
	ErrUnknownToken = coded.WithFields("unknown token", http.StatusUnauthorized, "M_UNKNOWN_TOKEN",
		map[string]any{"soft_logout": false})
	// ErrTokenExpired is an access token past its lifetime: the client may
	// refresh it (soft_logout).
	ErrTokenExpired = coded.WithFields("access token expired", http.StatusUnauthorized, "M_UNKNOWN_TOKEN",
		map[string]any{"soft_logout": true})
	// ErrMissingToken is a client request without an access token.
	ErrMissingToken    = coded.New("missing access token", http.StatusUnauthorized, "M_MISSING_TOKEN")
	ErrNoSuchDevice    = coded.New("unknown device", http.StatusNotFound, "M_NOT_FOUND")
	ErrProfileTooLarge = coded.New("the profile would exceed 64 KiB", http.StatusBadRequest, "M_PROFILE_TOO_LARGE")
	ErrKeyTooLarge     = coded.New("profile key is longer than 255 bytes", http.StatusBadRequest, "M_KEY_TOO_LARGE")
	ErrBadRegToken     = coded.New("registration token invalid or used up", http.StatusUnauthorized, "M_UNAUTHORIZED")
)

// Errors whose answer depends on the request (a missing account is a 404
// for a profile, a refusal for a login); callers map them.
var (
	ErrNoSuchAccount = errors.New("no such account")
	ErrNotFound      = errors.New("not found")
)
