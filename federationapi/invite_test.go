package federationapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
)

// inviteRoom is a room of remote.test's (version 10, whose room IDs name
// their server) that this server does not have.
const inviteRoom = "!lounge:remote.test"

// inviteProto is an invite from rita of remote.test to invitee.
func inviteProto(invitee string) gomatrixserverlib.ProtoEvent {
	return gomatrixserverlib.ProtoEvent{SenderID: remoteUser("rita"), RoomID: inviteRoom, Type: spec.MRoomMember,
		StateKey: &invitee, Content: spec.RawJSON(`{"membership":"invite"}`), PrevEvents: []string{"$prev"},
		AuthEvents: []string{"$create", "$power", "$rita"}, Depth: 7}
}

// remoteInvite is inviteProto(invitee), changed by change (if any), signed
// by remote.test.
func (f *fed) remoteInvite(t *testing.T, invitee string, change func(p *gomatrixserverlib.ProtoEvent)) gomatrixserverlib.PDU {
	t.Helper()
	proto := inviteProto(invitee)
	if change != nil {
		change(&proto)
	}
	return f.remoteEvent(t, "10", &proto)
}

// inviteBody is the body of PUT /v2/invite for ev (spec: room_version,
// event, invite_room_state).
func inviteBody(ver string, ev gomatrixserverlib.PDU) map[string]any {
	return map[string]any{"room_version": ver, "event": json.RawMessage(ev.JSON()), "invite_room_state": []any{}}
}

func invitePath(ev gomatrixserverlib.PDU) string {
	return "/_matrix/federation/v2/invite/" + esc(ev.RoomID().String()) + "/" + esc(ev.EventID())
}

