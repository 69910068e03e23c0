package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// Types of JSON values in Synapse's documented shapes: "string?" may be
// null.
var (
	roomShape = map[string]string{
		"room_id": "string", "name": "string?", "canonical_alias": "string?", "joined_members": "number",
		"joined_local_members": "number", "version": "string", "creator": "string", "encryption": "string?",
		"federatable": "bool", "public": "bool", "join_rules": "string?", "guest_access": "string?",
		"history_visibility": "string?", "state_events": "number", "room_type": "string?",
	}
	roomDetailsShape = with(roomShape, map[string]string{
		"topic": "string?", "avatar": "string?", "joined_local_devices": "number", "forgotten": "bool",
	})
	shutdownShape = map[string]string{
		"kicked_users": "array", "failed_to_kick_users": "array", "local_aliases": "array", "new_room_id": "string?",
	}
	deleteStatusShape = map[string]string{
		"delete_id": "string", "room_id": "string", "status": "string", "shutdown_room": "object",
	}
)

func with(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// wantShape fails unless obj has exactly the keys of shape (optional
// extra keys listed in optional) with values of those types.
func wantShape(t *testing.T, obj any, shape map[string]string, optional ...string) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", obj)
	}
	for k, typ := range shape {
		v, ok := m[k]
		if !ok {
			t.Fatalf("key %q missing from %v", k, m)
		}
		if !ofType(v, typ) {
			t.Fatalf("key %q = %v (%T), want %s", k, v, v, typ)
		}
	}
	for k := range m {
		if _, ok := shape[k]; !ok && !contains(optional, k) {
			t.Fatalf("unexpected key %q in %v", k, m)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func ofType(v any, typ string) bool {
	if strings.HasSuffix(typ, "?") {
		if v == nil {
			return true
		}
		typ = strings.TrimSuffix(typ, "?")
	}
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func TestRoomRoutesRefuseNonAdmins(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	var calls []call
	for _, rt := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/rooms", nil},
		{http.MethodGet, "/v1/rooms/" + room, nil},
		{http.MethodDelete, "/v1/rooms/" + room, map[string]any{}},
		{http.MethodGet, "/v1/rooms/" + room + "/members", nil},
		{http.MethodGet, "/v1/rooms/" + room + "/state", nil},
		{http.MethodGet, "/v1/rooms/" + room + "/messages", nil},
		{http.MethodGet, "/v1/rooms/" + room + "/block", nil},
		{http.MethodPut, "/v1/rooms/" + room + "/block", map[string]any{"block": true}},
		{http.MethodPost, "/v1/rooms/" + room + "/make_room_admin", map[string]any{}},
		{http.MethodDelete, "/v2/rooms/" + room, map[string]any{}},
		{http.MethodGet, "/v2/rooms/" + room + "/delete_status", nil},
		{http.MethodGet, "/v2/rooms/delete_status/abc", nil},
	} {
		calls = append(calls, refusals(s, rt.method, rt.path, rt.body)...)
	}
	run(t, s, calls)
	// Nothing happened to the room.
	if m, err := s.Rooms.Membership(context.Background(), room, s.Alice.ID); err != nil || m != "join" {
		t.Fatalf("alice's membership %q, %v", m, err)
	}
	if blocked, _, _ := s.Rooms.RoomBlocked(context.Background(), room); blocked {
		t.Fatal("a non-admin blocked the room")
	}
}

// roomIDs lists the room_id of each room of a list response.
func roomIDs(t *testing.T, r *fixture.Response) []string {
	t.Helper()
	rooms, ok := r.JSON()["rooms"].([]any)
	if !ok {
		t.Fatalf("no rooms: %s", r.Body)
	}
	out := make([]string, len(rooms))
	for i, rm := range rooms {
		wantShape(t, rm, roomShape)
		out[i] = rm.(map[string]any)["room_id"].(string)
	}
	return out
}

func wantRooms(want ...string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if got := roomIDs(t, r); len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("rooms %v, want %v", got, want)
		}
	}
}

