package federationapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestOpenIDUserInfo: a token made for a local user is exchanged, without
// a request signature, for {"sub": user ID}; anything else is 401
// M_UNKNOWN_TOKEN (spec: GET /_matrix/federation/v1/openid/userinfo).
func TestOpenIDUserInfo(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	tok, err := f.Users.CreateOpenIDToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := f.Users.CreateOpenIDToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	const path = "/_matrix/federation/v1/openid/userinfo"
	tests := []struct {
		name    string
		query   string
		status  int
		errcode string
	}{
		{"valid", "?access_token=" + url.QueryEscape(tok.AccessToken), http.StatusOK, ""},
		{"unknown", "?access_token=nope", http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
		{"empty", "?access_token=", http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
		{"missing", "", http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
		{"an access token is not an OpenID token", "?access_token=" + url.QueryEscape(alice.Token),
			http.StatusUnauthorized, "M_UNKNOWN_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do(t, http.MethodGet, path+tc.query, "", nil)
			res.Want(t, tc.status, tc.errcode)
			if tc.status == http.StatusOK && res.JSON()["sub"] != alice.ID {
				t.Fatalf("sub: %s", res.Body)
			}
		})
	}
	// An hour later the tokens have expired.
	f.Users.(interface{ SetClock(func() time.Time) }).SetClock(func() time.Time { return time.Now().Add(time.Hour + time.Second) })
	f.Do(t, http.MethodGet, path+"?access_token="+url.QueryEscape(expired.AccessToken), "", nil).
		Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	f.Do(t, http.MethodPost, path, "", nil).Want(t, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
}
