package routing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/userapi/api"
)

// TestOpenIDHandlers covers openid.go: a token only for oneself, with the
// spec's fields, that the user API then exchanges for its owner.
func TestOpenIDHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	path := "/user/" + alice.ID + "/openid/request_token"
	run(t, f, []call{
		{"without token", "POST", path, "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"for another user", "POST", path, bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"malformed user", "POST", "/user/alice/openid/request_token", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"not JSON", "POST", path, alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "POST", path, alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"GET", "GET", path, alice.Token, nil, 405, "M_UNRECOGNIZED", nil},
		{"a token", "POST", path, alice.Token, `{}`, 200, "", func(t *testing.T, r *fixture.Response) {
			m := r.JSON()
			if m["token_type"] != "Bearer" || m["matrix_server_name"] != "test.local" || m["expires_in"] != float64(3600) {
				t.Fatalf("token answer %s", r.Body)
			}
			tok, _ := m["access_token"].(string)
			sub, err := f.Users.OpenIDUserInfo(context.Background(), tok)
			if err != nil || sub != alice.ID {
				t.Fatalf("token %q names %q, %v", tok, sub, err)
			}
		}},
	})
	// Deactivation takes the user's OpenID tokens with it.
	res := f.Do(t, "POST", "/_matrix/client/v3"+path, alice.Token, `{}`)
	res.Want(t, 200)
	tok, _ := res.JSON()["access_token"].(string)
	if err := f.Users.Deactivate(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if sub, err := f.Users.OpenIDUserInfo(context.Background(), tok); !errors.Is(err, api.ErrUnknownToken) {
		t.Fatalf("a deactivated user's token names %q, %v", sub, err)
	}
}
