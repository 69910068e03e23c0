package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/test/fixture"
)

// Synapse's documented user objects: the list's, and the query's (the
// list's with more).
var (
	listUserKeys = []string{"name", "is_guest", "admin", "user_type", "deactivated", "erased", "shadow_banned",
		"displayname", "avatar_url", "creation_ts", "last_seen_ts", "locked"}
	queryUserKeys = append([]string{"threepids", "appservice_id", "consent_server_notice_sent", "consent_version",
		"consent_ts", "external_ids", "suspended"}, listUserKeys...)
)

// hasKeys fails unless m has every key.
func hasKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("no %q in %v", k, m)
		}
	}
}

// object is m[key] as an object, failing if it is not one.
func object(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not an object in %v", key, m)
	}
	return o
}

// list is m[key] as an array, failing if it is not one.
func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	l, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%q is not an array in %v", key, m)
	}
	return l
}

// userRoutes are every route of the users part, with a body each accepts.
var userRoutes = []struct {
	method, path string
	body         any
}{
	{http.MethodGet, "/v2/users", nil},
	{http.MethodGet, "/v2/users/@bob:test.local", nil},
	{http.MethodPut, "/v2/users/@bob:test.local", map[string]any{}},
	{http.MethodGet, "/v1/users/@bob:test.local/admin", nil},
	{http.MethodPut, "/v1/users/@bob:test.local/admin", map[string]any{"admin": true}},
	{http.MethodGet, "/v1/users/@bob:test.local/joined_rooms", nil},
	{http.MethodPost, "/v1/users/@bob:test.local/login", map[string]any{}},
	{http.MethodPost, "/v1/deactivate/@bob:test.local", map[string]any{}},
	{http.MethodPost, "/v1/reset_password/@bob:test.local", map[string]any{"new_password": "x"}},
	{http.MethodGet, "/v1/whois/@bob:test.local", nil},
	{http.MethodGet, "/v2/users/@bob:test.local/devices", nil},
	{http.MethodPost, "/v2/users/@bob:test.local/devices", map[string]any{"device_id": "X"}},
	{http.MethodGet, "/v2/users/@bob:test.local/devices/X", nil},
	{http.MethodPut, "/v2/users/@bob:test.local/devices/X", map[string]any{}},
	{http.MethodDelete, "/v2/users/@bob:test.local/devices/X", nil},
	{http.MethodPost, "/v2/users/@bob:test.local/delete_devices", map[string]any{"devices": []string{}}},
	{http.MethodPut, "/v1/suspend/@bob:test.local", map[string]any{"suspend": true}},
	{http.MethodGet, "/_matrix/client/v1/admin/suspend/@bob:test.local", nil},
	{http.MethodPut, "/_matrix/client/v1/admin/suspend/@bob:test.local", map[string]any{"suspended": true}},
	{http.MethodGet, "/_matrix/client/v1/admin/lock/@bob:test.local", nil},
	{http.MethodPut, "/_matrix/client/v1/admin/lock/@bob:test.local", map[string]any{"locked": true}},
	{http.MethodGet, "/v1/registration_tokens", nil},
	{http.MethodPost, "/v1/registration_tokens/new", map[string]any{}},
	{http.MethodGet, "/v1/registration_tokens/abc", nil},
	{http.MethodPut, "/v1/registration_tokens/abc", map[string]any{}},
	{http.MethodDelete, "/v1/registration_tokens/abc", nil},
}

// Every route refuses a request without a token and one by a user who is
// not an admin, and changes nothing then: bob stays as he was.
func TestUserRoutesRefuseNonAdmins(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	for _, r := range userRoutes {
		run(t, s, refusals(s, r.method, r.path, r.body))
	}
	run(t, s, []call{
		{name: "bob is untouched", method: http.MethodGet, path: "/v2/users/@bob:test.local", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				if m["admin"] != false || m["deactivated"] != false || m["locked"] != false || m["suspended"] != false {
					t.Fatalf("bob changed: %s", r.Body)
				}
			}},
		{name: "bob's token still works", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", token: bob.Token,
			status: http.StatusOK},
		// The spec's whois: a user may look up themself, not others.
		{name: "whois of oneself", method: http.MethodGet, path: "/_matrix/client/v3/admin/whois/" + s.Alice.ID,
			token: s.Alice.Token, status: http.StatusOK},
		{name: "whois of another by a non-admin", method: http.MethodGet, path: "/_matrix/client/v3/admin/whois/@bob:test.local",
			token: s.Alice.Token, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "whois without a token", method: http.MethodGet, path: "/_matrix/client/v3/admin/whois/@bob:test.local",
			status: http.StatusUnauthorized, errcode: "M_MISSING_TOKEN"},
	})
}

