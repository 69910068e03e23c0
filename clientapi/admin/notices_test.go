package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/admin"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

func TestSendServerNotice(t *testing.T) {
	s := newServer(t, nil)
	notice := func(user string) map[string]any {
		return map[string]any{"user_id": user, "content": map[string]any{"msgtype": "m.text", "body": "hello"}}
	}
	run(t, s, refusals(s, http.MethodPost, "/v1/send_server_notice", notice(s.Alice.ID)))
	run(t, s, refusals(s, http.MethodPut, "/v1/send_server_notice/t1", notice(s.Alice.ID)))
	var first, txn string
	eventID := func(into *string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			id, _ := r.JSON()["event_id"].(string)
			if id == "" || len(r.JSON()) != 1 {
				t.Fatalf("want Synapse's {\"event_id\"}, got %s", r.Body)
			}
			if *into != "" && *into != id {
				t.Fatalf("event_id %s, want %s (the same transaction)", id, *into)
			}
			*into = id
		}
	}
	post := func(name string, body any, status int, errcode string) call {
		return call{name: name, method: http.MethodPost, path: "/v1/send_server_notice", token: s.Root.Token,
			body: body, status: status, errcode: errcode}
	}
	run(t, s, []call{
		post("no user_id", map[string]any{"content": map[string]any{}}, http.StatusBadRequest, "M_MISSING_PARAM"),
		post("no content", map[string]any{"user_id": s.Alice.ID}, http.StatusBadRequest, "M_MISSING_PARAM"),
		post("content not an object", map[string]any{"user_id": s.Alice.ID, "content": "x"}, http.StatusBadRequest, "M_BAD_JSON"),
		post("remote user", notice("@bob:elsewhere.example"), http.StatusBadRequest, "M_UNKNOWN"),
		post("unknown local user", notice("@nobody:"+s.ServerName), http.StatusNotFound, "M_NOT_FOUND"),
		post("not JSON", "{", http.StatusBadRequest, "M_NOT_JSON"),
		{name: "a notice", method: http.MethodPost, path: "/v1/send_server_notice", token: s.Root.Token,
			body: notice(s.Alice.ID), status: http.StatusOK, check: eventID(&first)},
		{name: "with a transaction", method: http.MethodPut, path: "/v1/send_server_notice/t1", token: s.Root.Token,
			body: notice(s.Alice.ID), status: http.StatusOK, check: eventID(&txn)},
		{name: "the transaction again", method: http.MethodPut, path: "/v1/send_server_notice/t1", token: s.Root.Token,
			body: notice(s.Alice.ID), status: http.StatusOK, check: eventID(&txn)},
	})
	if first == txn {
		t.Fatalf("a new transaction answered the first notice's event %s", first)
	}
	checkNoticesRoom(t, s, first)
}

// checkNoticesRoom checks where a notice went: a room of the
// server-notices user's, Alice invited and the room tagged for her, which
// she cannot leave before joining but can after; a later notice invites
// her into the same room.
func checkNoticesRoom(t *testing.T, s *server, eventID string) {
	t.Helper()
	ctx := context.Background()
	ev, err := s.Rooms.Event(ctx, eventID)
	if err != nil {
		t.Fatal(err)
	}
	roomID := ev.RoomID
	var pdu struct{ Sender string }
	_ = json.Unmarshal(ev.PDU, &pdu)
	system := "@_server:" + s.ServerName
	if pdu.Sender != system {
		t.Fatalf("notice sent by %s, want %s", pdu.Sender, system)
	}
	if m, _ := s.Rooms.Membership(ctx, roomID, s.Alice.ID); m != "invite" {
		t.Fatalf("Alice's membership %q, want invite", m)
	}
	tags, err := s.Users.AccountData(ctx, "alice", roomID, userapi.TagsAccountDataType)
	if err != nil || !json.Valid(tags) || !strings.Contains(string(tags), admin.ServerNoticeTag) {
		t.Fatalf("tags %s, %v; want %s", tags, err, admin.ServerNoticeTag)
	}
	leave := "/_matrix/client/v3/rooms/" + roomID + "/leave"
	run(t, s, []call{
		{name: "reject the invite", method: http.MethodPost, path: leave, token: s.Alice.Token, body: map[string]any{},
			status: http.StatusForbidden, errcode: "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"},
		{name: "join", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + roomID + "/join", token: s.Alice.Token,
			body: map[string]any{}, status: http.StatusOK},
		{name: "cannot send in it", method: http.MethodPut, path: "/_matrix/client/v3/rooms/" + roomID + "/send/m.room.message/1",
			token: s.Alice.Token, body: map[string]any{"msgtype": "m.text", "body": "hi"},
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "leave after joining", method: http.MethodPost, path: leave, token: s.Alice.Token, body: map[string]any{},
			status: http.StatusOK},
		{name: "another notice", method: http.MethodPost, path: "/v1/send_server_notice", token: s.Root.Token,
			body:   map[string]any{"user_id": s.Alice.ID, "content": map[string]any{"msgtype": "m.text", "body": "again"}},
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				ev, err := s.Rooms.Event(ctx, r.JSON()["event_id"].(string))
				if err != nil || ev.RoomID != roomID {
					t.Fatalf("second notice in %s (%v), want the same room %s", ev.RoomID, err, roomID)
				}
				if m, _ := s.Rooms.Membership(ctx, roomID, s.Alice.ID); m != "invite" {
					t.Fatalf("Alice's membership %q, want invite again", m)
				}
			}},
	})
}

func TestSendServerNoticeOff(t *testing.T) {
	s := newServerWith(t, nil, func(*config.Config) {})
	run(t, s, []call{
		{name: "notices off", method: http.MethodPost, path: "/v1/send_server_notice", token: s.Root.Token,
			body:   map[string]any{"user_id": s.Alice.ID, "content": map[string]any{"body": "x"}},
			status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
	})
	// With notices off, an ordinary invite can be rejected.
	room := s.Room(t, s.Root)
	s.Invite(t, s.Root, s.Alice, room)
	run(t, s, []call{{name: "reject an invite", method: http.MethodPost, path: "/_matrix/client/v3/rooms/" + room + "/leave",
		token: s.Alice.Token, body: map[string]any{}, status: http.StatusOK}})
}