// TestReceiveInviteRefusals: an invite this server does not sign (spec:
// PUT /_matrix/federation/v2/invite): not an invite of one of its users
// sent by one of the origin's, of a version it does not know (400
// M_INCOMPATIBLE_ROOM_VERSION with room_version), for a user it does not
// have, or not signed by the origin.
func TestReceiveInviteRefusals(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	f.User(t, "carol")
	if err := f.Users.Deactivate(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	good := f.remoteInvite(t, alice.ID, nil)
	join := f.remoteInvite(t, alice.ID, func(p *gomatrixserverlib.ProtoEvent) { p.Content = spec.RawJSON(`{"membership":"join"}`) })
	elsewhere := f.remoteInvite(t, "@x:other.test", nil)
	otherSender := f.remoteInvite(t, alice.ID, func(p *gomatrixserverlib.ProtoEvent) { p.SenderID = "@x:other.test" })
	nobody := f.remoteInvite(t, "@nobody:test.local", nil)
	deactivated := f.remoteInvite(t, "@carol:test.local", nil)
	forged := impostorEvent(t, "10", inviteProto(alice.ID))
	put := func(name string, ev gomatrixserverlib.PDU, body any, status int, errcode string) refusal {
		if body == nil {
			body = inviteBody("10", ev)
		}
		return refusal{name: name, method: http.MethodPut, path: invitePath(ev), body: body, status: status, errcode: errcode}
	}
	f.runRefusals(t, []refusal{
		put("not an invite request", good, `{"room_version":10,"event":{}}`, http.StatusBadRequest, "M_BAD_JSON"),
		put("no room_version", good, map[string]any{"event": json.RawMessage(good.JSON())}, http.StatusBadRequest, "M_MISSING_PARAM"),
		put("no event", good, map[string]any{"room_version": "10"}, http.StatusBadRequest, "M_MISSING_PARAM"),
		put("an event that is not one", good, map[string]any{"room_version": "10", "event": "x"}, http.StatusBadRequest, "M_BAD_JSON"),
		put("another event than the path's", good, inviteBody("10", join), http.StatusBadRequest, "M_BAD_JSON"),
		put("a join", join, nil, http.StatusBadRequest, "M_BAD_JSON"),
		put("a user of another server", elsewhere, nil, http.StatusBadRequest, "M_BAD_JSON"),
		put("sent for a user of another server", otherSender, nil, http.StatusForbidden, "M_FORBIDDEN"),
		put("no such user", nobody, nil, http.StatusForbidden, "M_FORBIDDEN"),
		put("a deactivated user", deactivated, nil, http.StatusForbidden, "M_FORBIDDEN"),
		put("not signed by the origin's key", forged, nil, http.StatusForbidden, "M_FORBIDDEN"),
	})
	for _, ver := range []string{"99", "org.example.unstable"} {
		t.Run("room version "+ver, func(t *testing.T) {
			res := f.DoSigned(t, f.remote, http.MethodPut, invitePath(good), inviteBody(ver, good))
			wantError(t, res, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION", map[string]any{"room_version": ver})
		})
	}
	t.Run("room version 99, no event", func(t *testing.T) {
		res := f.DoSigned(t, f.remote, http.MethodPut, invitePath(good), map[string]any{"room_version": "99"})
		wantError(t, res, http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION", map[string]any{"room_version": "99"})
	})
}

// TestReceiveInvite: an invite of a local user is answered signed by both
// servers.
func TestReceiveInvite(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	ev := f.remoteInvite(t, alice.ID, nil)
	res := f.DoSigned(t, f.remote, http.MethodPut, invitePath(ev), inviteBody("10", ev))
	res.Want(t, http.StatusOK)
	var answer struct {
		Event json.RawMessage `json:"event"`
	}
	res.Decode(t, &answer)
	ver := gomatrixserverlib.MustGetRoomVersion("10")
	signed, err := ver.NewEventFromUntrustedJSON(answer.Event)
	if err != nil || signed.EventID() != ev.EventID() {
		t.Fatalf("the signed invite %s: %v", answer.Event, err)
	}
	redacted, err := ver.RedactEventJSON(answer.Event)
	if err != nil {
		t.Fatal(err)
	}
	own := f.Key.Private.Public().(ed25519.PublicKey)
	if err := gomatrixserverlib.VerifyJSON(string(serverName), gomatrixserverlib.KeyID(f.Key.ID), own, redacted); err != nil {
		t.Fatalf("this server's signature: %v", err)
	}
	if err := gomatrixserverlib.VerifyJSON("remote.test", f.remote.KeyID, f.remote.Public(), redacted); err != nil {
		t.Fatalf("remote.test's signature: %v", err)
	}
}

// TestSendInvite: the invitee's server signs an invite of this server's
// (spec: PUT /_matrix/federation/v2/invite); its refusal is its own error
// as a client gets it (400 M_INCOMPATIBLE_ROOM_VERSION with room_version
// passed through, M_INVALID_PARAM a 502), an answer that is not the
// invite signed is a 502. v1 is tried only in rooms of versions 1 and 2.
func TestSendInvite(t *testing.T) {
	f, remote := newFedAnswering(t)
	alice := f.User(t, "alice")
	v10 := f.localInvite(t, "10", alice.ID, "@dana:remote.test")
	v1 := f.localInvite(t, "1", alice.ID, "@dana:remote.test")
	unsigned := f.localInvite(t, "10", alice.ID, "@erin:remote.test")
	unsignedJSON := string(unsigned.JSON())
	signed := v10.Sign("remote.test", f.remote.KeyID, f.remote.Private)
	const v2Path, v1Path = "/_matrix/federation/v2/invite/", "/_matrix/federation/v1/invite/"
	tests := []struct {
		name   string
		invite gomatrixserverlib.PDU
		status int
		body   string
		client clientAnswer // zero: the invite is signed
		asked  []string     // the paths' prefixes
	}{
		{"signed", v10, http.StatusOK, `{"event":` + string(signed.JSON()) + `}`, clientAnswer{}, []string{v2Path}},
		{"refused", v10, http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"no invites from you"}`,
			clientAnswer{http.StatusForbidden, "M_FORBIDDEN", nil}, []string{v2Path}},
		{"a version the invitee's server lacks", v10, http.StatusBadRequest,
			`{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"unsupported","room_version":"10"}`,
			clientAnswer{http.StatusBadRequest, "M_INCOMPATIBLE_ROOM_VERSION", map[string]any{"room_version": "10"}}, []string{v2Path}},
		{"this server's request is invalid", v10, http.StatusBadRequest, `{"errcode":"M_INVALID_PARAM","error":"bad event"}`,
			clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil}, []string{v2Path}},
		{"no such user: no v1", v10, http.StatusNotFound, `{"errcode":"M_NOT_FOUND","error":"no such user"}`,
			clientAnswer{http.StatusNotFound, "M_NOT_FOUND", nil}, []string{v2Path}},
		{"no v2 in a version 1 room: v1", v1, http.StatusNotFound, `{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}`,
			clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil}, []string{v2Path, v1Path}},
		{"not the invite signed", v10, http.StatusOK, `{"event":{"type":"m.room.member"}}`,
			clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil}, []string{v2Path}},
		{"the invite back unsigned", unsigned, http.StatusOK, `{"event":` + unsignedJSON + `}`,
			clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil}, []string{v2Path}},
		{"another server's event", v10, http.StatusOK, `{"event":` + string(f.remoteInvite(t, alice.ID, nil).JSON()) + `}`,
			clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil}, []string{v2Path}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote.answer(tc.status, tc.body)
			got, err := f.api.SendInvite(context.Background(), tc.invite, nil)
			asked := remote.asked()
			if len(asked) != len(tc.asked) {
				t.Fatalf("asked %v, want %v", asked, tc.asked)
			}
			for i, p := range tc.asked {
				if !strings.HasPrefix(asked[i], p) {
					t.Fatalf("asked %v, want %v", asked, tc.asked)
				}
			}
			if tc.client.status == 0 {
				if err != nil || got.EventID() != tc.invite.EventID() {
					t.Fatalf("signed invite %v (%v)", got, err)
				}
				return
			}
			wantAnswer(t, err, tc.client)
		})
	}
	t.Run("a server that cannot be reached", func(t *testing.T) {
		_, err := f.api.SendInvite(context.Background(), f.localInvite(t, "10", alice.ID, "@x:"+stranger), nil)
		wantAnswer(t, err, clientAnswer{http.StatusBadGateway, "M_UNKNOWN", nil})
	})
}

// clientAnswer is the Matrix error a client would get.
type clientAnswer struct {
	status  int
	errcode string
	extra   map[string]any
}

// wantAnswer checks the Matrix error err stands for, as
// httputil.WriteError writes it.
func wantAnswer(t *testing.T, err error, want clientAnswer) {
	t.Helper()
	me, ok := httputil.AsMatrixError(err)
	if !ok || me.Status != want.status || me.ErrCode != want.errcode {
		t.Fatalf("a client would see %+v for %v, want %+v", me, err, want)
	}
	for k, v := range want.extra {
		if me.Extra[k] != v {
			t.Fatalf("%s = %v, want %v", k, me.Extra[k], v)
		}
	}
}

// localInvite is alice's invite of invitee to a room of this server's of
// version ver, signed by this server.
func (f *fed) localInvite(t *testing.T, ver gomatrixserverlib.RoomVersion, sender, invitee string) gomatrixserverlib.PDU {
	t.Helper()
	proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: "!hall:test.local", Type: spec.MRoomMember,
		StateKey: &invitee, Content: spec.RawJSON(`{"membership":"invite"}`), PrevEvents: []string{"$prev:test.local"},
		AuthEvents: []string{"$create:test.local"}, Depth: 7}
	ev, err := gomatrixserverlib.MustGetRoomVersion(ver).NewEventBuilderFromProtoEvent(&proto).
		Build(time.Now(), serverName, gomatrixserverlib.KeyID(f.Key.ID), f.Key.Private)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
