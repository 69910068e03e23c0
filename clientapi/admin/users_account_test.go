package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

// auditEntry finds the newest audit entry about target and checks its
// method, path suffix, status and detail prefix.
func auditEntry(s *server, target, method, pathSuffix string, status int, detailPrefix string) call {
	return call{name: "audit log records " + method + " " + pathSuffix, method: http.MethodGet,
		path: "/v1/audit_log?target=" + target, token: s.Root.Token, status: http.StatusOK,
		check: func(t *testing.T, r *fixture.Response) {
			for _, e := range list(t, r.JSON(), "entries") {
				m, _ := e.(map[string]any)
				path, _ := m["path"].(string)
				detail, _ := m["detail"].(string)
				if m["method"] == method && strings.HasSuffix(path, pathSuffix) {
					if m["admin"] != s.Root.ID || m["status"] != float64(status) || !strings.HasPrefix(detail, detailPrefix) {
						t.Fatalf("entry %v", m)
					}
					return
				}
			}
			t.Fatalf("no entry for %s %s in %s", method, pathSuffix, r.Body)
		}}
}

func TestDeactivateWithErase(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice)
	s.Invite(t, s.Alice, bob, room)
	s.Join(t, bob, room)
	s.Send(t, bob, room, "hello")
	path := "/v1/deactivate/" + bob.ID
	run(t, s, []call{
		{name: "bad body", method: http.MethodPost, path: path, token: s.Root.Token, body: map[string]any{"erase": "yes"},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "a missing user", method: http.MethodPost, path: "/v1/deactivate/@nobody:test.local", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "deactivate and erase", method: http.MethodPost, path: path, token: s.Root.Token,
			body: map[string]any{"erase": true}, status: http.StatusOK, check: wantJSON(`{"id_server_unbind_result":"no-support"}`)},
		{name: "bob is deactivated and erased", method: http.MethodGet, path: "/v2/users/" + bob.ID, token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				if m["deactivated"] != true || m["erased"] != true || m["displayname"] != nil {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "bob's token is gone", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", token: bob.Token,
			status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
		{name: "bob left the room", method: http.MethodGet, path: "/v1/users/" + bob.ID + "/joined_rooms", token: s.Root.Token,
			status: http.StatusOK, check: wantJSON(`{"joined_rooms":[],"total":0}`)},
		{name: "deactivated users are listed on request", method: http.MethodGet, path: "/v2/users?deactivated=true&name=bob",
			token: s.Root.Token, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["total"] != float64(1) {
					t.Fatalf("body %s", r.Body)
				}
			}},
		auditEntry(s, bob.ID, http.MethodPost, "/v1/deactivate/"+bob.ID, http.StatusOK, "erased"),
	})
	if m, err := s.Rooms.Membership(t.Context(), room, bob.ID); err != nil || m != "leave" {
		t.Fatalf("bob's membership %q, %v", m, err)
	}
}

func TestLoginAsUser(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	path := "/v1/users/" + s.Alice.ID + "/login"
	var token string
	run(t, s, []call{
		{name: "as oneself", method: http.MethodPost, path: "/v1/users/" + s.Root.ID + "/login", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "a missing user", method: http.MethodPost, path: "/v1/users/@nobody:test.local/login", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "valid_until_ms in the past", method: http.MethodPost, path: path, token: s.Root.Token,
			body: map[string]any{"valid_until_ms": 1000}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "login as alice", method: http.MethodPost, path: path, token: s.Root.Token,
			body: map[string]any{"valid_until_ms": time.Now().Add(time.Hour).UnixMilli()}, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				token, _ = m["access_token"].(string)
				if token == "" || len(m) != 1 {
					t.Fatalf("body %s", r.Body)
				}
			}},
	})
	run(t, s, []call{
		{name: "the token is alice's", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", token: token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["user_id"] != s.Alice.ID {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "and acts as her", method: http.MethodPut, path: "/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1",
			token: token, body: map[string]any{"msgtype": "m.text", "body": "support here"}, status: http.StatusOK},
		auditEntry(s, s.Alice.ID, http.MethodPost, "/login", http.StatusOK, "device "),
		{name: "the audit names a device of alice's", method: http.MethodGet, path: "/v2/users/" + s.Alice.ID + "/devices",
			token: s.Root.Token, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["total"] != float64(2) {
					t.Fatalf("body %s", r.Body)
				}
			}},
	})
}

func TestWhoisAndJoinedRooms(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	whoisCheck := func(t *testing.T, r *fixture.Response) {
		m := r.JSON()
		if m["user_id"] != s.Alice.ID {
			t.Fatalf("body %s", r.Body)
		}
		dev := object(t, object(t, m, "devices"), s.Alice.Device)
		sess, _ := list(t, dev, "sessions")[0].(map[string]any)
		conn, _ := list(t, sess, "connections")[0].(map[string]any)
		hasKeys(t, conn, "ip", "last_seen", "user_agent")
	}
	run(t, s, []call{
		{name: "synapse whois", method: http.MethodGet, path: "/v1/whois/" + s.Alice.ID, token: s.Root.Token,
			status: http.StatusOK, check: whoisCheck},
		{name: "spec whois by an admin", method: http.MethodGet, path: "/_matrix/client/v3/admin/whois/" + s.Alice.ID,
			token: s.Root.Token, status: http.StatusOK, check: whoisCheck},
		{name: "spec whois of oneself", method: http.MethodGet, path: "/_matrix/client/v3/admin/whois/" + s.Alice.ID,
			token: s.Alice.Token, status: http.StatusOK, check: whoisCheck},
		{name: "whois of a missing user", method: http.MethodGet, path: "/v1/whois/@nobody:test.local", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "joined rooms", method: http.MethodGet, path: "/v1/users/" + s.Alice.ID + "/joined_rooms", token: s.Root.Token,
			status: http.StatusOK, check: wantJSON(`{"joined_rooms":["` + room + `"],"total":1}`)},
		{name: "joined rooms of a missing user", method: http.MethodGet, path: "/v1/users/@nobody:test.local/joined_rooms",
			token: s.Root.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}
