package admin_test

import (
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// The spec's lock and suspend endpoints and their effects on the user's
// client requests (spec: "Account locking", "Account suspension").
func TestLockAndSuspend(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice)
	s.Invite(t, s.Alice, bob, room)
	s.Join(t, bob, room)
	other := s.Room(t, s.Alice)
	s.Invite(t, s.Alice, bob, other)
	ownEvent := s.Send(t, bob, room, "mine")
	aliceEvent := s.Send(t, s.Alice, room, "hers")
	lock := "/_matrix/client/v1/admin/lock/" + s.Alice.ID
	suspend := "/_matrix/client/v1/admin/suspend/" + bob.ID
	c3 := "/_matrix/client/v3"
	msg := map[string]any{"msgtype": "m.text", "body": "hi"}
	run(t, s, []call{
		{name: "not locked", method: http.MethodGet, path: lock, token: s.Root.Token, status: http.StatusOK,
			check: wantJSON(`{"locked":false}`)},
		{name: "lock", method: http.MethodPut, path: lock, token: s.Root.Token, body: map[string]any{"locked": true},
			status: http.StatusOK, check: wantJSON(`{"locked":true}`)},
		{name: "locked", method: http.MethodGet, path: lock, token: s.Root.Token, status: http.StatusOK,
			check: wantJSON(`{"locked":true}`)},
		{name: "a locked user's request", method: http.MethodGet, path: c3 + "/account/whoami", token: s.Alice.Token,
			status: http.StatusUnauthorized, errcode: "M_USER_LOCKED", check: wantJSON(
				`{"errcode":"M_USER_LOCKED","error":"this account has been locked","soft_logout":true}`)},
		{name: "a locked user cannot log in", method: http.MethodPost, path: c3 + "/login",
			body: map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"},
				"password": s.Alice.Password}, status: http.StatusUnauthorized, errcode: "M_USER_LOCKED"},
		{name: "unlock", method: http.MethodPut, path: lock, token: s.Root.Token, body: map[string]any{"locked": false},
			status: http.StatusOK, check: wantJSON(`{"locked":false}`)},
		{name: "unlocked, the same token works", method: http.MethodGet, path: c3 + "/account/whoami", token: s.Alice.Token,
			status: http.StatusOK},

		{name: "suspend", method: http.MethodPut, path: suspend, token: s.Root.Token, body: map[string]any{"suspended": true},
			status: http.StatusOK, check: wantJSON(`{"suspended":true}`)},
		{name: "suspended", method: http.MethodGet, path: suspend, token: s.Root.Token, status: http.StatusOK,
			check: wantJSON(`{"suspended":true}`)},
		{name: "suspended: send", method: http.MethodPut, path: c3 + "/rooms/" + room + "/send/m.room.message/t1", token: bob.Token,
			body: msg, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: state", method: http.MethodPut, path: c3 + "/rooms/" + room + "/state/m.room.topic", token: bob.Token,
			body: map[string]any{"topic": "x"}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: create a room", method: http.MethodPost, path: c3 + "/createRoom", token: bob.Token,
			body: map[string]any{}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: accept an invite", method: http.MethodPost, path: c3 + "/join/" + other, token: bob.Token,
			body: map[string]any{}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: invite", method: http.MethodPost, path: c3 + "/rooms/" + room + "/invite", token: bob.Token,
			body: map[string]any{"user_id": s.Root.ID}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: change the profile", method: http.MethodPut, path: c3 + "/profile/" + bob.ID + "/displayname",
			token: bob.Token, body: map[string]any{"displayname": "B"}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: redact another's event", method: http.MethodPut, path: c3 + "/rooms/" + room + "/redact/" + aliceEvent + "/r1",
			token: bob.Token, body: map[string]any{}, status: http.StatusForbidden, errcode: "M_USER_SUSPENDED"},
		{name: "suspended: redact one's own", method: http.MethodPut, path: c3 + "/rooms/" + room + "/redact/" + ownEvent + "/r2",
			token: bob.Token, body: map[string]any{}, status: http.StatusOK},
		{name: "suspended: read the room's state", method: http.MethodGet, path: c3 + "/rooms/" + room + "/state", token: bob.Token,
			status: http.StatusOK},
		{name: "suspended: leave", method: http.MethodPost, path: c3 + "/rooms/" + room + "/leave", token: bob.Token,
			body: map[string]any{}, status: http.StatusOK},
		{name: "synapse's unsuspend", method: http.MethodPut, path: "/v1/suspend/" + bob.ID, token: s.Root.Token,
			body: map[string]any{"suspend": false}, status: http.StatusOK, check: wantJSON(`{"user_` + bob.ID + `_suspended":false}`)},
		{name: "unsuspended: join", method: http.MethodPost, path: c3 + "/join/" + other, token: bob.Token,
			body: map[string]any{}, status: http.StatusOK},
		{name: "synapse's suspend shows in the user", method: http.MethodPut, path: "/v1/suspend/" + bob.ID, token: s.Root.Token,
			body: map[string]any{"suspend": true}, status: http.StatusOK},
		{name: "suspended in the query", method: http.MethodGet, path: "/v2/users/" + bob.ID, token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["suspended"] != true {
					t.Fatalf("body %s", r.Body)
				}
			}},

		{name: "lock oneself", method: http.MethodPut, path: "/_matrix/client/v1/admin/lock/" + s.Root.ID, token: s.Root.Token,
			body: map[string]any{"locked": true}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "another server's user", method: http.MethodGet, path: "/_matrix/client/v1/admin/lock/@x:elsewhere.example",
			token: s.Root.Token, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "a missing user", method: http.MethodGet, path: "/_matrix/client/v1/admin/suspend/@nobody:test.local",
			token: s.Root.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "no flag in the body", method: http.MethodPut, path: suspend, token: s.Root.Token, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "a flag that is not a boolean", method: http.MethodPut, path: suspend, token: s.Root.Token,
			body: map[string]any{"suspended": "yes"}, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
	// Another admin cannot be locked.
	other2 := s.AdminUser(t, "other-admin")
	run(t, s, []call{
		{name: "lock another admin", method: http.MethodPut, path: "/_matrix/client/v1/admin/lock/" + other2.ID, token: s.Root.Token,
			body: map[string]any{"locked": true}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "a locked user may log out", method: http.MethodPut, path: lock, token: s.Root.Token,
			body: map[string]any{"locked": true}, status: http.StatusOK},
		{name: "logout", method: http.MethodPost, path: c3 + "/logout", token: s.Alice.Token, body: map[string]any{},
			status: http.StatusOK},
		{name: "the token is gone", method: http.MethodGet, path: c3 + "/account/whoami", token: s.Alice.Token,
			status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
	})
}
