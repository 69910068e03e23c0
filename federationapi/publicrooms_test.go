package federationapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// TestPublicRoomsRefusals: a page asked for with a limit or a token that
// is not one, or a body that is not a request (spec: GET and POST
// /_matrix/federation/v1/publicRooms).
func TestPublicRoomsRefusals(t *testing.T) {
	f := newFed(t)
	const path = "/_matrix/federation/v1/publicRooms"
	f.runRefusals(t, []refusal{
		{name: "limit not a number", path: path + "?limit=ten", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "since not a token", path: path + "?since=page2", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "POST: since not a token", method: http.MethodPost, path: path, body: map[string]any{"since": "x"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "POST: limit not a number", method: http.MethodPost, path: path, body: `{"limit":"ten"}`,
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
}

// TestPublicRooms: pages of the published rooms, by GET or POST, with a
// search term; a third-party network's list is empty (none exist here).
func TestPublicRooms(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	var rooms []string
	for _, name := range []string{"Hall", "Garden"} {
		room := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", Name: &name})
		if err := f.Rooms.SetPublished(ctx, room, alice.ID, true); err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, room)
	}
	f.publicRoom(t, alice) // not published
	const path = "/_matrix/federation/v1/publicRooms"
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   []string // the room IDs, in any order
		next   bool     // whether there is a next page
	}{
		{"all", http.MethodGet, path, nil, rooms, false},
		{"a page of one", http.MethodGet, path + "?limit=1", nil, nil, true},
		{"the second page", http.MethodGet, path + "?limit=1&since=o1", nil, nil, false},
		{"a search", http.MethodPost, path, map[string]any{"filter": map[string]any{"generic_search_term": "gard"}}, rooms[1:], false},
		{"a third-party network", http.MethodGet, path + "?third_party_instance_id=irc", nil, []string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.DoSigned(t, f.remote, tc.method, tc.path, tc.body)
			res.Want(t, http.StatusOK)
			var page roomapi.PublicRoomsPaging
			res.Decode(t, &page)
			if page.Chunk == nil || (page.NextBatch != "") != tc.next {
				t.Fatalf("page %s", res.Body)
			}
			if tc.want == nil {
				if len(page.Chunk) != 1 {
					t.Fatalf("page of %d rooms, want 1: %s", len(page.Chunk), res.Body)
				}
				return
			}
			got := map[string]bool{}
			for _, r := range page.Chunk {
				got[r.RoomID] = true
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rooms %v, want %v", got, tc.want)
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Fatalf("rooms %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestRemotePublicRooms: another server's directory is asked of it (spec:
// POST /_matrix/federation/v1/publicRooms) with the client's request, and
// its page returned as it is; its refusal is its own error.
func TestRemotePublicRooms(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	const page = `{"chunk":[{"room_id":"!lounge:remote.test","num_joined_members":3}],"total_room_count_estimate":1}`
	remote.answer(http.StatusOK, page)
	got, err := f.api.RemotePublicRooms(ctx, "remote.test", json.RawMessage(`{"limit":5}`))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, got, page)
	if asked := remote.asked(); len(asked) != 1 || asked[0] != "/_matrix/federation/v1/publicRooms" {
		t.Fatalf("asked %v", asked)
	}
	remote.answer(http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"not for you"}`)
	_, err = f.api.RemotePublicRooms(ctx, "remote.test", nil)
	wantAnswer(t, err, clientAnswer{http.StatusForbidden, "M_FORBIDDEN", nil})
	_, err = f.api.RemotePublicRooms(ctx, stranger, nil)
	if !errors.Is(err, fedapi.ErrRemoteUnavailable) {
		t.Fatalf("a server that cannot be reached: %v", err)
	}
}
