package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi"
	"github.com/myelin-im/myelin/clientapi/admin"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi"
	"github.com/myelin-im/myelin/test/fixture"
)

// Handler tests: each file's tests drive its handlers through the admin
// API's routes (beside the client API's, as in production), on the shared
// fixture's real user API and roomserver, through the production
// middleware. A request answered 500 fails the test.

// server is a fixture with the client and admin APIs, an admin and a user.
type server struct {
	*fixture.Fixture
	Admin *admin.Admin
	// Media is the media component, at f.Config.MediaBasePath().
	Media *mediaapi.MediaAPI
	// Root is a server admin; Alice is not.
	Root, Alice *fixture.User
}

// newServer builds a server on db (nil: a fresh SQLite database), with
// server notices from @_server.
func newServer(t *testing.T, db *sqlutil.DB) *server {
	return newServerWith(t, db, func(c *config.Config) {
		c.ServerNotices = config.ServerNotices{SystemMXIDLocalpart: "_server",
			SystemMXIDDisplayName: "Server", RoomName: "Server Notices"}
	})
}

// newServerWith is newServer with configure changing the configuration
// first.
func newServerWith(t *testing.T, db *sqlutil.DB, configure func(*config.Config)) *server {
	t.Helper()
	var f *fixture.Fixture
	if db == nil {
		f = fixture.New(t)
	} else {
		f = fixture.NewOn(t, db)
	}
	configure(f.Config)
	clientapi.Setup(f.Router, f.Config, f.Users, f.Rooms, f.Cache, nil, nil, f.Log)
	media, err := mediaapi.New(context.Background(), mediaapi.Options{ServerName: f.ServerName, Config: f.Config.MediaAPI,
		BasePath: f.Config.MediaBasePath(), DB: f.DB, Users: f.Users, Router: f.Router, Log: f.Log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = media.Close() })
	a, err := admin.Setup(context.Background(), f.Router, admin.Deps{
		ServerName: f.ServerName, Version: "test-version", Users: f.Users, Rooms: f.Rooms,
		ServerNotices: f.Config.ServerNotices, Media: media, DB: f.DB, Log: f.Log,
		RoomExport: f.Rooms,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.FailOnErrorLogs(t)
	return &server{Fixture: f, Admin: a, Media: media, Root: f.AdminUser(t, "root"), Alice: f.User(t, "alice")}
}

// call is one request of a handler table test and what it must get.
type call struct {
	name    string
	method  string
	path    string // under /_synapse/admin unless it starts with /_
	token   string
	body    any // see fixture.Do
	status  int
	errcode string                                  // "" for a success
	check   func(t *testing.T, r *fixture.Response) // more about a response
}

// run sends each call as a subtest, in order.
func run(t *testing.T, s *server, calls []call) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			res := s.Do(t, c.method, adminPath(c.path), c.token, c.body)
			res.Want(t, c.status, c.errcode)
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func adminPath(p string) string {
	if strings.HasPrefix(p, "/_") {
		return p
	}
	return "/_synapse/admin" + p
}

// refusals are the calls every admin route must refuse: no token (401
// M_MISSING_TOKEN) and a user who is not an admin (403 M_FORBIDDEN).
func refusals(s *server, method, path string, body any) []call {
	return []call{
		{name: method + " " + path + " without a token", method: method, path: path, body: body,
			status: http.StatusUnauthorized, errcode: "M_MISSING_TOKEN"},
		{name: method + " " + path + " by a non-admin", method: method, path: path, token: s.Alice.Token, body: body,
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
	}
}

func TestServerVersion(t *testing.T) {
	s := newServer(t, nil)
	run(t, s, []call{
		{name: "without a token", method: http.MethodGet, path: "/v1/server_version", status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["server_version"] != "test-version" {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "wrong method", method: http.MethodPost, path: "/v1/server_version", status: http.StatusMethodNotAllowed,
			errcode: "M_UNRECOGNIZED"},
	})
}

func TestAuditLogRefusesNonAdmins(t *testing.T) {
	s := newServer(t, nil)
	run(t, s, refusals(s, http.MethodGet, "/v1/audit_log", nil))
	run(t, s, []call{
		{name: "admin reads an empty log", method: http.MethodGet, path: "/v1/audit_log", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				entries, ok := r.JSON()["entries"].([]any)
				if !ok || len(entries) != 0 {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "bad limit", method: http.MethodGet, path: "/v1/audit_log?limit=x", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}