func TestListRooms(t *testing.T) {
	s := newServer(t, nil)
	bob, carol := s.User(t, "bob"), s.User(t, "carol")
	name := func(n string) *string { return &n }
	// Three rooms: named B (3 members), A (1), C (2, with an alias).
	roomB := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat", Name: name("Bravo")})
	s.Join(t, bob, roomB)
	s.Join(t, carol, roomB)
	roomA := s.Room(t, bob, roomapi.CreateRoomRequest{Preset: "private_chat", Name: name("alpha")})
	roomC := s.Room(t, carol, roomapi.CreateRoomRequest{Preset: "public_chat", Name: name("Charlie"),
		CanonicalAlias: "#zulu:" + s.ServerName})
	s.Join(t, s.Alice, roomC)
	if err := s.Rooms.SetPublished(context.Background(), roomC, carol.ID, true); err != nil {
		t.Fatal(err)
	}
	tok := s.Root.Token
	get := func(name, query string, check func(t *testing.T, r *fixture.Response)) call {
		return call{name: name, method: http.MethodGet, path: "/v1/rooms" + query, token: tok, status: http.StatusOK, check: check}
	}
	run(t, s, []call{
		// Alphabetical by name ("Bravo" < "Charlie" < "alpha": byte order, as Synapse's SQL).
		get("by name", "", wantRooms(roomB, roomC, roomA)),
		get("by name backwards", "?order_by=name&dir=b", wantRooms(roomA, roomC, roomB)),
		get("by joined members", "?order_by=joined_members", wantRooms(roomB, roomC, roomA)),
		get("by joined members backwards", "?order_by=joined_members&dir=b", wantRooms(roomA, roomC, roomB)),
		get("by canonical alias", "?order_by=canonical_alias", func(t *testing.T, r *fixture.Response) {
			if got := roomIDs(t, r); got[0] != roomC {
				t.Fatalf("the room with an alias is not first: %v", got)
			}
		}),
		get("search by name ignores case", "?search_term=BRAV", wantRooms(roomB)),
		get("search by alias localpart", "?search_term=zul", wantRooms(roomC)),
		get("search by room ID", "?search_term="+url.QueryEscape(roomA), wantRooms(roomA)),
		get("search without match", "?search_term=nothing-like-this", wantRooms()),
		get("public rooms only", "?public_rooms=true", wantRooms(roomC)),
		get("no public rooms", "?public_rooms=false", wantRooms(roomB, roomA)),
		get("first page", "?limit=2", func(t *testing.T, r *fixture.Response) {
			wantRooms(roomB, roomC)(t, r)
			m := r.JSON()
			if m["offset"] != 0.0 || m["total_rooms"] != 3.0 || m["next_batch"] != 2.0 || m["prev_batch"] != nil {
				t.Fatalf("paging %s", r.Body)
			}
		}),
		get("second page", "?limit=2&from=2", func(t *testing.T, r *fixture.Response) {
			wantRooms(roomA)(t, r)
			m := r.JSON()
			if m["offset"] != 2.0 || m["total_rooms"] != 3.0 || m["next_batch"] != nil || m["prev_batch"] != 0.0 {
				t.Fatalf("paging %s", r.Body)
			}
		}),
		get("values", "?search_term=Bravo", func(t *testing.T, r *fixture.Response) {
			rm := r.JSON()["rooms"].([]any)[0].(map[string]any)
			if rm["name"] != "Bravo" || rm["joined_members"] != 3.0 || rm["joined_local_members"] != 3.0 ||
				rm["creator"] != s.Alice.ID || rm["public"] != false || rm["join_rules"] != "public" ||
				rm["version"] != roomapi.DefaultRoomVersion || rm["federatable"] != true || rm["encryption"] != nil {
				t.Fatalf("room %v", rm)
			}
		}),
		{name: "bad order", method: http.MethodGet, path: "/v1/rooms?order_by=colour", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad dir", method: http.MethodGet, path: "/v1/rooms?dir=x", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad limit", method: http.MethodGet, path: "/v1/rooms?limit=-1", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}

func TestRoomDetailsMembersState(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	topic := "things"
	room := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat", Topic: &topic})
	s.Join(t, bob, room)
	tok := s.Root.Token
	run(t, s, []call{
		{name: "details", method: http.MethodGet, path: "/v1/rooms/" + room, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), roomDetailsShape)
				m := r.JSON()
				if m["topic"] != topic || m["joined_local_devices"] != 2.0 || m["forgotten"] != false || m["name"] != nil {
					t.Fatalf("details %s", r.Body)
				}
			}},
		{name: "members", method: http.MethodGet, path: "/v1/rooms/" + room + "/members", token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"members": "array", "total": "number"})
				if m := r.JSON(); m["total"] != 2.0 || len(m["members"].([]any)) != 2 {
					t.Fatalf("members %s", r.Body)
				}
			}},
		{name: "state", method: http.MethodGet, path: "/v1/rooms/" + room + "/state", token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"state": "array"})
				for _, e := range r.JSON()["state"].([]any) {
					wantShape(t, e, map[string]string{"type": "string", "state_key": "string", "content": "object",
						"sender": "string", "event_id": "string", "origin_server_ts": "number", "room_id": "string"}, "unsigned")
				}
			}},
		{name: "state of one type", method: http.MethodGet, path: "/v1/rooms/" + room + "/state?type=m.room.member", token: tok,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if st := r.JSON()["state"].([]any); len(st) != 2 {
					t.Fatalf("member state %s", r.Body)
				}
			}},
		{name: "unknown room", method: http.MethodGet, path: "/v1/rooms/!nope:" + s.ServerName, token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "unknown room's members", method: http.MethodGet, path: "/v1/rooms/!nope:" + s.ServerName + "/members", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "not a room ID", method: http.MethodGet, path: "/v1/rooms/nope/state", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}

