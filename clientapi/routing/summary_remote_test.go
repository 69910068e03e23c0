package routing_test

import (
	"net/url"
	"testing"
)

// TestRoomSummaryRemote covers summary_remote.go: a room this server does
// not know is asked of the via servers and the room ID's server; when none
// answers (or there is none to ask, as for a version 12 room ID without
// via), the summary is 404 as for an unknown room, never a 500.
func TestRoomSummaryRemote(t *testing.T) {
	f := newServer(t, serverOpts{federation: true})
	alice := f.User(t, "alice")
	path := func(id string) string { return "/_matrix/client/v1/room_summary/" + url.PathEscape(id) }
	run(t, f, []call{
		{"a v12 room ID, no via", "GET", path("!Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"a v12 room ID, a via that does not answer", "GET", path("!Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") + "?via=127.0.0.1:1",
			alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"this server's own room ID", "GET", path("!nope:test.local"), "", nil, 404, "M_NOT_FOUND", nil},
	})
}
