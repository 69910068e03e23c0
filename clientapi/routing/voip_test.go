package routing_test

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API's HMAC
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestTurnServerHandlers covers voip.go's GET /voip/turnServer: {} without
// TURN servers, fixed credentials as configured, and with a shared secret
// credentials of the TURN REST API's form for the caller, expiring after
// the ttl.
func TestTurnServerHandlers(t *testing.T) {
	uris := []string{"turn:turn.test.local:3478?transport=udp", "turns:turn.test.local:5349?transport=tcp"}
	tests := []struct {
		name  string
		turn  config.TURN
		check func(t *testing.T, f *fixture.Fixture, u *fixture.User, r *fixture.Response)
	}{
		{"not configured", config.TURN{TTL: config.Duration(time.Hour)},
			func(t *testing.T, _ *fixture.Fixture, _ *fixture.User, r *fixture.Response) { body(`{}`)(t, r) }},
		{"fixed credentials", config.TURN{URIs: uris, Username: "u", Password: "p", TTL: config.Duration(time.Hour)},
			func(t *testing.T, _ *fixture.Fixture, _ *fixture.User, r *fixture.Response) {
				body(`{"username":"u","password":"p","uris":["`+strings.Join(uris, `","`)+`"],"ttl":3600}`)(t, r)
			}},
		{"shared secret", config.TURN{URIs: uris, SharedSecret: "s3cret", TTL: config.Duration(2 * time.Hour)},
			func(t *testing.T, _ *fixture.Fixture, u *fixture.User, r *fixture.Response) {
				var a struct {
					Username, Password string
					URIs               []string
					TTL                int64
				}
				r.Decode(t, &a)
				exp, user, _ := strings.Cut(a.Username, ":")
				expiry, err := strconv.ParseInt(exp, 10, 64)
				if err != nil || user != u.ID || a.TTL != 7200 || len(a.URIs) != 2 {
					t.Fatalf("answer %s", r.Body)
				}
				if left := time.Until(time.Unix(expiry, 0)); left < 2*time.Hour-time.Minute || left > 2*time.Hour+time.Second {
					t.Fatalf("expires in %s, want 2h", left)
				}
				mac := hmac.New(sha1.New, []byte("s3cret"))
				mac.Write([]byte(a.Username))
				if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); a.Password != want {
					t.Fatalf("password %q, want %q", a.Password, want)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newServer(t, serverOpts{config: func(c *config.Config) { c.TURN = tc.turn }})
			u := f.User(t, "alice")
			f.Do(t, "GET", "/_matrix/client/v3/voip/turnServer", "", nil).Want(t, 401, "M_MISSING_TOKEN")
			f.Do(t, "POST", "/_matrix/client/v3/voip/turnServer", u.Token, `{}`).Want(t, 405, "M_UNRECOGNIZED")
			res := f.Do(t, "GET", "/_matrix/client/v3/voip/turnServer", u.Token, nil)
			res.Want(t, 200)
			tc.check(t, f, u, res)
		})
	}
}

// TestWellKnownSupportHandler covers voip.go's GET /.well-known/matrix/support:
// 404 with nothing configured, else the contacts and page as configured.
func TestWellKnownSupportHandler(t *testing.T) {
	tests := []struct {
		name    string
		support config.Support
		status  int
		want    string
	}{
		{"not configured", config.Support{}, 404, ""},
		{"page only", config.Support{SupportPage: "https://test.local/help"}, 200, `{"support_page":"https://test.local/help"}`},
		{"contacts", config.Support{Contacts: []config.SupportContact{
			{MatrixID: "@admin:test.local", EmailAddress: "admin@test.local", Role: "m.role.admin"},
			{EmailAddress: "security@test.local", Role: "m.role.security"},
		}}, 200, `{"contacts":[{"matrix_id":"@admin:test.local","email_address":"admin@test.local","role":"m.role.admin"},` +
			`{"email_address":"security@test.local","role":"m.role.security"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newServer(t, serverOpts{config: func(c *config.Config) { c.Support = tc.support }})
			res := f.Do(t, "GET", "/.well-known/matrix/support", "", nil)
			if tc.status == 404 {
				res.Want(t, 404, "M_NOT_FOUND")
				return
			}
			res.Want(t, tc.status)
			body(tc.want)(t, res)
		})
	}
}