func TestRoomMessages(t *testing.T) {
	s := newServer(t, nil)
	room := s.Room(t, s.Alice)
	var sent []string
	for i := range 5 {
		sent = append(sent, s.Send(t, s.Alice, room, fmt.Sprintf("message %d", i)))
	}
	tok := s.Root.Token
	path := "/v1/rooms/" + room + "/messages"
	var end string
	bodies := func(r *fixture.Response) []string {
		var out []string
		for _, e := range r.JSON()["chunk"].([]any) {
			ev := e.(map[string]any)
			if ev["type"] == "m.room.message" {
				out = append(out, ev["content"].(map[string]any)["body"].(string))
			}
		}
		return out
	}
	run(t, s, []call{
		{name: "last two", method: http.MethodGet, path: path + "?dir=b&limit=2", token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"chunk": "array", "start": "string", "end": "string"})
				if got := bodies(r); !reflect.DeepEqual(got, []string{"message 4", "message 3"}) {
					t.Fatalf("chunk %v", got)
				}
				end = r.JSON()["end"].(string)
			}},
	})
	run(t, s, []call{
		{name: "two before", method: http.MethodGet, path: path + "?dir=b&limit=2&from=" + end, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if got := bodies(r); !reflect.DeepEqual(got, []string{"message 2", "message 1"}) {
					t.Fatalf("chunk %v", got)
				}
			}},
		{name: "only messages, forwards", method: http.MethodGet, token: tok, status: http.StatusOK,
			path: path + "?limit=3&filter=" + url.QueryEscape(`{"types":["m.room.mess*"]}`),
			check: func(t *testing.T, r *fixture.Response) {
				chunk := r.JSON()["chunk"].([]any)
				if got := bodies(r); len(chunk) != 3 || !reflect.DeepEqual(got, []string{"message 0", "message 1", "message 2"}) {
					t.Fatalf("chunk %s", r.Body)
				}
			}},
		{name: "to the end", method: http.MethodGet, path: path + "?limit=100", token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if _, ok := r.JSON()["end"]; ok {
					t.Fatalf("an end at the room's end: %s", r.Body)
				}
				chunk := r.JSON()["chunk"].([]any)
				if last := chunk[len(chunk)-1].(map[string]any); last["event_id"] != sent[4] {
					t.Fatalf("last event %v, want %s", last["event_id"], sent[4])
				}
			}},
		{name: "bad dir", method: http.MethodGet, path: path + "?dir=up", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad filter", method: http.MethodGet, path: path + "?filter=%5B", token: tok,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "bad token", method: http.MethodGet, path: path + "?from=xyz", token: tok,
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "unknown room", method: http.MethodGet, path: "/v1/rooms/!nope:" + s.ServerName + "/messages", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}

func TestRoomBlock(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	unknown := "!unknown:elsewhere.example"
	tok := s.Root.Token
	block := "/v1/rooms/" + room + "/block"
	run(t, s, []call{
		{name: "not blocked", method: http.MethodGet, path: block, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"block": "bool"})
				if r.JSON()["block"] != false {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "block", method: http.MethodPut, path: block, token: tok, body: map[string]any{"block": true},
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["block"] != true {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "blocked, by whom", method: http.MethodGet, path: block, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"block": "bool", "user_id": "string"})
				if r.JSON()["user_id"] != s.Root.ID {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "bob may not join", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + room + "/join", token: bob.Token,
			body: map[string]any{}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "alice may not invite", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + room + "/invite",
			token: s.Alice.Token, body: map[string]any{"user_id": bob.ID}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "alice may still leave", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + room + "/leave",
			token: s.Alice.Token, body: map[string]any{}, status: http.StatusOK},
		{name: "block an unknown room", method: http.MethodPut, path: "/v1/rooms/" + unknown + "/block", token: tok,
			body: map[string]any{"block": true}, status: http.StatusOK},
		{name: "joining the unknown room is refused", method: http.MethodPost, path: "/_matrix/client/v3/join/" + unknown,
			token: bob.Token, body: map[string]any{}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "unblock", method: http.MethodPut, path: block, token: tok, body: map[string]any{"block": false},
			status: http.StatusOK},
		{name: "unblocked", method: http.MethodGet, path: block, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) { wantShape(t, r.JSON(), map[string]string{"block": "bool"}) }},
		{name: "bob may join again", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + room + "/join",
			token: bob.Token, body: map[string]any{}, status: http.StatusOK},
		{name: "block missing", method: http.MethodPut, path: block, token: tok, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "block not a boolean", method: http.MethodPut, path: block, token: tok, body: map[string]any{"block": "yes"},
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
}

// TestDeleteRoomV1 runs on both databases: the purge goes through every
// table of the roomserver.
func TestDeleteRoomV1(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) { testDeleteRoomV1(t, newServer(t, db)) })
}

