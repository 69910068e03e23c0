package api

import (
	"errors"
	"maps"
	"net/http"
)

// Error is a user API failure with one meaning for clients: the Matrix
// status and errcode of MatrixCode (httputil.CodedError), extra body fields
// from MatrixExtra, its text as the message. The sentinels below are its
// only values, compared with errors.Is.
type Error struct {
	text    string
	status  int
	errcode string
	extra   map[string]any
}

func (e *Error) Error() string { return e.text }

// MatrixCode is the status and errcode clients are answered with.
func (e *Error) MatrixCode() (status int, errcode string) { return e.status, e.errcode }

// MatrixExtra is the error body's other fields (a copy; nil for none).
func (e *Error) MatrixExtra() map[string]any { return maps.Clone(e.extra) }

// Errors returned by the user API, each with the answer the spec gives it.
var (
	ErrUserInUse = &Error{text: "user ID already taken", status: http.StatusBadRequest, errcode: "M_USER_IN_USE"}
	// ErrBadPassword is a wrong password or an unknown user: the same
	// answer for both, so that no one learns which users exist.
	ErrBadPassword = &Error{text: "invalid username or password", status: http.StatusForbidden, errcode: "M_FORBIDDEN"}
	ErrDeactivated = &Error{text: "this account has been deactivated", status: http.StatusForbidden,
		errcode: "M_USER_DEACTIVATED"}
	// ErrUnknownToken is an access or refresh token that does not exist
	// (or no longer): the client must log in again (spec: "Soft logout").
	ErrUnknownToken = &Error{text: "unknown token", status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN",
		extra: map[string]any{"soft_logout": false}}
	// ErrTokenExpired is an access token past its lifetime: the client may
	// refresh it (soft_logout).
	ErrTokenExpired = &Error{text: "access token expired", status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN",
		extra: map[string]any{"soft_logout": true}}
	// ErrMissingToken is a client request without an access token.
	ErrMissingToken    = &Error{text: "missing access token", status: http.StatusUnauthorized, errcode: "M_MISSING_TOKEN"}
	ErrNoSuchDevice    = &Error{text: "unknown device", status: http.StatusNotFound, errcode: "M_NOT_FOUND"}
	ErrProfileTooLarge = &Error{text: "the profile would exceed 64 KiB", status: http.StatusBadRequest,
		errcode: "M_PROFILE_TOO_LARGE"}
	ErrKeyTooLarge = &Error{text: "profile key is longer than 255 bytes", status: http.StatusBadRequest,
		errcode: "M_KEY_TOO_LARGE"}
	ErrBadRegToken = &Error{text: "registration token invalid or used up", status: http.StatusUnauthorized,
		errcode: "M_UNAUTHORIZED"}
)

// Errors whose answer depends on the request (a missing account is a 404
// for a profile, a refusal for a login); callers map them.
var (
	ErrNoSuchAccount = errors.New("no such account")
	ErrNotFound      = errors.New("not found")
)
