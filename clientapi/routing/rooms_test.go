package routing_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/mxid"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestCreateRoom covers createRoom's request checks and its answers.
func TestCreateRoom(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	run(t, f, []call{
		{"without token", "POST", "/createRoom", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"not JSON", "POST", "/createRoom", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"bad visibility", "POST", "/createRoom", alice.Token, `{"visibility":"secret"}`, 400, "M_INVALID_PARAM", nil},
		{"bad preset", "POST", "/createRoom", alice.Token, `{"preset":"nope"}`, 400, "M_BAD_JSON", nil},
		{"unknown room version", "POST", "/createRoom", alice.Token, `{"room_version":"nope"}`, 400, "M_UNSUPPORTED_ROOM_VERSION", nil},
		{"malformed invitee", "POST", "/createRoom", alice.Token, `{"invite":["bob"]}`, 400, "M_INVALID_PARAM", nil},
		{"initial state without type", "POST", "/createRoom", alice.Token, `{"initial_state":[{"content":{}}]}`, 400, "M_BAD_JSON", nil},
		{"initial state key with NUL", "POST", "/createRoom", alice.Token,
			`{"initial_state":[{"type":"m.x","state_key":"a\u0000","content":{}}]}`,
			400, "M_INVALID_PARAM", nil},
		{"initial power levels", "POST", "/createRoom", alice.Token, `{"initial_state":[{"type":"m.room.power_levels","content":{}}]}`,
			400, "M_INVALID_ROOM_STATE", nil},
		{"creation content not an object", "POST", "/createRoom", alice.Token, `{"creation_content":[]}`, 400, "M_BAD_JSON", nil},
		{"alias name with white space", "POST", "/createRoom", alice.Token, `{"room_alias_name":"a b"}`, 400, "M_INVALID_PARAM", nil},
		{"alias name too long", "POST", "/createRoom", alice.Token, map[string]string{"room_alias_name": strings.Repeat("a", 250)},
			400, "M_INVALID_PARAM", nil},
		{"creates", "POST", "/createRoom", alice.Token, `{"name":"Lobby"}`, 200, "", roomIDAnswer},
		// null is an absent object, not a 500 (it used to panic on a nil map).
		{"null creation content and override", "POST", "/createRoom", alice.Token,
			`{"creation_content":null,"power_level_content_override":null}`, 200, "", roomIDAnswer},
		{"creates with an alias, published", "POST", "/createRoom", alice.Token, `{"room_alias_name":"lobby","visibility":"public"}`,
			200, "", roomIDAnswer},
		{"alias name taken", "POST", "/createRoom", alice.Token, `{"room_alias_name":"lobby"}`, 400, "M_ROOM_IN_USE", nil},
		{"alias resolves", "GET", "/directory/room/" + url.PathEscape("#lobby:test.local"), "", nil, 200, "", hasKeys("room_id")},
		{"published", "GET", "/publicRooms", "", nil, 200, "", func(t *testing.T, r *fixture.Response) {
			t.Helper()
			if chunk, _ := r.JSON()["chunk"].([]any); len(chunk) != 1 {
				t.Fatalf("public rooms %s, want the one created public", r.Body)
			}
		}},
	})
}

// roomIDAnswer checks {"room_id": a well-formed room ID}.
func roomIDAnswer(t *testing.T, r *fixture.Response) {
	t.Helper()
	id, _ := r.JSON()["room_id"].(string)
	if err := mxid.ValidateRoomID(id); err != nil {
		t.Fatalf("room_id: %v (%s)", err, r.Body)
	}
}