func testDeleteRoomV1(t *testing.T, s *server) {
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat", CanonicalAlias: "#bad:" + s.ServerName})
	if err := s.Rooms.CreateAlias(context.Background(), "#bad:"+s.ServerName, room, s.Alice.ID); err != nil {
		t.Fatal(err)
	}
	s.Join(t, bob, room)
	s.Send(t, bob, room, "bad content")
	tok := s.Root.Token
	run(t, s, []call{
		{name: "empty body", method: http.MethodDelete, path: "/v1/rooms/" + room, token: tok,
			status: http.StatusBadRequest, errcode: "M_NOT_JSON"},
		{name: "new room user of another server", method: http.MethodDelete, path: "/v1/rooms/" + room, token: tok,
			body: map[string]any{"new_room_user_id": "@x:elsewhere.example"}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "block not a boolean", method: http.MethodDelete, path: "/v1/rooms/" + room, token: tok,
			body: map[string]any{"block": "yes"}, status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
		{name: "unknown room without block", method: http.MethodDelete, path: "/v1/rooms/!nope:" + s.ServerName, token: tok,
			body: map[string]any{}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "delete with block and purge", method: http.MethodDelete, path: "/v1/rooms/" + room, token: tok,
			body: map[string]any{"block": true, "purge": true}, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), shutdownShape)
				m := r.JSON()
				kicked := fmt.Sprint(m["kicked_users"])
				if !strings.Contains(kicked, s.Alice.ID) || !strings.Contains(kicked, bob.ID) ||
					fmt.Sprint(m["local_aliases"]) != "[#bad:"+s.ServerName+"]" || m["new_room_id"] != nil {
					t.Fatalf("result %s", r.Body)
				}
			}},
		{name: "the room is gone", method: http.MethodGet, path: "/v1/rooms/" + room, token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "and blocked", method: http.MethodGet, path: "/v1/rooms/" + room + "/block", token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["block"] != true {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "bob cannot join it again", method: http.MethodPost, path: "/_matrix/client/v3/join/" + room, token: bob.Token,
			body: map[string]any{}, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "the alias is gone", method: http.MethodGet, token: bob.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND",
			path: "/_matrix/client/v3/directory/room/" + url.PathEscape("#bad:"+s.ServerName)},
		{name: "an unknown room is blocked by v1", method: http.MethodDelete, path: "/v1/rooms/!later:elsewhere.example", token: tok,
			body: map[string]any{"block": true}, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) { wantShape(t, r.JSON(), shutdownShape) }},
	})
	if joined, err := s.Rooms.JoinedRooms(context.Background(), bob.ID); err != nil || len(joined) != 0 {
		t.Fatalf("bob's rooms after the delete: %v, %v", joined, err)
	}
}

