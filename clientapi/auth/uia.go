// Package auth holds the user-interactive authentication (UIA) sessions of
// the spec: flows, stages and sessions kept in the shared cache.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/httputil"
)

// Login and UIA stage types from the spec.
const (
	StageDummy             = "m.login.dummy"
	StagePassword          = "m.login.password"
	StageRegistrationToken = "m.login.registration_token"
	StageMsisdn            = "m.login.msisdn"
	// LoginMsisdn is the product's login by SMS code (ARCHITECTURE.md §1
	// row 5), listed by GET /v3/login.
	LoginMsisdn = "im.myelin.login.msisdn"
)

// Flow is one sequence of stages that completes authentication.
type Flow struct {
	Stages []string `json:"stages"`
}

// Session is the server's memory of one UIA session.
type Session struct {
	ID string `json:"-"`
	// Purpose binds a session to the operation it was started for, so a
	// session completed to change a password cannot delete devices.
	Purpose   string   `json:"purpose"`
	UserID    string   `json:"user_id,omitempty"`
	Completed []string `json:"completed"`
	// Data keeps what stages learned (e.g. the registration token used).
	Data map[string]string `json:"data,omitempty"`
}

// Challenge is the 401 body of the spec's "User-interactive API in the REST
// API", optionally with an errcode when a stage attempt failed.
type Challenge struct {
	Flows     []Flow         `json:"flows"`
	Params    map[string]any `json:"params"`
	Session   string         `json:"session"`
	Completed []string       `json:"completed,omitempty"`
	ErrCode   string         `json:"errcode,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// ChallengeError carries a Challenge to the client as a 401.
type ChallengeError struct{ Challenge Challenge }

func (e *ChallengeError) Error() string {
	return fmt.Sprintf("user-interactive authentication required (%s)", e.Challenge.ErrCode)
}

// WriteResponse writes the challenge as the 401 response.
func (e *ChallengeError) WriteResponse(w http.ResponseWriter) {
	httputil.WriteJSON(w, http.StatusUnauthorized, e.Challenge)
}

// ErrUnknownSession is returned for a session ID the server does not know
// (expired, never issued, or issued for another operation).
var ErrUnknownSession = httputil.BadRequestUnknown("Unknown or expired user-interactive authentication session")

// AuthDict is the `auth` object of a request.
type AuthDict struct {
	Type    string `json:"type"`
	Session string `json:"session"`
	// m.login.password
	Identifier *Identifier `json:"identifier"`
	User       string      `json:"user"` // legacy
	Password   string      `json:"password"`
	// m.login.registration_token
	Token string `json:"token"`
	// m.login.msisdn (spec: "Phone number/MSISDN-based (identity / homeserver)");
	// threepidCreds is the older spelling, still sent by some clients.
	ThreepidCreds       *ThreepidCreds `json:"threepid_creds"`
	LegacyThreepidCreds *ThreepidCreds `json:"threepidCreds"`
}

// ThreepidCreds names a verification session.
type ThreepidCreds struct {
	SID          string `json:"sid"`
	ClientSecret string `json:"client_secret"`
}

// Creds returns the stage's threepid_creds, in either spelling, or nil.
func (d *AuthDict) Creds() *ThreepidCreds {
	if d.ThreepidCreds != nil {
		return d.ThreepidCreds
	}
	return d.LegacyThreepidCreds
}

// Identifier is a user identifier (spec: "Identifier types").
type Identifier struct {
	Type    string `json:"type"`
	User    string `json:"user"`
	Medium  string `json:"medium"`
	Address string `json:"address"`
	Country string `json:"country"`
	Phone   string `json:"phone"`
}

// Sessions stores UIA sessions in the shared cache, so any process of a split
// deployment can continue a session another one started.
type Sessions struct {
	cache cache.Cache
	ttl   time.Duration
}

// NewSessions returns a session store whose sessions live for ttl.
func NewSessions(c cache.Cache, ttl time.Duration) *Sessions {
	return &Sessions{cache: c, ttl: ttl}
}

const sessionPrefix = "uia:"

// New starts a session for purpose.
func (s *Sessions) New(ctx context.Context, purpose, userID string) (*Session, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	sess := &Session{ID: base64.RawURLEncoding.EncodeToString(b[:]), Purpose: purpose, UserID: userID, Completed: []string{}}
	return sess, s.Save(ctx, sess)
}

// Get loads a session; ErrUnknownSession if it is unknown or belongs to
// another purpose or user.
func (s *Sessions) Get(ctx context.Context, id, purpose, userID string) (*Session, error) {
	b, ok, err := s.cache.Get(ctx, sessionPrefix+id)
	if err != nil {
		return nil, fmt.Errorf("uia: loading session: %w", err)
	}
	if !ok {
		return nil, ErrUnknownSession
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, ErrUnknownSession
	}
	sess.ID = id
	if sess.Purpose != purpose || sess.UserID != userID {
		return nil, ErrUnknownSession
	}
	return &sess, nil
}

// Save stores a session.
func (s *Sessions) Save(ctx context.Context, sess *Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if err := s.cache.Set(ctx, sessionPrefix+sess.ID, b, s.ttl); err != nil {
		return fmt.Errorf("uia: saving session: %w", err)
	}
	return nil
}

// Delete ends a session once the operation it guarded has succeeded.
func (s *Sessions) Delete(ctx context.Context, id string) {
	_ = s.cache.Delete(ctx, sessionPrefix+id)
}

// Done reports whether the completed stages finish one of flows.
func Done(flows []Flow, completed []string) bool {
	for _, f := range flows {
		all := true
		for _, st := range f.Stages {
			if !slices.Contains(completed, st) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// Offered reports whether stage is part of any flow.
func Offered(flows []Flow, stage string) bool {
	for _, f := range flows {
		if slices.Contains(f.Stages, stage) {
			return true
		}
	}
	return false
}

// IsChallenge reports whether err is a UIA challenge, and returns it.
func IsChallenge(err error) (*ChallengeError, bool) {
	var ce *ChallengeError
	ok := errors.As(err, &ce)
	return ce, ok
}
