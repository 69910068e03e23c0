package routing_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi"
	"github.com/myelin-im/myelin/test/fixture"
)

// The handler tests of this package run the sync component as the server
// does (syncapi.New on the fixture's database, bus, user API and
// roomserver) and send requests through the production middleware. Events
// reach the sync stream through the bus; env waits for them with a
// deadline, so every request sees a settled room.

// env is a fixture with the sync component started and one room seen from
// every side.
type env struct {
	*fixture.Fixture
	sync *syncapi.SyncAPI
	// alice created room; bob is in it; carol never was; dave left it
	// after msgs and before late; erin left it and forgot it.
	alice, bob, carol, dave, erin *fixture.User
	room                          string
	// msgs are three messages sent while everyone was in the room (alice,
	// bob, alice), oldest first; late was sent after dave and erin left.
	msgs []string
	late string
	// other is another room of alice's, with one message, otherMsg.
	other, otherMsg string
}

// newEnv builds env on a fresh SQLite database.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, sqltest.Open(t, sqlutil.SQLite))
}

// newEnvOn builds env on db, the sync component started with opts.
func newEnvOn(t testing.TB, db *sqlutil.DB, opts ...syncapi.Option) *env {
	t.Helper()
	f := fixture.NewOn(t, db)
	e := &env{Fixture: f, sync: startSync(t, f, opts...)}
	e.alice, e.bob, e.carol = f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	e.dave, e.erin = f.User(t, "dave"), f.User(t, "erin")
	e.room = f.Room(t, e.alice)
	for _, u := range []*fixture.User{e.bob, e.dave, e.erin} {
		f.Invite(t, e.alice, u, e.room)
		f.Join(t, u, e.room)
	}
	e.msgs = []string{
		f.Send(t, e.alice, e.room, "one"),
		f.Send(t, e.bob, e.room, "two"),
		f.Send(t, e.alice, e.room, "three"),
	}
	e.leave(t, e.dave, e.room)
	e.leave(t, e.erin, e.room)
	if err := f.Rooms.Forget(context.Background(), e.room, e.erin.ID); err != nil {
		t.Fatalf("erin forgetting the room: %v", err)
	}
	e.late = f.Send(t, e.alice, e.room, "after dave left")
	e.other = f.Room(t, e.alice)
	e.otherMsg = f.Send(t, e.alice, e.other, "elsewhere")
	e.waitStored(t, e.late)
	e.waitStored(t, e.otherMsg)
	return e
}

// startSync starts the sync component on f with its real constructor, as
// the server wires it without federation (no backfill).
func startSync(t testing.TB, f *fixture.Fixture, opts ...syncapi.Option) *syncapi.SyncAPI {
	t.Helper()
	s, err := syncapi.New(context.Background(), f.ServerName, f.DB, f.Bus, f.Users, f.Rooms, nil, f.Router, f.Log, opts...)
	if err != nil {
		t.Fatalf("starting the sync component: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// leave makes u leave roomID and returns the leave's event ID.
func (e *env) leave(t testing.TB, u *fixture.User, roomID string) string {
	t.Helper()
	id, err := e.Rooms.PerformMembership(context.Background(), roomapi.MembershipRequest{
		RoomID:     roomID,
		Sender:     u.ID,
		Target:     u.ID,
		Membership: "leave",
	})
	if err != nil {
		t.Fatalf("%s leaving %s: %v", u.ID, roomID, err)
	}
	return id
}

// waitStored waits until the sync stream has stored and announced eventID
// (events of one room arrive in order, so the room's earlier events are
// there too).
func (e *env) waitStored(t testing.TB, eventID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		pos := e.sync.Notifier.Pos()
		// Stored, and announced: /sync reads up to the notifier's position,
		// which follows the store.
		if ev, err := e.sync.Store.EventByID(ctx, eventID); err == nil && pos >= ev.Pos {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("event %s did not reach the sync stream within 5s", eventID)
		}
		e.sync.Notifier.WaitAdvance(ctx, pos)
	}
}

// roomPath is a client API v3 path under /rooms/{roomID}.
func roomPath(roomID, rest string) string {
	return "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/" + rest
}

// reqCase is a request and what it must be answered: a status and, for an
// error, its errcode; check, when set, looks at a success's body.
type reqCase struct {
	name    string
	token   string
	path    string
	body    any
	status  int
	errcode string
	check   func(t *testing.T, res *fixture.Response)
}

// run sends each case's request with method through f and checks the answer.
func run(t *testing.T, f *fixture.Fixture, method string, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do(t, method, tc.path, tc.token, tc.body)
			res.Want(t, tc.status, tc.errcode)
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// authCases are the cases every authenticated endpoint answers alike: no
// access token, and one the server never issued.
func authCases(path string) []reqCase {
	return []reqCase{
		refused("missing token", "", path, http.StatusUnauthorized, "M_MISSING_TOKEN"),
		refused("unknown token", "not-a-token", path, http.StatusUnauthorized, "M_UNKNOWN_TOKEN"),
	}
}

// refused is a case that must be answered with a Matrix error.
func refused(name, token, path string, status int, errcode string) reqCase {
	return reqCase{name: name, token: token, path: path, status: status, errcode: errcode}
}

// invalidParam is a case refused with 400 M_INVALID_PARAM.
func invalidParam(name, token, path string) reqCase {
	return refused(name, token, path, http.StatusBadRequest, "M_INVALID_PARAM")
}

// missingParam is a case refused with 400 M_MISSING_PARAM.
func missingParam(name, token, path string) reqCase {
	return refused(name, token, path, http.StatusBadRequest, "M_MISSING_PARAM")
}

// badJSON is a case refused with 400 M_BAD_JSON.
func badJSON(name, token, path string) reqCase {
	return refused(name, token, path, http.StatusBadRequest, "M_BAD_JSON")
}

// forbidden is a case refused with 403 M_FORBIDDEN.
func forbidden(name, token, path string) reqCase {
	return refused(name, token, path, http.StatusForbidden, "M_FORBIDDEN")
}

// notFound is a case refused with 404 M_NOT_FOUND.
func notFound(name, token, path string) reqCase {
	return refused(name, token, path, http.StatusNotFound, "M_NOT_FOUND")
}

// clientEvent is the part of a client event the tests look at.
type clientEvent struct {
	EventID  string         `json:"event_id"`
	Type     string         `json:"type"`
	Sender   string         `json:"sender"`
	StateKey *string        `json:"state_key"`
	Content  map[string]any `json:"content"`
	Unsigned struct {
		Membership    string `json:"membership"`
		TransactionID string `json:"transaction_id"`
	} `json:"unsigned"`
}

// ids lists the events' IDs, in order.
func ids(evs []clientEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventID
	}
	return out
}

// bodies lists the m.room.message bodies among evs, in order.
func bodies(evs []clientEvent) []string {
	var out []string
	for _, e := range evs {
		if e.Type == "m.room.message" {
			b, _ := e.Content["body"].(string)
			out = append(out, b)
		}
	}
	return out
}