// waitDelete polls a delete's status until it ends.
func waitDelete(t *testing.T, s *server, id string) map[string]any {
	t.Helper()
	for range 200 {
		r := s.Do(t, http.MethodGet, adminPath("/v2/rooms/delete_status/"+id), s.Root.Token, nil)
		r.Want(t, http.StatusOK)
		m := r.JSON()
		if st := m["status"]; st == roomapi.DeleteComplete || st == roomapi.DeleteFailed {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("delete %s did not end", id)
	return nil
}

func TestDeleteRoomV2(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	s.Join(t, bob, room)
	tok := s.Root.Token
	var id string
	run(t, s, []call{
		{name: "unknown room", method: http.MethodDelete, path: "/v2/rooms/!nope:" + s.ServerName, token: tok,
			body: map[string]any{"block": true}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "no delete yet", method: http.MethodGet, path: "/v2/rooms/" + room + "/delete_status", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "start", method: http.MethodDelete, path: "/v2/rooms/" + room, token: tok,
			body:   map[string]any{"new_room_user_id": s.Root.ID, "room_name": "Moved", "message": "Gone."},
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"delete_id": "string"})
				id = r.JSON()["delete_id"].(string)
			}},
	})
	done := waitDelete(t, s, id)
	wantShape(t, done, deleteStatusShape, "error")
	if done["status"] != roomapi.DeleteComplete {
		t.Fatalf("delete ended %v", done)
	}
	result := done["shutdown_room"].(map[string]any)
	wantShape(t, result, shutdownShape)
	newRoom, _ := result["new_room_id"].(string)
	if newRoom == "" || len(result["kicked_users"].([]any)) != 2 {
		t.Fatalf("result %v", result)
	}
	// The removed users are in the new room, where root said why.
	for _, u := range []string{s.Alice.ID, bob.ID} {
		if m, err := s.Rooms.Membership(context.Background(), newRoom, u); err != nil || m != "join" {
			t.Fatalf("%s in the new room: %q, %v", u, m, err)
		}
	}
	run(t, s, []call{
		{name: "status by room", method: http.MethodGet, path: "/v2/rooms/" + room + "/delete_status", token: tok,
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				wantShape(t, r.JSON(), map[string]string{"results": "array"})
				results := r.JSON()["results"].([]any)
				if len(results) != 1 {
					t.Fatalf("results %s", r.Body)
				}
				wantShape(t, results[0], deleteStatusShape, "error")
			}},
		{name: "unknown delete", method: http.MethodGet, path: "/v2/rooms/delete_status/nope", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "the new room's name", method: http.MethodGet, path: "/v1/rooms/" + newRoom, token: tok, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if r.JSON()["name"] != "Moved" || r.JSON()["creator"] != s.Root.ID {
					t.Fatalf("new room %s", r.Body)
				}
			}},
		{name: "the old room is purged", method: http.MethodGet, path: "/v1/rooms/" + room + "/messages", token: tok,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}

func TestMakeRoomAdmin(t *testing.T) {
	s := newServer(t, nil)
	bob := s.User(t, "bob")
	room := s.Room(t, s.Alice) // private: root is invited
	if err := s.Rooms.CreateAlias(context.Background(), "#priv:"+s.ServerName, room, s.Alice.ID); err != nil {
		t.Fatal(err)
	}
	tok := s.Root.Token
	level := func(t *testing.T, user string) any {
		t.Helper()
		ev, err := s.Rooms.StateEvent(context.Background(), room, "m.room.power_levels", "")
		if err != nil {
			t.Fatal(err)
		}
		ce, err := ev.Client()
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Users map[string]any `json:"users"`
		}
		if err := json.Unmarshal(ce.Content, &c); err != nil {
			t.Fatal(err)
		}
		return c.Users[user]
	}
	run(t, s, []call{
		{name: "root, by room ID", method: http.MethodPost, path: "/v1/rooms/" + room + "/make_room_admin", token: tok,
			body: map[string]any{}, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if len(r.JSON()) != 0 {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "bob, by alias", method: http.MethodPost, path: "/v1/rooms/" + url.PathEscape("#priv:"+s.ServerName) + "/make_room_admin",
			token: tok, body: map[string]any{"user_id": bob.ID}, status: http.StatusOK},
		{name: "a user of another server", method: http.MethodPost, path: "/v1/rooms/" + room + "/make_room_admin", token: tok,
			body: map[string]any{"user_id": "@x:elsewhere.example"}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "unknown room", method: http.MethodPost, path: "/v1/rooms/!nope:" + s.ServerName + "/make_room_admin", token: tok,
			body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "unknown alias", method: http.MethodPost, path: "/v1/rooms/" + url.PathEscape("#nope:"+s.ServerName) + "/make_room_admin",
			token: tok, body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
	for _, u := range []string{s.Root.ID, bob.ID} {
		if m, err := s.Rooms.Membership(context.Background(), room, u); err != nil || m != "invite" {
			t.Fatalf("%s: membership %q, %v; want invite", u, m, err)
		}
	}
	// In room version 12 the creator is above power levels: the highest
	// level listed (100 at least) is given.
	if l := level(t, s.Root.ID); l != 100.0 {
		t.Fatalf("root's level %v, want 100", l)
	}
	if l := level(t, bob.ID); l != 100.0 {
		t.Fatalf("bob's level %v, want 100", l)
	}
}
