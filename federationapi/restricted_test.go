package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// restrictedRoom is a room of alice's (version 10) whose members must be
// in allowed (spec: "Restricted rooms").
func restrictedRoom(t *testing.T, f *fed, alice *fixture.User, allowed string) string {
	t.Helper()
	return restrictedRoomOf(t, f, alice, allowed, "10")
}

// restrictedRoomOf is restrictedRoom of room version ver.
func restrictedRoomOf(t *testing.T, f *fed, alice *fixture.User, allowed, ver string) string {
	t.Helper()
	content, _ := json.Marshal(map[string]any{"join_rule": "restricted",
		"allow": []map[string]string{{"type": "m.room_membership", "room_id": allowed}}})
	return f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", RoomVersion: ver,
		InitialState: []roomapi.StateEvent{{Type: spec.MRoomJoinRules, Content: content}}})
}

// TestRestrictedMakeJoin: make_join of a restricted room names alice, who
// may invite, for a member of the allowed room, and refuses the others
// with the spec's errors (server-server API, "Restricted rooms").
func TestRestrictedMakeJoin(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	space := f.publicRoom(t, alice)
	rita := remoteUser("rita")
	f.joinRemote(t, space, rita)
	room := restrictedRoom(t, f, alice, space)
	elsewhere := restrictedRoom(t, f, alice, "!unknown:elsewhere.test")
	makeJoin := func(roomID, user string) string {
		return "/_matrix/federation/v1/make_join/" + esc(roomID) + "/" + esc(user) + "?ver=10"
	}
	f.runRefusals(t, []refusal{
		{name: "not in the allowed room", path: makeJoin(room, remoteUser("sam")), status: http.StatusForbidden,
			errcode: "M_FORBIDDEN"},
		{name: "allowed room unknown here", path: makeJoin(elsewhere, rita), status: http.StatusBadRequest,
			errcode: "M_UNABLE_TO_AUTHORISE_JOIN"},
	})
	_, proto := f.template(t, room, rita)
	var c map[string]string
	_ = json.Unmarshal(proto.Content, &c)
	if c["join_authorised_via_users_server"] != alice.ID || c["membership"] != "join" {
		t.Fatalf("template content %s, want a join authorised by %s", proto.Content, alice.ID)
	}
}

// TestRestrictedSendJoin: a join naming a local user as its authoriser is
// signed by this server and returned signed (spec: PUT
// /_matrix/federation/v2/send_join, "event"), in room versions whose
// events differ in shape (12: no room ID server, no create in auth_events).
func TestRestrictedSendJoin(t *testing.T) {
	for _, ver := range []string{"10", "12"} {
		t.Run(ver, func(t *testing.T) { testRestrictedSendJoin(t, ver) })
	}
}

func testRestrictedSendJoin(t *testing.T, ver string) {
	f := newFed(t)
	alice := f.User(t, "alice")
	space := f.publicRoom(t, alice)
	rita := remoteUser("rita")
	f.joinRemote(t, space, rita)
	room := restrictedRoomOf(t, f, alice, space, ver)
	join := f.makeJoin(t, room, rita)
	if signedBy(join.JSON(), string(serverName)) {
		t.Fatal("the join is signed by this server before send_join")
	}
	res := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v2/send_join/"+esc(room)+"/"+esc(join.EventID()),
		json.RawMessage(join.JSON()))
	res.Want(t, http.StatusOK)
	var answer struct {
		Event json.RawMessage `json:"event"`
	}
	res.Decode(t, &answer)
	impl, err := gomatrixserverlib.GetRoomVersion(join.Version())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := impl.NewEventFromTrustedJSON(answer.Event, false)
	if err != nil {
		t.Fatalf("the answer's event %s: %v", answer.Event, err)
	}
	if signed.EventID() != join.EventID() || !signedBy(answer.Event, string(serverName)) || !signedBy(answer.Event, "remote.test") {
		t.Fatalf("the answer's event %s, want the join signed by both servers", answer.Event)
	}
	if m, err := f.Rooms.Membership(context.Background(), room, rita); err != nil || m != "join" {
		t.Fatalf("rita's membership %q (%v)", m, err)
	}
}

// signedBy reports whether an event's JSON has a signature of server.
func signedBy(ev []byte, server string) bool {
	var e struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	_ = json.Unmarshal(ev, &e)
	return len(e.Signatures[server]) > 0
}
