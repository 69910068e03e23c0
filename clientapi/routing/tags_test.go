package routing_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestTagsHandlers covers tags.go: tags set, listed and removed as the
// room's m.tag account data, only by their owner.
func TestTagsHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	room := url.PathEscape("!room:test.local")
	tags := "/user/" + alice.ID + "/rooms/" + room + "/tags"
	run(t, f, []call{
		{"without token", "GET", tags, "", nil, 401, "M_MISSING_TOKEN", nil},
		{"none yet", "GET", tags, alice.Token, nil, 200, "", body(`{"tags":{}}`)},
		{"another user's", "GET", "/user/" + bob.ID + "/rooms/" + room + "/tags", alice.Token, nil, 403, "M_FORBIDDEN", nil},
		{"tag another user's", "PUT", "/user/" + bob.ID + "/rooms/" + room + "/tags/u.x", alice.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"untag another user's", "DELETE", "/user/" + bob.ID + "/rooms/" + room + "/tags/u.x", alice.Token, nil, 403, "M_FORBIDDEN", nil},
		{"malformed user", "GET", "/user/alice/rooms/" + room + "/tags", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"malformed room", "PUT", "/user/" + alice.ID + "/rooms/nope/tags/u.x", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"tag too long", "PUT", tags + "/" + strings.Repeat("t", 256), alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"not JSON", "PUT", tags + "/u.x", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"not an object", "PUT", tags + "/u.x", alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"order not a number", "PUT", tags + "/u.x", alice.Token, `{"order":"first"}`, 400, "M_BAD_JSON", nil},
		{"order above 1", "PUT", tags + "/u.x", alice.Token, `{"order":1.5}`, 400, "M_INVALID_PARAM", nil},
		{"order below 0", "PUT", tags + "/u.x", alice.Token, `{"order":-0.1}`, 400, "M_INVALID_PARAM", nil},
		{"favourite", "PUT", tags + "/m.favourite", alice.Token, `{"order":0.25}`, 200, "", body(`{}`)},
		{"user tag", "PUT", tags + "/u.work", alice.Token, `{}`, 200, "", nil},
		{"unnamespaced tag", "PUT", tags + "/" + url.PathEscape("old style"), alice.Token, `{"order":1}`, 200, "", nil},
		{"listed", "GET", tags, alice.Token, nil, 200, "",
			body(`{"tags":{"m.favourite":{"order":0.25},"u.work":{},"old style":{"order":1}}}`)},
		{"as room account data", "GET", "/user/" + alice.ID + "/rooms/" + room + "/account_data/m.tag", alice.Token, nil, 200, "",
			body(`{"tags":{"m.favourite":{"order":0.25},"u.work":{},"old style":{"order":1}}}`)},
		{"retag", "PUT", tags + "/m.favourite", alice.Token, `{"order":0.5}`, 200, "", nil},
		{"untag", "DELETE", tags + "/u.work", alice.Token, nil, 200, "", body(`{}`)},
		{"untag absent", "DELETE", tags + "/m.lowpriority", alice.Token, nil, 200, "", body(`{}`)},
		{"after", "GET", tags, alice.Token, nil, 200, "", body(`{"tags":{"m.favourite":{"order":0.5},"old style":{"order":1}}}`)},
		{"bob sees none", "GET", "/user/" + bob.ID + "/rooms/" + room + "/tags", bob.Token, nil, 200, "", body(`{"tags":{}}`)},
	})
}
