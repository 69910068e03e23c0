package routing_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestMutualRoomsHandlers covers mutual.go: the rooms both users are
// joined to, at the spec's path and MSC2666's, with the spec's 400s.
func TestMutualRoomsHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	shared := []string{f.Room(t, alice), f.Room(t, alice)}
	for _, r := range shared {
		f.Invite(t, alice, bob, r)
		f.Join(t, bob, r)
	}
	slices.Sort(shared)
	invitedOnly := f.Room(t, alice)
	f.Invite(t, alice, bob, invitedOnly)
	left := f.Room(t, alice)
	f.Invite(t, alice, bob, left)
	f.Join(t, bob, left)
	f.Leave(t, bob, left)
	f.Room(t, bob) // bob's alone
	joined := func(want ...string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			t.Helper()
			var b struct {
				Joined    []string `json:"joined"`
				Count     int      `json:"count"`
				NextBatch *string  `json:"next_batch"`
			}
			r.Decode(t, &b)
			if !slices.Equal(b.Joined, want) || b.Count != len(want) || b.NextBatch != nil || b.Joined == nil {
				t.Fatalf("got %s; want joined %q", r.Body, want)
			}
		}
	}
	q := func(user string) string { return "/_matrix/client/v1/mutual_rooms?user_id=" + url.QueryEscape(user) }
	run(t, f, []call{
		{"without token", "GET", q(bob.ID), "", nil, 401, "M_MISSING_TOKEN", nil},
		{"shared rooms", "GET", q(bob.ID), alice.Token, nil, 200, "", joined(shared...)},
		{"either way", "GET", q(alice.ID), bob.Token, nil, 200, "", joined(shared...)},
		{"unstable path", "GET", "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms?user_id=" + url.QueryEscape(bob.ID),
			alice.Token, nil, 200, "", joined(shared...)},
		{"none", "GET", q(carol.ID), alice.Token, nil, 200, "", joined()},
		{"unknown user", "GET", q("@nobody:elsewhere.test"), alice.Token, nil, 200, "", joined()},
		{"missing user_id", "GET", "/_matrix/client/v1/mutual_rooms", alice.Token, nil, 400, "M_MISSING_PARAM", nil},
		{"malformed user_id", "GET", q("bob"), alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"own user_id", "GET", q(alice.ID), alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"malformed from", "GET", q(bob.ID) + "&from=!!", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"from not a room", "GET", q(bob.ID) + "&from=bm9wZQ", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
	})
}
