package routing_test

import (
	"net/url"
	"strings"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestDirectoryHandlers covers directory.go: room aliases, room
// visibility and the public room list.
func TestDirectoryHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	room := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", Name: ptr("Lobby")})
	private := f.Room(t, alice)
	alias := "/directory/room/" + url.PathEscape("#lobby:test.local")
	aliases := "/rooms/" + url.PathEscape(room) + "/aliases"
	visibility := "/directory/list/room/" + url.PathEscape(room)
	roomID := `{"room_id":"` + room + `"}`
	run(t, f, []call{
		{"resolve malformed", "GET", "/directory/room/lobby", "", nil, 400, "M_INVALID_PARAM", nil},
		{"resolve on a bad server", "GET", "/directory/room/" + url.PathEscape("#a:bad server"), "", nil, 400, "M_INVALID_PARAM", nil},
		{"resolve unknown", "GET", alias, "", nil, 404, "M_NOT_FOUND", nil},
		{"resolve another server's (no federation)", "GET", "/directory/room/" + url.PathEscape("#a:elsewhere.test"), "", nil,
			404, "M_NOT_FOUND", nil},
		{"create without token", "PUT", alias, "", roomID, 401, "M_MISSING_TOKEN", nil},
		{"create another server's", "PUT", "/directory/room/" + url.PathEscape("#a:elsewhere.test"), alice.Token, roomID,
			400, "M_INVALID_PARAM", nil},
		{"create with white space", "PUT", "/directory/room/" + url.PathEscape("#a b:test.local"), alice.Token, roomID,
			400, "M_INVALID_PARAM", nil},
		{"create not JSON", "PUT", alias, alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"create without room", "PUT", alias, alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"create to a malformed room", "PUT", alias, alice.Token, `{"room_id":"nope"}`, 400, "M_INVALID_PARAM", nil},
		{"create to an unknown room", "PUT", alias, alice.Token, `{"room_id":"!nope:test.local"}`, 404, "M_NOT_FOUND", nil},
		{"create as a non-member", "PUT", alias, bob.Token, roomID, 403, "M_FORBIDDEN", nil},
		{"create", "PUT", alias, alice.Token, roomID, 200, "", nil},
		{"create again", "PUT", alias, alice.Token, roomID, 409, "M_UNKNOWN", nil},
		{"resolve", "GET", alias, "", nil, 200, "", resolvesTo(room, "test.local")},
		{"aliases of a malformed room", "GET", "/rooms/nope/aliases", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"aliases as a non-member", "GET", aliases, bob.Token, nil, 403, "M_FORBIDDEN", nil},
		{"aliases", "GET", aliases, alice.Token, nil, 200, "", hasKeys("aliases")},
		{"delete as a non-member", "DELETE", alias, bob.Token, nil, 403, "M_FORBIDDEN", nil},
		{"delete another server's", "DELETE", "/directory/room/" + url.PathEscape("#a:elsewhere.test"), alice.Token, nil,
			404, "M_NOT_FOUND", nil},
		{"delete unknown", "DELETE", "/directory/room/" + url.PathEscape("#none:test.local"), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete", "DELETE", alias, alice.Token, nil, 200, "", nil},
		{"deleted", "GET", alias, "", nil, 404, "M_NOT_FOUND", nil},

		{"visibility of a malformed room", "GET", "/directory/list/room/nope", "", nil, 400, "M_INVALID_PARAM", nil},
		{"visibility of an unknown room", "GET", "/directory/list/room/" + url.PathEscape("!nope:test.local"), "", nil,
			404, "M_NOT_FOUND", nil},
		{"visibility", "GET", visibility, "", nil, 200, "", equals("visibility", "private")},
		{"publish unknown value", "PUT", visibility, alice.Token, `{"visibility":"secret"}`, 400, "M_INVALID_PARAM", nil},
		{"publish as a non-member", "PUT", visibility, bob.Token, `{"visibility":"public"}`, 403, "M_FORBIDDEN", nil},
		{"publish an unknown room", "PUT", "/directory/list/room/" + url.PathEscape("!nope:test.local"), alice.Token, `{}`,
			404, "M_NOT_FOUND", nil},
		{"publish (public by default)", "PUT", visibility, alice.Token, `{}`, 200, "", nil},
		{"published", "GET", visibility, "", nil, 200, "", equals("visibility", "public")},
		{"publish the private room", "PUT", "/directory/list/room/" + url.PathEscape(private), alice.Token,
			`{"visibility":"private"}`, 200, "", nil},

		{"list", "GET", "/publicRooms", "", nil, 200, "", publicRooms(room)},
		{"list with limit", "GET", "/publicRooms?limit=1", "", nil, 200, "", publicRooms(room)},
		{"list with a bad limit", "GET", "/publicRooms?limit=many", "", nil, 400, "M_INVALID_PARAM", nil},
		{"list with a negative limit", "GET", "/publicRooms?limit=-1", "", nil, 400, "M_INVALID_PARAM", nil},
		{"list with a bad since", "GET", "/publicRooms?since=nope", "", nil, 400, "M_INVALID_PARAM", nil},
		{"list of a network", "GET", "/publicRooms?third_party_instance_id=irc", "", nil, 200, "", publicRooms()},
		{"list of this server", "GET", "/publicRooms?server=test.local", "", nil, 200, "", publicRooms(room)},
		{"list of another server (no federation)", "GET", "/publicRooms?server=elsewhere.test", "", nil, 400, "M_INVALID_PARAM", nil},
		{"list of a malformed server", "GET", "/publicRooms?server=" + strings.Repeat("s", 300), "", nil, 400, "M_INVALID_PARAM", nil},
		{"search without token", "POST", "/publicRooms", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"search mistyped", "POST", "/publicRooms", bob.Token, `{"limit":"1"}`, 400, "M_BAD_JSON", nil},
		{"search", "POST", "/publicRooms", bob.Token, `{"filter":{"generic_search_term":"lob"}}`, 200, "", publicRooms(room)},
		{"search finding nothing", "POST", "/publicRooms", bob.Token, `{"filter":{"generic_search_term":"cellar"}}`,
			200, "", publicRooms()},
	})
}

func ptr[T any](v T) *T { return &v }

// resolvesTo checks an alias resolution.
func resolvesTo(roomID, server string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			RoomID  string   `json:"room_id"`
			Servers []string `json:"servers"`
		}
		r.Decode(t, &body)
		if body.RoomID != roomID || len(body.Servers) != 1 || body.Servers[0] != server {
			t.Fatalf("resolved to %s, want %s on %s", r.Body, roomID, server)
		}
	}
}

// publicRooms checks a page of the public room list: exactly rooms.
func publicRooms(rooms ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var page struct {
			Chunk []struct {
				RoomID string `json:"room_id"`
			} `json:"chunk"`
		}
		r.Decode(t, &page)
		if page.Chunk == nil || len(page.Chunk) != len(rooms) {
			t.Fatalf("public rooms %s, want %v", r.Body, rooms)
		}
		for i, id := range rooms {
			if page.Chunk[i].RoomID != id {
				t.Fatalf("public rooms %s, want %v", r.Body, rooms)
			}
		}
	}
}
