package routing_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestRoomSummaryHandlers covers summary.go: rooms described to whom may
// see or join them, with or without an access token, by ID or alias, and
// the same 404 for unknown and hidden rooms.
func TestRoomSummaryHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	name, topic := "Tea", "All about tea"
	public := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", Name: &name, Topic: &topic,
		CanonicalAlias: "#tea:test.local", InitialState: []roomapi.StateEvent{
			{Type: "m.room.encryption", Content: json.RawMessage(`{"algorithm":"m.megolm.v1.aes-sha2"}`)},
		}})
	if err := f.Rooms.CreateAlias(context.Background(), "#tea:test.local", public, alice.ID); err != nil {
		t.Fatal(err)
	}
	private := f.Room(t, alice)
	f.Invite(t, alice, bob, private)
	space := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", CreationContent: json.RawMessage(`{"type":"m.space"}`)})
	f.Join(t, bob, space)
	restricted := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` +
			space + `"}]}`)},
	}})
	knock := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"knock"}`)},
	}})
	readable := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.history_visibility", Content: json.RawMessage(`{"history_visibility":"world_readable"}`)},
	}})
	path := func(idOrAlias string) string { return "/_matrix/client/v1/room_summary/" + url.PathEscape(idOrAlias) }
	run(t, f, []call{
		{"public, unauthenticated", "GET", path(public), "", nil, 200, "", body(`{"room_id":"` + public +
			`","name":"Tea","topic":"All about tea","canonical_alias":"#tea:test.local","num_joined_members":1,` +
			`"world_readable":false,"guest_can_join":false,"join_rule":"public","encryption":"m.megolm.v1.aes-sha2","room_version":"12"}`)},
		{"public by alias, signed in", "GET", path("#tea:test.local"), carol.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			equals("room_id", public)(t, r)
			equals("membership", "leave")(t, r)
		}},
		{"private: a stranger", "GET", path(private), carol.Token, nil, 404, "M_NOT_FOUND", nil},
		{"private: unauthenticated", "GET", path(private), "", nil, 404, "M_NOT_FOUND", nil},
		{"private: invited", "GET", path(private), bob.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			equals("membership", "invite")(t, r)
			equals("join_rule", "invite")(t, r)
		}},
		{"private: joined", "GET", path(private), alice.Token, nil, 200, "", equals("membership", "join")},
		{"space: room_type", "GET", path(space), "", nil, 200, "", equals("room_type", "m.space")},
		{"restricted: a member of the allowed room", "GET", path(restricted), bob.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				equals("join_rule", "restricted")(t, r)
				if ids, _ := r.JSON()["allowed_room_ids"].([]any); len(ids) != 1 || ids[0] != space {
					t.Fatalf("allowed_room_ids: %s", r.Body)
				}
			}},
		{"restricted: a stranger", "GET", path(restricted), carol.Token, nil, 404, "M_NOT_FOUND", nil},
		{"restricted: unauthenticated", "GET", path(restricted), "", nil, 404, "M_NOT_FOUND", nil},
		{"knock: unauthenticated", "GET", path(knock), "", nil, 200, "", equals("join_rule", "knock")},
		{"world_readable: a stranger", "GET", path(readable), carol.Token, nil, 200, "", equals("world_readable", true)},
		{"no allowed_room_ids outside restricted rooms", "GET", path(public), "", nil, 200, "", func(t *testing.T, r *fixture.Response) {
			if _, ok := r.JSON()["allowed_room_ids"]; ok {
				t.Fatalf("allowed_room_ids present: %s", r.Body)
			}
		}},
		{"unknown room", "GET", path("!nope:test.local"), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"unknown alias", "GET", path("#nope:test.local"), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"another server's alias without federation", "GET", path("#tea:elsewhere.test"), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"malformed", "GET", path("nope"), alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"malformed via", "GET", path(public) + "?via=bad%20server", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"via", "GET", path(public) + "?via=elsewhere.test&via=test.local", "", nil, 200, "", nil},
		{"bad token", "GET", path(public), "nope", nil, 401, "M_UNKNOWN_TOKEN", nil},
		{"POST", "POST", path(public), alice.Token, `{}`, 405, "M_UNRECOGNIZED", nil},
		{"MSC3266 unstable path", "GET", "/_matrix/client/unstable/im.nheko.summary/summary/" + url.PathEscape(public), "", nil, 200, "",
			equals("room_id", public)},
	})
	// A user who left a private room no longer sees it.
	f.Leave(t, bob, private)
	f.Do(t, "GET", path(private), bob.Token, nil).Want(t, 404, "M_NOT_FOUND")
}