func TestListAndQueryUsers(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) { testListAndQueryUsers(t, newServer(t, db)) })
}

func testListAndQueryUsers(t *testing.T, s *server) {
	s.User(t, "bob")
	total := func(want float64) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			if r.JSON()["total"] != want {
				t.Fatalf("total: %s", r.Body)
			}
		}
	}
	run(t, s, []call{
		{name: "list", method: http.MethodGet, path: "/v2/users", token: s.Root.Token, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				users := list(t, m, "users")
				if len(users) != 3 || m["total"] != float64(3) || m["next_token"] != nil {
					t.Fatalf("body %s", r.Body)
				}
				first, _ := users[0].(map[string]any)
				hasKeys(t, first, listUserKeys...)
				if first["name"] != s.Alice.ID || first["displayname"] != "alice" || first["avatar_url"] != nil {
					t.Fatalf("first user %v", first)
				}
			}},
		{name: "a page with next_token", method: http.MethodGet, path: "/v2/users?limit=2&from=0", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				if len(list(t, m, "users")) != 2 || m["next_token"] != "2" || m["total"] != float64(3) {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "the last page", method: http.MethodGet, path: "/v2/users?limit=2&from=2", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				if len(list(t, m, "users")) != 1 || m["next_token"] != nil {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "admins only", method: http.MethodGet, path: "/v2/users?admins=true", token: s.Root.Token,
			status: http.StatusOK, check: total(1)},
		{name: "by name, backwards", method: http.MethodGet, path: "/v2/users?order_by=name&dir=b&name=o", token: s.Root.Token,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				users := list(t, r.JSON(), "users")
				if len(users) != 2 || users[0].(map[string]any)["name"] != s.Root.ID {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "user_id filter", method: http.MethodGet, path: "/v2/users?user_id=@bob", token: s.Root.Token,
			status: http.StatusOK, check: total(1)},
		{name: "guests=false lists everyone (no guests here)", method: http.MethodGet, path: "/v2/users?guests=false",
			token: s.Root.Token, status: http.StatusOK, check: total(3)},
		{name: "bad order_by", method: http.MethodGet, path: "/v2/users?order_by=password", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad dir", method: http.MethodGet, path: "/v2/users?dir=x", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad bool", method: http.MethodGet, path: "/v2/users?deactivated=yes", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad limit", method: http.MethodGet, path: "/v2/users?limit=-1", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "limit 0", method: http.MethodGet, path: "/v2/users?limit=0", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "query", method: http.MethodGet, path: "/v2/users/" + s.Alice.ID, token: s.Root.Token, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				hasKeys(t, m, queryUserKeys...)
				if m["name"] != s.Alice.ID || m["admin"] != false || len(list(t, m, "threepids")) != 0 {
					t.Fatalf("body %s", r.Body)
				}
				if ts, _ := m["creation_ts"].(float64); ts <= 0 {
					t.Fatalf("creation_ts: %s", r.Body)
				}
			}},
		{name: "query a missing user", method: http.MethodGet, path: "/v2/users/@nobody:test.local", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "query another server's user", method: http.MethodGet, path: "/v2/users/@bob:elsewhere.example",
			token: s.Root.Token, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}

func TestCreateAndModifyUser(t *testing.T) {
	s := newServer(t, nil)
	carol := "/v2/users/@carol:test.local"
	run(t, s, []call{
		{name: "create", method: http.MethodPut, path: carol, token: s.Root.Token, status: http.StatusCreated,
			body: map[string]any{"password": "carol-pw", "displayname": "Carol", "avatar_url": "mxc://test.local/abc",
				"threepids": []any{}, "user_type": nil},
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				hasKeys(t, m, queryUserKeys...)
				if m["displayname"] != "Carol" || m["avatar_url"] != "mxc://test.local/abc" || m["admin"] != false {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "carol logs in with her password", method: http.MethodPost, path: "/_matrix/client/v3/login",
			body: map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "carol"},
				"password": "carol-pw"}, status: http.StatusOK},
		{name: "modify: promote, rename, drop the avatar", method: http.MethodPut, path: carol, token: s.Root.Token,
			status: http.StatusOK, body: map[string]any{"admin": true, "displayname": "Caroline", "avatar_url": ""},
			check: func(t *testing.T, r *fixture.Response) {
				m := r.JSON()
				if m["admin"] != true || m["displayname"] != "Caroline" || m["avatar_url"] != nil {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "lock through PUT", method: http.MethodPut, path: carol, token: s.Root.Token, status: http.StatusOK,
			body: map[string]any{"locked": true}, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["locked"] != true {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "a bad avatar", method: http.MethodPut, path: carol, token: s.Root.Token, body: map[string]any{"avatar_url": "http://x"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "a bad localpart", method: http.MethodPut, path: "/v2/users/@Bad%20Name:test.local", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_INVALID_USERNAME"},
		{name: "another server's user", method: http.MethodPut, path: "/v2/users/@x:elsewhere.example", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "an admin cannot demote themself", method: http.MethodPut, path: "/v2/users/" + s.Root.ID, token: s.Root.Token,
			body: map[string]any{"admin": false}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "deactivate through PUT", method: http.MethodPut, path: carol, token: s.Root.Token, status: http.StatusOK,
			body: map[string]any{"deactivated": true}, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["deactivated"] != true {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "reactivation needs a password", method: http.MethodPut, path: carol, token: s.Root.Token,
			body: map[string]any{"deactivated": false}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "reactivate", method: http.MethodPut, path: carol, token: s.Root.Token, status: http.StatusOK,
			body: map[string]any{"deactivated": false, "password": "new-pw", "locked": false},
			check: func(t *testing.T, r *fixture.Response) {
				if m := r.JSON(); m["deactivated"] != false || m["erased"] != false || m["locked"] != false {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "carol logs in with the new password", method: http.MethodPost, path: "/_matrix/client/v3/login",
			body: map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "carol"},
				"password": "new-pw"}, status: http.StatusOK},
	})
}

func TestAdminFlagAndPasswordReset(t *testing.T) {
	s := newServer(t, nil)
	alice := "@alice:test.local"
	run(t, s, []call{
		{name: "alice is no admin", method: http.MethodGet, path: "/v1/users/" + alice + "/admin", token: s.Root.Token,
			status: http.StatusOK, check: wantJSON(`{"admin":false}`)},
		{name: "promote alice", method: http.MethodPut, path: "/v1/users/" + alice + "/admin", token: s.Root.Token,
			body: map[string]any{"admin": true}, status: http.StatusOK, check: wantJSON(`{}`)},
		{name: "alice is an admin", method: http.MethodGet, path: "/v1/users/" + alice + "/admin", token: s.Root.Token,
			status: http.StatusOK, check: wantJSON(`{"admin":true}`)},
		{name: "alice, admin now, lists users", method: http.MethodGet, path: "/v2/users", token: s.Alice.Token, status: http.StatusOK},
		{name: "root cannot demote himself", method: http.MethodPut, path: "/v1/users/" + s.Root.ID + "/admin", token: s.Root.Token,
			body: map[string]any{"admin": false}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "admin missing", method: http.MethodPut, path: "/v1/users/" + alice + "/admin", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "admin flag of a missing user", method: http.MethodGet, path: "/v1/users/@nobody:test.local/admin", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "reset without a password", method: http.MethodPost, path: "/v1/reset_password/" + alice, token: s.Root.Token,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "reset a missing user's", method: http.MethodPost, path: "/v1/reset_password/@nobody:test.local", token: s.Root.Token,
			body: map[string]any{"new_password": "x"}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "reset keeping devices", method: http.MethodPost, path: "/v1/reset_password/" + alice, token: s.Root.Token,
			body: map[string]any{"new_password": "pw-1", "logout_devices": false}, status: http.StatusOK, check: wantJSON(`{}`)},
		{name: "alice's token still works", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", token: s.Alice.Token,
			status: http.StatusOK},
		{name: "reset", method: http.MethodPost, path: "/v1/reset_password/" + alice, token: s.Root.Token,
			body: map[string]any{"new_password": "pw-2"}, status: http.StatusOK},
		{name: "alice is logged out", method: http.MethodGet, path: "/_matrix/client/v3/account/whoami", token: s.Alice.Token,
			status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
		{name: "alice logs in with the new password", method: http.MethodPost, path: "/_matrix/client/v3/login",
			body: map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"},
				"password": "pw-2"}, status: http.StatusOK},
	})
}

// wantJSON checks that the body is the JSON want.
func wantJSON(want string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if string(r.Body) != want && string(r.Body) != want+"\n" {
			t.Fatalf("body %s, want %s", r.Body, want)
		}
	}
}

// A display name set by an admin reaches the user's member events.
func TestPutUserRenamesInRooms(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	run(t, s, []call{
		{name: "rename alice", method: http.MethodPut, path: "/v2/users/" + s.Alice.ID, token: s.Root.Token,
			body: map[string]any{"displayname": "Alicia"}, status: http.StatusOK},
	})
	ev, err := s.Rooms.StateEvent(t.Context(), room, "m.room.member", s.Alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var pdu struct {
		Content struct {
			DisplayName string `json:"displayname"`
		} `json:"content"`
	}
	if err := json.Unmarshal(ev.PDU, &pdu); err != nil || pdu.Content.DisplayName != "Alicia" {
		t.Fatalf("member event %s, %v", ev.PDU, err)
	}
}
