package routing_test

import (
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/test/fixture"
)

// Handler tests: each file's tests drive its handlers through the client
// API's routes, on the shared fixture's real user API and roomserver, with
// requests passing through the production middleware.

// serverOpts shape a test server.
type serverOpts struct {
	db *sqlutil.DB // nil: a fresh SQLite database
	// federation wires a real federation API as the client API's remote,
	// for requests that would leave the server (false: none, as in a
	// process without federation).
	federation bool
	config     func(*config.Config) // changes the configuration before Setup
	// features are the other components' unstable features (nil: none).
	features map[string]bool
}

// newServer builds a fixture with the client API on its router. A line the
// server logs at error level — what a 500 leaves — fails the test: every
// request these tests send must get a deliberate answer.
func newServer(t *testing.T, o serverOpts) *fixture.Fixture {
	t.Helper()
	f := newFixture(t, o.db)
	if o.config != nil {
		o.config(f.Config)
	}
	var remote fedapi.Remote
	if o.federation {
		remote = f.Federation(t, f.Config.FederationAPI)
	}
	clientapi.Setup(f.Router, f.Config, f.Users, f.Rooms, f.Cache, remote, o.features, f.Log)
	f.FailOnErrorLogs(t)
	return f
}

func newFixture(t *testing.T, db *sqlutil.DB) *fixture.Fixture {
	t.Helper()
	if db == nil {
		return fixture.New(t)
	}
	return fixture.NewOn(t, db)
}

// call is one request of a handler table test and what it must get.
type call struct {
	name    string
	method  string
	path    string // under /_matrix/client/v3 unless it starts with /_ or /.
	token   string
	body    any // see fixture.Do
	status  int
	errcode string                                  // "" for a success
	check   func(t *testing.T, r *fixture.Response) // more about a response
}

// run sends each call as a subtest.
func run(t *testing.T, f *fixture.Fixture, calls []call) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			res := f.Do(t, c.method, clientPath(c.path), c.token, c.body)
			res.Want(t, c.status, c.errcode)
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

func clientPath(p string) string {
	if strings.HasPrefix(p, "/_") || strings.HasPrefix(p, "/.") {
		return p
	}
	return "/_matrix/client/v3" + p
}

// hasKeys checks that a JSON object response has every key.
func hasKeys(keys ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		m := r.JSON()
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Fatalf("response without %q: %s", k, r.Body)
			}
		}
	}
}

// equals checks that a JSON object response has key = want.
func equals(key string, want any) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if got := r.JSON()[key]; got != want {
			t.Fatalf("%s = %v, want %v; body %s", key, got, want, r.Body)
		}
	}
}

// passwordAuth is a UIA password stage for u, in a new session.
func passwordAuth(u *fixture.User, password string) map[string]any {
	return map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": u.ID},
		"password":   password,
	}
}

// challenge checks a 401 user-interactive auth challenge offering stage.
func challenge(stage string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var c struct {
			Flows []struct {
				Stages []string `json:"stages"`
			} `json:"flows"`
			Session string `json:"session"`
		}
		r.Decode(t, &c)
		if c.Session == "" || len(c.Flows) == 0 || len(c.Flows[0].Stages) == 0 || c.Flows[0].Stages[0] != stage {
			t.Fatalf("not a challenge offering %s: %s", stage, r.Body)
		}
	}
}
