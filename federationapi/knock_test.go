package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// knockRoom is a room of creator's with the join rule rule.
func (f *fed) knockRoom(t *testing.T, creator *fixture.User, version, rule string) string {
	t.Helper()
	return f.Room(t, creator, roomapi.CreateRoomRequest{Preset: "private_chat", RoomVersion: version, InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"` + rule + `"}`)},
	}})
}

// knockTemplate is make_knock's answer for user (of remote.test).
func (f *fed) knockTemplate(t *testing.T, roomID, user string) (gomatrixserverlib.RoomVersion, gomatrixserverlib.ProtoEvent) {
	t.Helper()
	path := "/_matrix/federation/v1/make_knock/" + esc(roomID) + "/" + esc(user) + "?ver=7&ver=10&ver=12"
	res := f.DoSigned(t, f.remote, http.MethodGet, path, nil)
	res.Want(t, http.StatusOK)
	var tmpl struct {
		RoomVersion gomatrixserverlib.RoomVersion `json:"room_version"`
		Event       gomatrixserverlib.ProtoEvent  `json:"event"`
	}
	res.Decode(t, &tmpl)
	return tmpl.RoomVersion, tmpl.Event
}

// TestMakeKnock: a template for a knock the room's rules allow (knock, and
// knock_restricted in room version 10), refused otherwise (spec: GET
// /_matrix/federation/v1/make_knock: 403 when the user may not knock, 400
// M_INCOMPATIBLE_ROOM_VERSION when ver does not list the room's version,
// 404 for an unknown room).
func TestMakeKnock(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	knock, restricted := f.knockRoom(t, alice, "", "knock"), f.knockRoom(t, alice, "10", "knock_restricted")
	public, private := f.publicRoom(t, alice), f.Room(t, alice)
	old := f.knockRoom(t, alice, "6", "knock")
	rita := remoteUser("rita")
	for _, room := range []string{knock, restricted} {
		ver, tmpl := f.knockTemplate(t, room, rita)
		if m := gjsonMembership(t, tmpl.Content); m != spec.Knock || tmpl.SenderID != rita || tmpl.AuthEvents == nil {
			t.Fatalf("template in version %s: %+v", ver, tmpl)
		}
	}
	mk := func(room, user, query string) string {
		return "/_matrix/federation/v1/make_knock/" + esc(room) + "/" + esc(user) + query
	}
	f.runRefusals(t, []refusal{
		{"public room", "", mk(public, rita, "?ver=12"), nil, http.StatusForbidden, "M_FORBIDDEN"},
		{"invite-only room", "", mk(private, rita, "?ver=12"), nil, http.StatusForbidden, "M_FORBIDDEN"},
		{"room version 6", "", mk(old, rita, "?ver=6"), nil, http.StatusForbidden, "M_FORBIDDEN"},
		{"no ver", "", mk(knock, rita, ""), nil, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"ver without the room's", "", mk(knock, rita, "?ver=7"), nil, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION"},
		{"a user of another server", "", mk(knock, "@x:other.test", "?ver=12"), nil, http.StatusForbidden, "M_FORBIDDEN"},
		{"already joined", "", mk(knock, alice.ID, "?ver=12"), nil, http.StatusForbidden, "M_FORBIDDEN"},
		{"unknown room", "", mk("!nothing:test.local", rita, "?ver=12"), nil, http.StatusNotFound, "M_NOT_FOUND"},
	})
}

func gjsonMembership(t *testing.T, content []byte) string {
	t.Helper()
	var c struct{ Membership string }
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatal(err)
	}
	return c.Membership
}

// TestSendKnock: a knock built from the template is taken in (the user's
// membership is knock) and answered with knock_room_state, which holds the
// whole create event (MSC4311); anything but a knock of its sender is 400
// (Complement: TestCannotSendNonKnockViaSendKnock).
func TestSendKnock(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	room := f.knockRoom(t, alice, "", "knock")
	rita := remoteUser("rita")
	ver, tmpl := f.knockTemplate(t, room, rita)
	build := func(change func(p *gomatrixserverlib.ProtoEvent)) gomatrixserverlib.PDU {
		p := tmpl
		change(&p)
		return f.remoteEvent(t, ver, &p)
	}
	as := func(m string) func(p *gomatrixserverlib.ProtoEvent) {
		return func(p *gomatrixserverlib.ProtoEvent) { p.Content = spec.RawJSON(`{"membership":"` + m + `"}`) }
	}
	knock := build(func(*gomatrixserverlib.ProtoEvent) {})
	sk := func(roomID string, ev gomatrixserverlib.PDU, name string, status int, errcode string) refusal {
		return refusal{name, http.MethodPut, "/_matrix/federation/v1/send_knock/" + esc(roomID) + "/" + esc(ev.EventID()),
			json.RawMessage(ev.JSON()), status, errcode}
	}
	other := "@x:other.test"
	f.runRefusals(t, []refusal{
		sk(room, build(as("join")), "a join", http.StatusBadRequest, "M_INVALID_PARAM"),
		sk(room, build(as("leave")), "a leave", http.StatusBadRequest, "M_INVALID_PARAM"),
		sk(room, build(as("invite")), "an invite", http.StatusBadRequest, "M_INVALID_PARAM"),
		sk(room, build(func(p *gomatrixserverlib.ProtoEvent) { p.StateKey = &alice.ID }),
			"another user's", http.StatusBadRequest, "M_BAD_JSON"),
		sk(room, build(func(p *gomatrixserverlib.ProtoEvent) { p.SenderID, p.StateKey = other, &other }),
			"a user of another server", http.StatusForbidden, "M_FORBIDDEN"),
		sk("!nothing:test.local", knock, "unknown room", http.StatusNotFound, "M_NOT_FOUND"),
		sk(room, build(func(p *gomatrixserverlib.ProtoEvent) { p.Type = "m.room.message"; p.StateKey = nil }),
			"a message", http.StatusBadRequest, "M_BAD_JSON"),
	})
	res := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send_knock/"+esc(room)+"/"+esc(knock.EventID()),
		json.RawMessage(knock.JSON()))
	res.Want(t, http.StatusOK)
	var ans struct {
		KnockRoomState []map[string]json.RawMessage `json:"knock_room_state"`
	}
	res.Decode(t, &ans)
	found := false
	for _, ev := range ans.KnockRoomState {
		if string(ev["type"]) == `"m.room.create"` {
			found = ev["origin_server_ts"] != nil && ev["signatures"] != nil
		}
	}
	if !found {
		t.Fatalf("no whole create event in %s", res.Body)
	}
	if m, err := f.Rooms.Membership(ctx, room, rita); err != nil || m != spec.Knock {
		t.Fatalf("membership after send_knock: %q, %v", m, err)
	}
}

// TestKnockRemote: a knock through servers that refuse it returns the last
// one's own error, passed through to a client when it is a refusal.
func TestKnockRemote(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	remote.answer(http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"You are banned"}`)
	err := f.api.KnockRemote(ctx, "!door:remote.test", alice.ID, []string{"test.local", "remote.test"}, map[string]any{})
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status != http.StatusForbidden || !strings.Contains(me.Message, "You are banned") {
		t.Fatalf("a client would see %+v for %v", me, err)
	}
	if paths := remote.asked(); len(paths) != 1 || !strings.HasPrefix(paths[0], "/_matrix/federation/v1/make_knock/") {
		t.Fatalf("asked remote.test %v", paths)
	}
}
