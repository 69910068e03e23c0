package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestMakeJoinRefusals: make_join for a room this server does not have, a
// user who is not the origin's, a room whose ACL denies the origin or that
// the user may not join, and a room version the origin did not list (spec:
// GET /_matrix/federation/v1/make_join: 400 M_INCOMPATIBLE_ROOM_VERSION
// with room_version).
func TestMakeJoinRefusals(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	public := f.publicRoom(t, alice)
	private := f.Room(t, alice)
	denied := f.aclRoom(t, alice, "remote.test")
	rita := esc(remoteUser("rita"))
	mj := func(room, user, query string) string {
		return "/_matrix/federation/v1/make_join/" + esc(room) + "/" + user + query
	}
	f.runRefusals(t, []refusal{
		{name: "unknown room", path: mj("!nothing:test.local", rita, "?ver=12"), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "not a room ID", path: mj("lounge", rita, "?ver=12"), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "not a user ID", path: mj(public, "rita", "?ver=12"), status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "a user of another server", path: mj(public, esc("@x:other.test"), "?ver=12"), status: http.StatusForbidden,
			errcode: "M_FORBIDDEN"},
		{name: "ACL denies the origin", path: mj(denied, rita, "?ver=12"), status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "invite only", path: mj(private, rita, "?ver=12"), status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
	})
	for _, query := range []string{"", "?ver=1", "?ver=10&ver=11"} {
		t.Run("versions "+query, func(t *testing.T) {
			res := f.DoSigned(t, f.remote, http.MethodGet, mj(public, rita, query), nil)
			wantError(t, res, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION", map[string]any{"room_version": "12"})
		})
	}
}

// TestMakeJoin: a template of the user's join in the room's version, with
// its auth and prev events filled in.
func TestMakeJoin(t *testing.T) {
	f := newFed(t)
	room := f.publicRoom(t, f.User(t, "alice"))
	res := f.DoSigned(t, f.remote, http.MethodGet, "/_matrix/federation/v1/make_join/"+esc(room)+"/"+esc(remoteUser("rita"))+"?ver=12", nil)
	res.Want(t, http.StatusOK)
	var tmpl struct {
		RoomVersion string `json:"room_version"`
		Event       struct {
			gomatrixserverlib.ProtoEvent
			PrevEvents []string `json:"prev_events"`
			AuthEvents []string `json:"auth_events"`
		} `json:"event"`
	}
	res.Decode(t, &tmpl)
	ev := tmpl.Event
	if tmpl.RoomVersion != "12" || ev.Type != spec.MRoomMember || ev.SenderID != remoteUser("rita") || ev.StateKey == nil ||
		*ev.StateKey != remoteUser("rita") || ev.RoomID != room || len(ev.PrevEvents) == 0 || len(ev.AuthEvents) == 0 {
		t.Fatalf("template %s", res.Body)
	}
	if !strings.Contains(string(ev.Content), `"join"`) {
		t.Fatalf("template content %s", ev.Content)
	}
}

// TestSendJoinRefusals: send_join with what is not a join of the origin's
// user in the path's room, signed by it.
func TestSendJoinRefusals(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	room := f.publicRoom(t, alice)
	denied := f.aclRoom(t, alice, "remote.test")
	join := f.makeJoin(t, room, remoteUser("rita"))
	_, tmpl := f.template(t, room, remoteUser("rita"))
	build := func(change func(p *gomatrixserverlib.ProtoEvent)) gomatrixserverlib.PDU {
		p := tmpl
		change(&p)
		return f.remoteEvent(t, "12", &p)
	}
	otherSender := build(func(p *gomatrixserverlib.ProtoEvent) {
		other := "@x:other.test"
		p.SenderID, p.StateKey = other, &other
	})
	notOwn := build(func(p *gomatrixserverlib.ProtoEvent) { p.StateKey = &alice.ID })
	leave := build(func(p *gomatrixserverlib.ProtoEvent) { p.Content = spec.RawJSON(`{"membership":"leave"}`) })
	forged := impostorEvent(t, "12", tmpl)
	sj := func(roomID string, ev gomatrixserverlib.PDU) refusal {
		return refusal{method: http.MethodPut, path: "/_matrix/federation/v2/send_join/" + esc(roomID) + "/" + esc(ev.EventID()),
			body: json.RawMessage(ev.JSON())}
	}
	tests := []refusal{
		with(sj(room, join), "not an event", `{"type":"m.room.member"}`, http.StatusBadRequest, "M_BAD_JSON"),
		with(sj(room, leave), "another event than the path's", json.RawMessage(join.JSON()), http.StatusBadRequest, "M_BAD_JSON"),
		with(sj("!nothing:test.local", join), "unknown room", nil, http.StatusNotFound, "M_NOT_FOUND"),
		with(sj(denied, join), "ACL denies the origin", nil, http.StatusForbidden, "M_FORBIDDEN"),
		with(sj(room, otherSender), "a user of another server", nil, http.StatusForbidden, "M_FORBIDDEN"),
		with(sj(room, notOwn), "another user's membership", nil, http.StatusBadRequest, "M_BAD_JSON"),
		with(sj(room, forged), "not signed by the origin's key", nil, http.StatusForbidden, "M_FORBIDDEN"),
		with(sj(room, leave), "a leave", nil, http.StatusBadRequest, "M_BAD_JSON"),
	}
	f.runRefusals(t, tests)
	if m, _ := f.Rooms.Membership(context.Background(), room, remoteUser("rita")); m == "join" {
		t.Fatal("a refused send_join joined rita")
	}
}

// TestSendJoin: the join is taken in and the answer has the state before
// it and its auth chain (spec: PUT /_matrix/federation/v2/send_join); v1
// answers the same as [200, body].
func TestSendJoin(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	room := f.publicRoom(t, alice)
	perVersion(t, func(t *testing.T, v, user string) {
		join := f.makeJoin(t, room, user)
		res := f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/"+v+"/send_join/"+esc(room)+"/"+esc(join.EventID()),
			json.RawMessage(join.JSON()))
		res.Want(t, http.StatusOK)
		body := res.Body
		if v == "v1" {
			var pair []json.RawMessage
			res.Decode(t, &pair)
			if len(pair) != 2 || string(pair[0]) != "200" {
				t.Fatalf("v1 answer %s", res.Body)
			}
			body = pair[1]
		}
		var answer struct {
			Origin    string            `json:"origin"`
			Event     json.RawMessage   `json:"event"`
			State     []json.RawMessage `json:"state"`
			AuthChain []json.RawMessage `json:"auth_chain"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatal(err)
		}
		if answer.Origin != "test.local" || len(answer.Event) == 0 || !hasEvent(answer.State, spec.MRoomCreate) ||
			!hasEvent(answer.State, spec.MRoomPowerLevels) || hasEvent(answer.State, "m.room.message") {
			t.Fatalf("send_join answer %s", body)
		}
		if m, err := f.Rooms.Membership(context.Background(), room, user); err != nil || m != "join" {
			t.Fatalf("%s's membership %q (%v)", user, m, err)
		}
	})
}

// TestLeave: make_leave gives a leave template to a joined user of the
// origin, send_leave takes the leave in (v1 answers [200, {}]); a join
// sent as a leave is refused.
func TestLeave(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	room := f.publicRoom(t, alice)
	perVersion(t, func(t *testing.T, v, user string) {
		join := f.joinRemote(t, room, user)
		send := "/_matrix/federation/" + v + "/send_leave/" + esc(room) + "/"
		f.DoSigned(t, f.remote, http.MethodPut, send+esc(join.EventID()), json.RawMessage(join.JSON())).
			Want(t, http.StatusBadRequest, "M_BAD_JSON")
		res := f.DoSigned(t, f.remote, http.MethodGet, "/_matrix/federation/v1/make_leave/"+esc(room)+"/"+esc(user), nil)
		res.Want(t, http.StatusOK)
		var tmpl struct {
			RoomVersion gomatrixserverlib.RoomVersion `json:"room_version"`
			Event       gomatrixserverlib.ProtoEvent  `json:"event"`
		}
		res.Decode(t, &tmpl)
		leave := f.remoteEvent(t, tmpl.RoomVersion, &tmpl.Event)
		res = f.DoSigned(t, f.remote, http.MethodPut, send+esc(leave.EventID()), json.RawMessage(leave.JSON()))
		res.Want(t, http.StatusOK)
		want := `{}`
		if v == "v1" {
			want = `[200,{}]`
		}
		wantJSON(t, res.Body, want)
		if m, _ := f.Rooms.Membership(context.Background(), room, user); m != "leave" {
			t.Fatalf("%s's membership %q after the leave", user, m)
		}
	})
	f.runRefusals(t, []refusal{
		{name: "make_leave: a user of another server", path: "/_matrix/federation/v1/make_leave/" + esc(room) + "/" + esc("@x:other.test"),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "make_leave: unknown room", path: "/_matrix/federation/v1/make_leave/" + esc("!nothing:test.local") + "/" +
			esc(remoteUser("rita")), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}

// aclRoom is a public room of creator's whose server ACL denies server.
func (f *fed) aclRoom(t *testing.T, creator *fixture.User, server string) string {
	t.Helper()
	room := f.publicRoom(t, creator)
	f.state(t, creator, room, "m.room.server_acl", map[string]any{"allow": []string{"*"}, "deny": []string{server}})
	return room
}

// state sends a state event (state key "") as u.
func (f *fed) state(t *testing.T, u *fixture.User, room, evType string, content any) string {
	t.Helper()
	b, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	id, err := f.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{
		RoomID: room, Sender: u.ID, Type: evType, StateKey: &empty, Content: b,
	})
	if err != nil {
		t.Fatalf("%s in %s: %v", evType, room, err)
	}
	return id
}

// with names a refusal and sets its body (nil: keep it) and answer.
func with(r refusal, name string, body any, status int, errcode string) refusal {
	r.name, r.status, r.errcode = name, status, errcode
	if body != nil {
		r.body = body
	}
	return r
}

// hasEvent reports whether evs hold an event of type evType.
func hasEvent(evs []json.RawMessage, evType string) bool {
	for _, raw := range evs {
		var e struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Type == evType {
			return true
		}
	}
	return false
}
