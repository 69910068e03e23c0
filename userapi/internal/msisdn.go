package internal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/phone"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/sms"
)

// MsisdnOptions configure phone verification (config.Msisdn).
type MsisdnOptions struct {
	CodeLifetime   time.Duration
	MaxAttempts    int
	SendWindow     time.Duration
	SendsPerNumber int
	SendsPerIP     int
	// Template is the message text; "{code}" is replaced by the code.
	Template string
	// Sender sends the messages; nil: codes cannot be sent (every request
	// fails with api.SMSError).
	Sender sms.Sender
}

// DefaultSMSTemplate is the text of a verification message.
const DefaultSMSTemplate = "Your verification code is {code}. It expires in 10 minutes."

func (o *MsisdnOptions) defaults() {
	if o.CodeLifetime <= 0 {
		o.CodeLifetime = 10 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.SendWindow <= 0 {
		o.SendWindow = time.Hour
	}
	if o.SendsPerNumber <= 0 {
		o.SendsPerNumber = 5
	}
	if o.SendsPerIP <= 0 {
		o.SendsPerIP = 20
	}
	if o.Template == "" {
		o.Template = DefaultSMSTemplate
	}
}

// msisdnSession is a verification session as kept in the cache: shared by
// every process, gone when the cache forgets it. The code and the client
// secret are kept only as hashes.
type msisdnSession struct {
	SID        string            `json:"sid"`
	SecretHash string            `json:"secret_hash"`
	MSISDN     phone.MSISDN      `json:"msisdn"`
	Purpose    api.MsisdnPurpose `json:"purpose"`
	CodeHash   string            `json:"code_hash"`
	// ExpiresMs is when the code stops being accepted; once validated, when
	// the session stops proving the number.
	ExpiresMs   int64 `json:"expires_ms"`
	ValidatedMs int64 `json:"validated_ms,omitempty"`
}

// lastAttempt remembers the last send attempt of one client secret for one
// number and purpose (spec: send_attempt).
type lastAttempt struct {
	SID     string `json:"sid"`
	Attempt int64  `json:"attempt"`
}

const (
	msisdnSessionKey  = "msisdn:session:"
	msisdnAttemptsKey = "msisdn:attempts:"
	msisdnLastKey     = "msisdn:last:"
	msisdnLimitKey    = "msisdn:limit:"
)

// keepFor is how long the cache keeps a session: twice its lifetime, so that
// a late submission is told the session expired rather than that it never was.
func (u *UserAPI) keepFor() time.Duration { return 2 * u.msisdn.CodeLifetime }

// RequestMsisdnToken implements api.PhoneNumbers.
func (u *UserAPI) RequestMsisdnToken(ctx context.Context, req api.MsisdnTokenRequest) (*api.MsisdnSession, error) {
	if err := u.checkNumberFor(ctx, req.Purpose, req.Number.MSISDN); err != nil {
		return nil, err
	}
	lastKey := msisdnLastKey + string(req.Purpose) + ":" + hashHex(req.ClientSecret) + ":" + string(req.Number.MSISDN)
	if sid, ok := u.repeatedAttempt(ctx, lastKey, req.SendAttempt); ok {
		return &api.MsisdnSession{SID: sid, Number: req.Number}, nil
	}
	if err := u.checkSendLimits(ctx, req.Number.MSISDN, req.IP); err != nil {
		return nil, err
	}
	sid, err := u.startMsisdnSession(ctx, req)
	if err != nil {
		return nil, err
	}
	last, err := json.Marshal(lastAttempt{SID: sid, Attempt: req.SendAttempt})
	if err != nil {
		return nil, err
	}
	if err := u.cache.Set(ctx, lastKey, last, u.keepFor()); err != nil {
		return nil, fmt.Errorf("userapi: recording the send attempt: %w", err)
	}
	return &api.MsisdnSession{SID: sid, Number: req.Number}, nil
}

// checkNumberFor refuses a number that cannot serve purpose: one already
// bound, to register or add; one bound to no active account, to log in.
func (u *UserAPI) checkNumberFor(ctx context.Context, purpose api.MsisdnPurpose, msisdn phone.MSISDN) error {
	owner, err := u.store.ThreepidOwner(ctx, api.MediumMSISDN, string(msisdn))
	switch {
	case errors.Is(err, api.ErrThreepidNotFound):
		if purpose == api.MsisdnLogin {
			return api.ErrThreepidNotFound
		}
		return nil
	case err != nil:
		return err
	case purpose != api.MsisdnLogin:
		return api.ErrThreepidInUse
	}
	acct, err := u.store.Account(ctx, owner)
	if err != nil {
		return err
	}
	if acct.Deactivated {
		return api.ErrThreepidNotFound
	}
	return nil
}

// repeatedAttempt reports the session of the last attempt when this request
// repeats it (an attempt number not above the last) and the session lives.
func (u *UserAPI) repeatedAttempt(ctx context.Context, lastKey string, attempt int64) (string, bool) {
	b, ok, err := u.cache.Get(ctx, lastKey)
	if err != nil || !ok {
		return "", false
	}
	var last lastAttempt
	if json.Unmarshal(b, &last) != nil || attempt > last.Attempt {
		return "", false
	}
	if _, err := u.loadMsisdnSession(ctx, last.SID); err != nil {
		return "", false
	}
	return last.SID, true
}

// checkSendLimits counts one send against the number and the client address
// in fixed windows kept in the cache, so every process counts together.
func (u *UserAPI) checkSendLimits(ctx context.Context, msisdn phone.MSISDN, ip string) error {
	now := time.UnixMilli(u.nowMs())
	window := now.UnixNano() / int64(u.msisdn.SendWindow)
	retry := time.Unix(0, (window+1)*int64(u.msisdn.SendWindow)).Sub(now)
	limits := []struct {
		key string
		max int
	}{
		{fmt.Sprintf("%snumber:%s:%d", msisdnLimitKey, msisdn, window), u.msisdn.SendsPerNumber},
		{fmt.Sprintf("%sip:%s:%d", msisdnLimitKey, ip, window), u.msisdn.SendsPerIP},
	}
	for _, l := range limits {
		n, err := u.cache.Incr(ctx, l.key, 1, u.msisdn.SendWindow+time.Minute)
		if err != nil {
			return fmt.Errorf("userapi: counting SMS sends: %w", err)
		}
		if n > int64(l.max) {
			return &api.RateLimitedError{RetryAfter: retry}
		}
	}
	return nil
}

// startMsisdnSession makes a session with a fresh code and sends the code.
func (u *UserAPI) startMsisdnSession(ctx context.Context, req api.MsisdnTokenRequest) (string, error) {
	sid, err := randomSID()
	if err != nil {
		return "", err
	}
	code, err := randomCode()
	if err != nil {
		return "", err
	}
	s := msisdnSession{
		SID: sid, SecretHash: hashHex(req.ClientSecret), MSISDN: req.Number.MSISDN, Purpose: req.Purpose,
		CodeHash: codeHash(sid, code), ExpiresMs: u.nowMs() + u.msisdn.CodeLifetime.Milliseconds(),
	}
	if err := u.saveMsisdnSession(ctx, &s); err != nil {
		return "", err
	}
	if err := u.sendCode(ctx, req.Number, code); err != nil {
		_ = u.cache.Delete(ctx, msisdnSessionKey+sid)
		return "", err
	}
	return sid, nil
}

// sendCode sends the code by SMS. A failure (which the sender has logged,
// without the code) is answered as api.SMSError.
func (u *UserAPI) sendCode(ctx context.Context, n phone.Number, code string) error {
	if u.msisdn.Sender == nil {
		return &api.SMSError{Err: errors.New("no SMS provider is configured")}
	}
	body := strings.ReplaceAll(u.msisdn.Template, "{code}", code)
	if err := u.msisdn.Sender.Send(ctx, sms.Message{To: n.E164, Body: body, Code: code}); err != nil {
		return &api.SMSError{Err: err}
	}
	return nil
}

// SubmitMsisdnToken implements api.PhoneNumbers. Every submission counts
// against the session's attempts, the right one too, so that concurrent
// guesses cannot exceed the limit.
func (u *UserAPI) SubmitMsisdnToken(ctx context.Context, sid, clientSecret, token string) error {
	s, err := u.ownedMsisdnSession(ctx, sid, clientSecret)
	if err != nil {
		return err
	}
	if s.ValidatedMs == 0 && u.nowMs() > s.ExpiresMs {
		return api.ErrSessionExpired
	}
	n, err := u.cache.Incr(ctx, msisdnAttemptsKey+sid, 1, u.keepFor())
	if err != nil {
		return fmt.Errorf("userapi: counting code attempts: %w", err)
	}
	if n > int64(u.msisdn.MaxAttempts) {
		return api.ErrSessionExpired
	}
	want := []byte(s.CodeHash)
	if subtle.ConstantTimeCompare([]byte(codeHash(sid, strings.TrimSpace(token))), want) != 1 {
		return api.ErrTokenIncorrect
	}
	if s.ValidatedMs != 0 {
		return nil
	}
	s.ValidatedMs = u.nowMs()
	s.ExpiresMs = s.ValidatedMs + u.msisdn.CodeLifetime.Milliseconds()
	return u.saveMsisdnSession(ctx, s)
}

// ValidatedMsisdn implements api.PhoneNumbers. A session started for
// another purpose is unknown here.
func (u *UserAPI) ValidatedMsisdn(ctx context.Context, sid, clientSecret string, purpose api.MsisdnPurpose) (phone.MSISDN, error) {
	s, err := u.ownedMsisdnSession(ctx, sid, clientSecret)
	if err != nil {
		return "", err
	}
	switch {
	case s.Purpose != purpose:
		return "", api.ErrNoValidSession
	case s.ValidatedMs == 0:
		return "", api.ErrSessionNotValidated
	case u.nowMs() > s.ExpiresMs:
		return "", api.ErrSessionExpired
	}
	return s.MSISDN, nil
}

// EndMsisdnSession implements api.PhoneNumbers.
func (u *UserAPI) EndMsisdnSession(ctx context.Context, sid string) error {
	if err := u.cache.Delete(ctx, msisdnSessionKey+sid, msisdnAttemptsKey+sid); err != nil {
		return fmt.Errorf("userapi: ending a verification session: %w", err)
	}
	return nil
}

// ownedMsisdnSession loads a session and checks the client secret: a
// missing session and a wrong secret are the same error.
func (u *UserAPI) ownedMsisdnSession(ctx context.Context, sid, clientSecret string) (*msisdnSession, error) {
	s, err := u.loadMsisdnSession(ctx, sid)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(s.SecretHash), []byte(hashHex(clientSecret))) != 1 {
		return nil, api.ErrNoValidSession
	}
	return s, nil
}

func (u *UserAPI) loadMsisdnSession(ctx context.Context, sid string) (*msisdnSession, error) {
	if sid == "" || len(sid) > 255 {
		return nil, api.ErrNoValidSession
	}
	b, ok, err := u.cache.Get(ctx, msisdnSessionKey+sid)
	if err != nil {
		return nil, fmt.Errorf("userapi: reading a verification session: %w", err)
	}
	var s msisdnSession
	if !ok || json.Unmarshal(b, &s) != nil || s.SID != sid {
		return nil, api.ErrNoValidSession
	}
	return &s, nil
}

func (u *UserAPI) saveMsisdnSession(ctx context.Context, s *msisdnSession) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := u.cache.Set(ctx, msisdnSessionKey+s.SID, b, u.keepFor()); err != nil {
		return fmt.Errorf("userapi: saving a verification session: %w", err)
	}
	return nil
}

// randomCode is six random decimal digits.
func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("userapi: making a code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func randomSID() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("userapi: making a session ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// codeHash binds the code to its session, so equal codes of two sessions
// hash differently.
func codeHash(sid, code string) string { return hashHex(sid + ":" + code) }

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
