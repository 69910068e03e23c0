package httputil

import (
	"errors"
	"fmt"
	"net/http"
)

// MatrixError is an error that a client sees as a Matrix error JSON object
// (`errcode`, `error`) with an HTTP status. It compares equal, with errors.Is,
// to any other MatrixError carrying the same errcode, so callers can test for a
// kind of failure without caring about the message:
//
//	if errors.Is(err, httputil.ErrUserInUse) { … }
type MatrixError struct {
	Status  int            `json:"-"`
	ErrCode string         `json:"errcode"`
	Message string         `json:"error"`
	Extra   map[string]any `json:"-"`
}

func (e *MatrixError) Error() string { return e.ErrCode + ": " + e.Message }

// Is reports whether target is a MatrixError with the same errcode.
func (e *MatrixError) Is(target error) bool {
	var t *MatrixError
	if errors.As(target, &t) {
		return t.ErrCode == e.ErrCode
	}
	return false
}

// Body returns the JSON object written to the client.
func (e *MatrixError) Body() map[string]any {
	out := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		out[k] = v
	}
	out["errcode"] = e.ErrCode
	out["error"] = e.Message
	return out
}

// With returns a copy of e with an extra field in its JSON body.
func (e *MatrixError) With(key string, value any) *MatrixError {
	c := *e
	c.Extra = make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return &c
}

// CodedError is an error that knows its Matrix meaning: the status and
// errcode a client (or another server) is answered with, its text being the
// message. The components' api packages declare their errors with
// internal/coded, which implements it with the standard library only, so
// that a handler returns a component's error as it is and WriteError maps
// it; no api package imports httputil.
type CodedError interface {
	error
	MatrixCode() (status int, errcode string)
}

// ErrorFields is implemented by CodedErrors whose Matrix error body has
// fields besides errcode and error (soft_logout on M_UNKNOWN_TOKEN).
type ErrorFields interface {
	MatrixExtra() map[string]any
}

// AsMatrixError finds the Matrix error err stands for: a *MatrixError in
// its chain, else a CodedError, turned into a *MatrixError with the coded
// error's own text as message (not the text of what wraps it, which names
// the server's internal steps). ok is false when err has no Matrix meaning.
func AsMatrixError(err error) (me *MatrixError, ok bool) {
	if errors.As(err, &me) {
		return me, true
	}
	var ce CodedError
	if !errors.As(err, &ce) {
		return nil, false
	}
	status, code := ce.MatrixCode()
	me = &MatrixError{Status: status, ErrCode: code, Message: ce.Error()}
	if ef, ok := ce.(ErrorFields); ok {
		me.Extra = ef.MatrixExtra()
	}
	return me, true
}

func newErr(status int, code string) func(format string, args ...any) *MatrixError {
	return func(format string, args ...any) *MatrixError {
		return &MatrixError{Status: status, ErrCode: code, Message: fmt.Sprintf(format, args...)}
	}
}

// Constructors for the spec's standard errors (client-server API, "Standard
// error response" and the endpoint definitions), each with its usual status.
var (
	Forbidden            = newErr(http.StatusForbidden, "M_FORBIDDEN")
	UnknownToken         = newErr(http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	MissingToken         = newErr(http.StatusUnauthorized, "M_MISSING_TOKEN")
	BadJSON              = newErr(http.StatusBadRequest, "M_BAD_JSON")
	NotJSON              = newErr(http.StatusBadRequest, "M_NOT_JSON")
	NotFound             = newErr(http.StatusNotFound, "M_NOT_FOUND")
	Unrecognized         = newErr(http.StatusNotFound, "M_UNRECOGNIZED")
	MethodNotAllowed     = newErr(http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
	Unknown              = newErr(http.StatusInternalServerError, "M_UNKNOWN")
	BadRequestUnknown    = newErr(http.StatusBadRequest, "M_UNKNOWN")
	MissingParam         = newErr(http.StatusBadRequest, "M_MISSING_PARAM")
	InvalidParam         = newErr(http.StatusBadRequest, "M_INVALID_PARAM")
	TooLarge             = newErr(http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	UserInUse            = newErr(http.StatusBadRequest, "M_USER_IN_USE")
	InvalidUsername      = newErr(http.StatusBadRequest, "M_INVALID_USERNAME")
	Exclusive            = newErr(http.StatusBadRequest, "M_EXCLUSIVE")
	WeakPassword         = newErr(http.StatusBadRequest, "M_WEAK_PASSWORD")
	GuestAccessForbidden = newErr(http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN")
	UserDeactivated      = newErr(http.StatusForbidden, "M_USER_DEACTIVATED")
	Unauthorized         = newErr(http.StatusUnauthorized, "M_UNAUTHORIZED")
	ProfileTooLarge      = newErr(http.StatusBadRequest, "M_PROFILE_TOO_LARGE")
	KeyTooLarge          = newErr(http.StatusBadRequest, "M_KEY_TOO_LARGE")
	ThreepidDenied       = newErr(http.StatusForbidden, "M_THREEPID_DENIED")
)

// LimitExceeded is 429 M_LIMIT_EXCEEDED with retry_after_ms.
func LimitExceeded(retryAfterMs int64) *MatrixError {
	return (&MatrixError{Status: http.StatusTooManyRequests, ErrCode: "M_LIMIT_EXCEEDED", Message: "Too many requests"}).
		With("retry_after_ms", retryAfterMs)
}

// Sentinels for errors.Is.
var (
	ErrForbidden       = Forbidden("")
	ErrNotFound        = NotFound("")
	ErrUserInUse       = UserInUse("")
	ErrUnknownToken    = UnknownToken("")
	ErrInvalidUsername = InvalidUsername("")
	ErrWeakPassword    = WeakPassword("")
	ErrUserDeactivated = UserDeactivated("")
)
