package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/myelin-im/myelin/internal/coded"
	"github.com/myelin-im/myelin/internal/phone"
)

// MediumMSISDN is the 3PID medium of telephone numbers (spec appendices,
// "3PID Types").
const MediumMSISDN = "msisdn"

// Threepid is a third-party identifier bound to an account.
type Threepid struct {
	Medium      string
	Address     string
	AddedTS     int64 // milliseconds since the epoch
	ValidatedTS int64
}

// MsisdnPurpose is what a phone verification session is for; a session
// proves the number only for the purpose it was started for.
type MsisdnPurpose string

// Purposes of phone verification sessions.
const (
	// MsisdnRegister verifies a number no account holds, to register with it.
	MsisdnRegister MsisdnPurpose = "register"
	// MsisdnAdd verifies a number no account holds, to bind it to the caller.
	MsisdnAdd MsisdnPurpose = "add"
	// MsisdnLogin verifies a number an account holds, to log in as it.
	MsisdnLogin MsisdnPurpose = "login"
)

// MsisdnTokenRequest asks for a verification code by SMS (spec:
// "POST /register/msisdn/requestToken" and its siblings).
type MsisdnTokenRequest struct {
	Purpose      MsisdnPurpose
	ClientSecret string
	Number       phone.Number
	// SendAttempt: a request repeating the last attempt of the same client
	// secret and number sends nothing and returns the same session.
	SendAttempt int64
	IP          string
}

// MsisdnSession is a started verification session.
type MsisdnSession struct {
	SID    string
	Number phone.Number
}

// PhoneNumbers verifies telephone numbers by SMS code and binds them to
// accounts (ARCHITECTURE.md §7).
type PhoneNumbers interface {
	// RequestMsisdnToken starts a session and sends its code, unless the
	// request repeats the last send attempt.
	RequestMsisdnToken(ctx context.Context, req MsisdnTokenRequest) (*MsisdnSession, error)
	// SubmitMsisdnToken checks a code; a right one validates the session.
	SubmitMsisdnToken(ctx context.Context, sid, clientSecret, token string) error
	// ValidatedMsisdn returns the number a validated session of purpose
	// proves, without ending the session.
	ValidatedMsisdn(ctx context.Context, sid, clientSecret string, purpose MsisdnPurpose) (phone.MSISDN, error)
	// EndMsisdnSession forgets a session once it has been used.
	EndMsisdnSession(ctx context.Context, sid string) error
	// Threepids are the account's bound 3PIDs, oldest first.
	Threepids(ctx context.Context, localpart Localpart) ([]Threepid, error)
	// ThreepidOwner finds the account a 3PID is bound to: ErrThreepidNotFound if none.
	ThreepidOwner(ctx context.Context, medium, address string) (Localpart, error)
	// BindThreepid binds a 3PID to the account: ErrThreepidInUse when another holds it.
	BindThreepid(ctx context.Context, localpart Localpart, medium, address string) error
	// UnbindThreepid removes a 3PID from the account: ErrThreepidNotFound when it has no such 3PID.
	UnbindThreepid(ctx context.Context, localpart Localpart, medium, address string) error
}

// Errors of phone verification (spec: "POST /register/msisdn/requestToken";
// the identity service API's submitToken errors, which submit_url shares).
var (
	ErrThreepidInUse    = coded.New("this phone number is already bound to an account", http.StatusBadRequest, "M_THREEPID_IN_USE")
	ErrThreepidNotFound = coded.New("this phone number is not bound to an account",
		http.StatusBadRequest, "M_THREEPID_NOT_FOUND")
	ErrThreepidDenied = coded.New("phone numbers may not be used here", http.StatusForbidden, "M_THREEPID_DENIED")
	// ErrNoValidSession is an unknown sid or a wrong client_secret: one
	// answer for both.
	ErrNoValidSession = coded.New("no verification session has this sid and client_secret",
		http.StatusBadRequest, "M_NO_VALID_SESSION")
	ErrSessionNotValidated = coded.New("the phone number has not been verified: submit the code first",
		http.StatusBadRequest, "M_SESSION_NOT_VALIDATED")
	ErrSessionExpired = coded.New("the verification session has expired or had too many wrong codes: request a new code",
		http.StatusBadRequest, "M_SESSION_EXPIRED")
	ErrTokenIncorrect = coded.New("the verification code is not correct", http.StatusBadRequest, "M_TOKEN_INCORRECT")
	ErrInvalidNumber  = coded.New("not a valid telephone number", http.StatusBadRequest, "M_INVALID_PARAM")
)

// SMSError is a provider's failure to send: M_UNKNOWN with a readable
// message. It never carries the code.
type SMSError struct{ Err error }

func (e *SMSError) Error() string { return "the text message could not be sent: " + e.Err.Error() }
func (e *SMSError) Unwrap() error { return e.Err }

// MatrixCode answers 502: the failure is the provider's, not the client's.
func (e *SMSError) MatrixCode() (int, string) { return http.StatusBadGateway, "M_UNKNOWN" }

// RateLimitedError is 429 M_LIMIT_EXCEEDED with retry_after_ms.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return "too many verification codes requested; retry in " + strconv.FormatInt(e.RetryAfter.Milliseconds(), 10) + " ms"
}

// MatrixCode is the status and errcode of the error.
func (e *RateLimitedError) MatrixCode() (int, string) {
	return http.StatusTooManyRequests, "M_LIMIT_EXCEEDED"
}

// MatrixExtra adds retry_after_ms.
func (e *RateLimitedError) MatrixExtra() map[string]any {
	return map[string]any{"retry_after_ms": e.RetryAfter.Milliseconds()}
}
