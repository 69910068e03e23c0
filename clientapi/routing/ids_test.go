package routing_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/routing"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestMalformedIdentifiers sends identifiers that break the spec's grammar
// in JSON bodies and query strings, on both databases: each is refused with
// a 4xx Matrix error before it reaches storage or another server (a NUL
// reaching PostgreSQL used to answer 500, a malformed server name 502), and
// the server logs no error.
func TestMalformedIdentifiers(t *testing.T) {
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			testMalformedIdentifiers(t, d)
		})
	}
}

func testMalformedIdentifiers(t *testing.T, dialect sqlutil.Dialect) {
	f := newServer(t, serverOpts{db: sqltest.Open(t, dialect), federation: true, config: func(c *config.Config) {
		c.ClientAPI.Registration = routing.RegistrationToken
	}})
	alice := f.User(t, "alice")
	room := f.Room(t, alice)
	inRoom := "/rooms/" + url.PathEscape(room)
	long := strings.Repeat("a", 300)
	loginAs := func(user string) string {
		return `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"` + user + `"},"password":"x"}`
	}
	run(t, f, []call{
		// The requests of the hostile sweep (issue 11).
		{"login NUL in user", "POST", "/login", "", loginAs(`a\u0000b`), 403, "M_FORBIDDEN", nil},
		{"alias to NUL room ID (another server's alias)", "PUT", "/directory/room/%23x%3Alocalhost", alice.Token,
			`{"room_id":"!a\u0000b:localhost"}`, 400, "M_INVALID_PARAM", nil},
		{"alias to NUL room ID", "PUT", "/directory/room/%23x%3Atest.local", alice.Token,
			`{"room_id":"!a\u0000b:localhost"}`, 400, "M_INVALID_PARAM", nil},
		{"publicRooms server NUL", "GET", "/publicRooms?server=a%00b", "", nil, 400, "M_INVALID_PARAM", nil},
		{"publicRooms server with space and !", "GET", "/publicRooms?server=bad%20server!", "", nil, 400, "M_INVALID_PARAM", nil},
		{"publicRooms server 300 bytes", "GET", "/publicRooms?server=" + long, "", nil, 400, "M_INVALID_PARAM", nil},
		{"POST publicRooms server NUL", "POST", "/publicRooms?server=a%00b", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},

		// The same kinds of identifier elsewhere.
		{"login NUL in user ID", "POST", "/login", "", loginAs(`@a\u0000b:test.local`), 403, "M_FORBIDDEN", nil},
		{"login legacy user NUL", "POST", "/login", "", `{"type":"m.login.password","user":"a\u0000b","password":"x"}`,
			403, "M_FORBIDDEN", nil},
		{"login user 300 bytes", "POST", "/login", "", loginAs(long), 403, "M_FORBIDDEN", nil},
		{"register username NUL", "POST", "/register", "", `{"username":"a\u0000b","password":"long enough"}`,
			400, "M_INVALID_USERNAME", nil},
		{"register available NUL", "GET", "/register/available?username=a%00b", "", nil, 400, "M_INVALID_USERNAME", nil},
		{"invite NUL user", "POST", inRoom + "/invite", alice.Token, `{"user_id":"@a\u0000b:test.local"}`, 400, "M_INVALID_PARAM", nil},
		{"ban user on a bad server", "POST", inRoom + "/ban", alice.Token, `{"user_id":"@bob:bad server"}`, 400, "M_INVALID_PARAM", nil},
		{"kick user 300 bytes", "POST", inRoom + "/kick", alice.Token, `{"user_id":"@` + long + `:test.local"}`,
			400, "M_INVALID_PARAM", nil},
		{"createRoom invite NUL", "POST", "/createRoom", alice.Token, `{"invite":["@a\u0000b:test.local"]}`, 400, "M_INVALID_PARAM", nil},
		{"join via NUL", "POST", "/join/" + url.PathEscape("!r:elsewhere.test") + "?via=a%00b", alice.Token, `{}`,
			400, "M_INVALID_PARAM", nil},
		{"join server_name malformed", "POST", "/join/" + url.PathEscape("!r:elsewhere.test") + "?server_name=bad%20server!",
			alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"join alias on a bad server", "POST", "/join/" + url.PathEscape("#a:bad server"), alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"redact malformed event ID", "PUT", inRoom + "/redact/" + url.PathEscape("$a b") + "/t1", alice.Token, `{}`,
			400, "M_INVALID_PARAM", nil},
		{"canonical alias NUL", "PUT", inRoom + "/state/m.room.canonical_alias", alice.Token, `{"alias":"#a\u0000b:test.local"}`,
			400, "M_INVALID_PARAM", nil},
		{"delete devices NUL", "POST", "/delete_devices", alice.Token, `{"devices":["a\u0000b"]}`, 400, "M_INVALID_PARAM", nil},
		{"registration token NUL", "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=a%00b", "", nil,
			200, "", equals("valid", false)},
		{"registration token 65 characters", "GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=" + long[:65],
			"", nil, 200, "", equals("valid", false)},
		{"register with a NUL token", "POST", "/register", "",
			`{"username":"bob","password":"long enough","auth":{"type":"m.login.registration_token","token":"a\u0000b"}}`,
			401, "M_UNAUTHORIZED", nil},
		{"profile of a user on a bad server", "GET", "/profile/" + url.PathEscape("@a:bad server"), "", nil, 400, "M_INVALID_PARAM", nil},
	})

	// A well-formed server name still goes out, and an unreachable one is
	// still 502 (this one is refused by the federation transport at once:
	// private networks are off).
	t.Run("publicRooms of an unreachable server", func(t *testing.T) {
		f.Do(t, http.MethodGet, "/_matrix/client/v3/publicRooms?server=127.0.0.1:1", "", nil).Want(t, http.StatusBadGateway, "M_UNKNOWN")
	})
}