// TestMembershipHandlers covers join, invite, kick, ban, unban, leave and
// forget.
func TestMembershipHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol, dan := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol"), f.User(t, "dan")
	room := f.Room(t, alice)
	public := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", CanonicalAlias: "#hall:test.local"})
	if err := f.Rooms.CreateAlias(t.Context(), "#hall:test.local", public, alice.ID); err != nil {
		t.Fatal(err)
	}
	in := "/rooms/" + url.PathEscape(room)
	unknown := "/rooms/" + url.PathEscape("!nope:test.local")
	user := func(u *fixture.User) string { return `{"user_id":"` + u.ID + `"}` }
	run(t, f, []call{
		{"join a malformed room", "POST", "/rooms/nope/join", bob.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"join an unknown room", "POST", unknown + "/join", bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"join uninvited", "POST", in + "/join", bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"join with a body not JSON", "POST", "/join/" + url.PathEscape(public), bob.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"join an unknown alias", "POST", "/join/" + url.PathEscape("#none:test.local"), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"join by alias", "POST", "/join/" + url.PathEscape("#hall:test.local"), bob.Token, `{}`, 200, "", equals("room_id", public)},
		{"join by ID", "POST", "/join/" + url.PathEscape(public) + "?via=test.local", carol.Token, `{"reason":"hi"}`,
			200, "", equals("room_id", public)},

		{"invite without user", "POST", in + "/invite", alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"invite a malformed user", "POST", in + "/invite", alice.Token, `{"user_id":"bob"}`, 400, "M_INVALID_PARAM", nil},
		{"invite into a malformed room", "POST", "/rooms/nope/invite", alice.Token, user(bob), 400, "M_INVALID_PARAM", nil},
		{"invite as a non-member", "POST", in + "/invite", bob.Token, user(carol), 403, "M_FORBIDDEN", nil},
		{"invite", "POST", in + "/invite", alice.Token, user(bob), 200, "", nil},
		{"join invited", "POST", in + "/join", bob.Token, nil, 200, "", equals("room_id", room)},
		{"kick a non-member", "POST", in + "/kick", alice.Token, user(carol), 403, "M_FORBIDDEN", nil},
		{"kick without power", "POST", in + "/kick", bob.Token, user(alice), 403, "M_FORBIDDEN", nil},
		{"unban someone not banned", "POST", in + "/unban", alice.Token, user(bob), 403, "M_FORBIDDEN", nil},
		{"ban", "POST", in + "/ban", alice.Token, withField(map[string]any{"user_id": dan.ID}, "reason", "spam"), 200, "", nil},
		{"banned cannot join", "POST", "/join/" + url.PathEscape(room), dan.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"unban", "POST", in + "/unban", alice.Token, user(dan), 200, "", nil},
		{"kick", "POST", in + "/kick", alice.Token, user(bob), 200, "", nil},
		{"forget while joined", "POST", in + "/forget", alice.Token, nil, 400, "M_UNKNOWN", nil},
		{"forget a malformed room", "POST", "/rooms/nope/forget", bob.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"forget after a kick", "POST", in + "/forget", bob.Token, nil, 200, "", nil},
		{"leave an unknown room", "POST", unknown + "/leave", carol.Token, nil, 404, "M_NOT_FOUND", nil},
		{"leave", "POST", "/rooms/" + url.PathEscape(public) + "/leave", carol.Token, `{"reason":"bye"}`, 200, "", nil},
		{"joined rooms", "GET", "/joined_rooms", bob.Token, nil, 200, "", joinedRooms(public)},
		{"joined rooms after leaving", "GET", "/joined_rooms", carol.Token, nil, 200, "", joinedRooms()},
	})
}

// joinedRooms checks GET /joined_rooms: exactly rooms.
func joinedRooms(rooms ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			JoinedRooms []string `json:"joined_rooms"`
		}
		r.Decode(t, &body)
		if body.JoinedRooms == nil || strings.Join(body.JoinedRooms, ",") != strings.Join(rooms, ",") {
			t.Fatalf("joined rooms %s, want %v", r.Body, rooms)
		}
	}
}

