package routing_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestAccountDataHandlers covers accountdata.go: global and per-room
// account data, only for the requester.
func TestAccountDataHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	global := "/user/" + alice.ID + "/account_data/"
	inRoom := "/user/" + alice.ID + "/rooms/" + url.PathEscape("!room:test.local") + "/account_data/"
	run(t, f, []call{
		{"without token", "GET", global + "im.x", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"malformed user", "GET", "/user/alice/account_data/im.x", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"another user's", "GET", "/user/" + bob.ID + "/account_data/im.x", alice.Token, nil, 403, "M_FORBIDDEN", nil},
		{"write another user's", "PUT", "/user/" + bob.ID + "/account_data/im.x", alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"malformed room", "PUT", "/user/" + alice.ID + "/rooms/nope/account_data/im.x", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"room on a bad server", "PUT", "/user/" + alice.ID + "/rooms/" + url.PathEscape("!r:bad server") + "/account_data/im.x",
			alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"type too long", "PUT", global + strings.Repeat("t", 256), alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"server-managed type", "PUT", global + "m.fully_read", alice.Token, `{"event_id":"$x"}`, 405, "M_BAD_JSON", nil},
		{"push rules", "PUT", global + "m.push_rules", alice.Token, `{}`, 405, "M_BAD_JSON", nil},
		{"not JSON", "PUT", global + "im.x", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "PUT", global + "im.x", alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"unset", "GET", global + "im.x", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"set", "PUT", global + "im.x", alice.Token, `{ "colour" : "teal" }`, 200, "", nil},
		{"read", "GET", global + "im.x", alice.Token, nil, 200, "", equals("colour", "teal")},
		{"not in the room's", "GET", inRoom + "im.x", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"set in a room", "PUT", inRoom + "im.x", alice.Token, `{"colour":"red"}`, 200, "", nil},
		{"read in a room", "GET", inRoom + "im.x", alice.Token, nil, 200, "", equals("colour", "red")},
		{"global unchanged", "GET", global + "im.x", alice.Token, nil, 200, "", equals("colour", "teal")},
	})
}
