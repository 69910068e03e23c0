package internal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/myelin-im/myelin/userapi/api"
)

// A lock or suspension holds from the account's next request, although
// the token was cached before; lifting it does too. A locked account gets
// no new session.
func TestModerationReachesCachedTokens(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "a", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "a"})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func() *api.Device {
		t.Helper()
		d, err := u.QueryAccessToken(ctx, s.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := lookup(); d.Locked || d.Suspended {
		t.Fatalf("fresh account: %+v", d)
	}
	lookup() // now cached
	if err := u.SetLocked(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := u.SetSuspended(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if d := lookup(); !d.Locked || !d.Suspended {
		t.Fatalf("after lock and suspension: %+v", d)
	}
	if _, err := api.Authenticate(ctx, u, s.AccessToken); !errors.Is(err, api.ErrUserLocked) {
		t.Fatalf("authenticate a locked account: %v", err)
	}
	if _, err := api.AuthenticateEvenLocked(ctx, u, s.AccessToken); err != nil {
		t.Fatalf("authenticate a locked account for logout: %v", err)
	}
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "a"}); !errors.Is(err, api.ErrUserLocked) {
		t.Fatalf("new session of a locked account: %v", err)
	}
	if err := u.SetLocked(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if d := lookup(); d.Locked || !d.Suspended {
		t.Fatalf("after unlock: %+v", d)
	}
	if err := u.SetLocked(ctx, "nobody", true); !errors.Is(err, api.ErrNoSuchAccount) {
		t.Fatalf("lock a missing account: %v", err)
	}
}

// An admin's login as a user may end at a given time.
func TestSessionWithExpiry(t *testing.T) {
	u := testAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "a"}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour)
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "a", ExpiresTS: until.UnixMilli()})
	if err != nil || s.RefreshToken != "" {
		t.Fatalf("session %+v, %v", s, err)
	}
	if _, err := u.QueryAccessToken(ctx, s.AccessToken); err != nil {
		t.Fatal(err)
	}
	u.SetClock(func() time.Time { return until.Add(time.Second) })
	if _, err := u.QueryAccessToken(ctx, s.AccessToken); !errors.Is(err, api.ErrTokenExpired) {
		t.Fatalf("after valid_until: %v", err)
	}
}