// TestEventHandlers covers sending events and state, reading state,
// members and redactions.
func TestEventHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	room := f.Room(t, alice)
	f.Invite(t, alice, bob, room)
	f.Join(t, bob, room)
	first := f.Send(t, bob, room, "hello")
	in := "/rooms/" + url.PathEscape(room)
	unknown := "/rooms/" + url.PathEscape("!nope:test.local")
	var sent string
	run(t, f, []call{
		{"send without token", "PUT", in + "/send/m.room.message/t1", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"send to a malformed room", "PUT", "/rooms/nope/send/m.room.message/t1", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"send to an unknown room", "PUT", unknown + "/send/m.room.message/t1", alice.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"send not JSON", "PUT", in + "/send/m.room.message/t1", alice.Token, `nope`, 400, "M_NOT_JSON", nil},
		{"send invalid UTF-8", "PUT", in + "/send/m.room.message/t1", alice.Token, "{\"body\":\"\xff\"}", 400, "M_NOT_JSON", nil},
		{"send a type too long", "PUT", in + "/send/" + strings.Repeat("t", 256) + "/t1", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"send too much", "PUT", in + "/send/m.room.message/t1", alice.Token, `{"body":"` + strings.Repeat("x", 70000) + `"}`,
			413, "M_TOO_LARGE", nil},
		{"send as a non-member", "PUT", in + "/send/m.room.message/t1", carol.Token, `{"body":"x"}`, 403, "M_FORBIDDEN", nil},
		{"send", "PUT", in + "/send/m.room.message/t1", alice.Token, `{"msgtype":"m.text","body":"hi"}`, 200, "",
			func(t *testing.T, r *fixture.Response) {
				t.Helper()
				sent, _ = r.JSON()["event_id"].(string)
				if err := mxid.ValidateEventID(sent); err != nil {
					t.Fatalf("event_id: %v", err)
				}
			}},
		{"send again in the same transaction", "PUT", in + "/send/m.room.message/t1", alice.Token, `{"msgtype":"m.text","body":"hi"}`,
			200, "", func(t *testing.T, r *fixture.Response) {
				t.Helper()
				equals("event_id", sent)(t, r)
			}},

		{"state member of a malformed user", "PUT", in + "/state/m.room.member/bob", alice.Token, `{"membership":"invite"}`,
			400, "M_INVALID_PARAM", nil},
		{"state member with a bad membership", "PUT", in + "/state/m.room.member/" + carol.ID, alice.Token, `{"membership":"lurk"}`,
			400, "M_BAD_JSON", nil},
		{"canonical alias malformed", "PUT", in + "/state/m.room.canonical_alias", alice.Token, `{"alias":"nope"}`,
			400, "M_INVALID_PARAM", nil},
		{"canonical alias mistyped", "PUT", in + "/state/m.room.canonical_alias", alice.Token, `{"alt_aliases":"#a:test.local"}`,
			400, "M_INVALID_PARAM", nil},
		{"canonical alias pointing elsewhere", "PUT", in + "/state/m.room.canonical_alias", alice.Token,
			`{"alt_aliases":["#missing:test.local"]}`, 400, "M_BAD_ALIAS", nil},
		{"state without power", "PUT", in + "/state/m.room.name", bob.Token, `{"name":"B"}`, 403, "M_FORBIDDEN", nil},
		{"state", "PUT", in + "/state/m.room.topic", alice.Token, `{"topic":"Plans"}`, 200, "", hasKeys("event_id")},
		{"state with a trailing slash", "PUT", in + "/state/m.room.name/", alice.Token, `{"name":"Room"}`, 200, "", hasKeys("event_id")},

		{"read state of a malformed room", "GET", "/rooms/nope/state", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"read state as a non-member", "GET", in + "/state", carol.Token, nil, 403, "M_FORBIDDEN", nil},
		{"read state", "GET", in + "/state", alice.Token, nil, 200, "", stateHas("m.room.create", "m.room.topic", "m.room.name")},
		{"read a state event as a non-member", "GET", in + "/state/m.room.topic", carol.Token, nil, 403, "M_FORBIDDEN", nil},
		{"read an unset state event", "GET", in + "/state/m.room.avatar", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"read a state event", "GET", in + "/state/m.room.topic/", bob.Token, nil, 200, "", equals("topic", "Plans")},
		{"read a state event whole", "GET", in + "/state/m.room.topic?format=event", bob.Token, nil, 200, "",
			equals("type", "m.room.topic")},
		{"members as a non-member", "GET", in + "/joined_members", carol.Token, nil, 403, "M_FORBIDDEN", nil},
		{"members", "GET", in + "/joined_members", bob.Token, nil, 200, "", joinedMembers(alice.ID, bob.ID)},

		{"redact a malformed event", "PUT", in + "/redact/nope/r1", alice.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"redact in a malformed room", "PUT", "/rooms/nope/redact/" + url.PathEscape(first) + "/r1", alice.Token, `{}`,
			400, "M_INVALID_PARAM", nil},
		{"redact not JSON", "PUT", in + "/redact/" + url.PathEscape(first) + "/r1", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"redact as a non-member", "PUT", in + "/redact/" + url.PathEscape(first) + "/r1", carol.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"redact an unknown event without power", "PUT", in + "/redact/" + url.PathEscape("$nosuchevent") + "/r1", bob.Token, `{}`,
			404, "M_NOT_FOUND", nil},
		{"redact an unknown event with power (sent for the servers that have it)", "PUT",
			in + "/redact/" + url.PathEscape("$nosuchevent") + "/r3", alice.Token, `{}`, 200, "", hasKeys("event_id")},
		{"redact another's event without power", "PUT", in + "/redact/" + url.PathEscape(f.Send(t, alice, room, "mine")) + "/r1",
			bob.Token, `{}`, 403, "M_FORBIDDEN", nil},
		{"redact", "PUT", in + "/redact/" + url.PathEscape(first) + "/r2", alice.Token, `{"reason":"spam"}`, 200, "", hasKeys("event_id")},
	})
}

// stateHas checks that a state list holds an event of each type.
func stateHas(types ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var state []struct {
			Type string `json:"type"`
		}
		r.Decode(t, &state)
		seen := map[string]bool{}
		for _, e := range state {
			seen[e.Type] = true
		}
		for _, ty := range types {
			if !seen[ty] {
				t.Fatalf("state without %s: %s", ty, r.Body)
			}
		}
	}
}

// joinedMembers checks GET /joined_members: exactly users, each with the
// display_name and avatar_url keys.
func joinedMembers(users ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var body struct {
			Joined map[string]map[string]any `json:"joined"`
		}
		r.Decode(t, &body)
		if len(body.Joined) != len(users) {
			t.Fatalf("joined %s, want %v", r.Body, users)
		}
		for _, u := range users {
			m, ok := body.Joined[u]
			_, hasName := m["display_name"]
			_, hasAvatar := m["avatar_url"]
			if !ok || !hasName || !hasAvatar {
				t.Fatalf("joined %s, want %s with display_name and avatar_url", r.Body, u)
			}
		}
	}
}
