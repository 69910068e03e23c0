package routing_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/userapi/api"
)

const friendsPath = "/_matrix/client/unstable/im.myelin/friends"

// nothingWritten checks that a refused request left no room and no m.direct
// behind for u.
func nothingWritten(f *fixture.Fixture, u *fixture.User) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		ctx := context.Background()
		if rooms, err := f.Rooms.JoinedRooms(ctx, u.ID); err != nil || len(rooms) != 0 {
			t.Fatalf("joined rooms after a refused request: %q, %v", rooms, err)
		}
		lp, _ := api.LocalpartOf(u.ID, "test.local")
		if d, err := f.Users.AccountData(ctx, lp, "", "m.direct"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("m.direct after a refused request: %s, %v", d, err)
		}
	}
}

// listHas checks that a GET friends/requests answer's list holds exactly the
// given users (by user_id), with the message of the first.
func listHas(list string, msg string, users ...*fixture.User) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		got, _ := r.JSON()[list].([]any)
		if len(got) != len(users) {
			t.Fatalf("%s = %s; want %d entries", list, r.Body, len(users))
		}
		for i, u := range users {
			e, _ := got[i].(map[string]any)
			if e["user_id"] != u.ID || e["room_id"] == "" {
				t.Fatalf("%s[%d] = %v; want %s", list, i, e, u.ID)
			}
		}
		if len(users) > 0 {
			if m, _ := got[0].(map[string]any)["message"].(string); m != msg {
				t.Fatalf("%s[0].message = %q; want %q", list, m, msg)
			}
		}
	}
}

// TestFriendRequests covers the friends endpoints' checks and answers on
// one server; the flows across servers and plain clients are in
// test/e2e/friends_test.go.
func TestFriendRequests(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	req := friendsPath + "/requests"
	var room string
	saveRoom := func(t *testing.T, r *fixture.Response) {
		t.Helper()
		roomIDAnswer(t, r)
		room, _ = r.JSON()["room_id"].(string)
	}
	sameRoom := func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if got := r.JSON()["room_id"]; got != room {
			t.Fatalf("room_id = %v; want the pending request's %s", got, room)
		}
	}
	in := func(suffix string) string { return req + "/" + url.PathEscape(room) + suffix }
	run(t, f, []call{
		{"without token", "POST", req, "", `{"user_id":"@bob:test.local"}`, 401, "M_MISSING_TOKEN", nil},
		{"not JSON", "POST", req, alice.Token, `{nope`, 400, "M_NOT_JSON", nothingWritten(f, alice)},
		{"missing user_id", "POST", req, alice.Token, `{"message":"hi"}`, 400, "M_MISSING_PARAM", nothingWritten(f, alice)},
		{"user_id not a string", "POST", req, alice.Token, `{"user_id":7}`, 400, "M_BAD_JSON", nothingWritten(f, alice)},
		{"malformed user_id", "POST", req, alice.Token, `{"user_id":"bob"}`, 400, "M_INVALID_PARAM", nothingWritten(f, alice)},
		{"yourself", "POST", req, alice.Token, `{"user_id":"` + alice.ID + `"}`, 400, "M_INVALID_PARAM", nothingWritten(f, alice)},
		{"nonexistent local user", "POST", req, alice.Token, `{"user_id":"@nobody:test.local"}`, 404, "M_NOT_FOUND",
			nothingWritten(f, alice)},
		// Without federation the invite cannot leave: the room is left
		// and forgotten, nothing dangles.
		{"remote user unreachable", "POST", req, alice.Token, `{"user_id":"@bob:elsewhere.example"}`, 404, "M_NOT_FOUND",
			nothingWritten(f, alice)},
		{"no requests yet", "GET", req, alice.Token, nil, 200, "", listHas("outgoing", "")},
		{"request", "POST", req, alice.Token, `{"user_id":"` + bob.ID + `","message":"hi bob"}`, 200, "", saveRoom},
	})
	// The calls below name the request's room.
	run(t, f, []call{
		{"again: the pending one", "POST", req, alice.Token, `{"user_id":"` + bob.ID + `"}`, 200, "", sameRoom},
		{"outgoing", "GET", req, alice.Token, nil, 200, "", listHas("outgoing", "hi bob", bob)},
		{"nothing incoming for the requester", "GET", req, alice.Token, nil, 200, "", listHas("incoming", "")},
		{"incoming", "GET", req, bob.Token, nil, 200, "", listHas("incoming", "hi bob", alice)},
		{"accept a malformed room", "POST", req + "/nope/accept", bob.Token, `{}`, 400, "M_INVALID_PARAM", nil},
		{"accept an unknown room", "POST", req + "/" + url.PathEscape("!nope:test.local") + "/accept", bob.Token, `{}`,
			404, "M_NOT_FOUND", nil},
		{"reject an unknown room", "POST", req + "/" + url.PathEscape("!nope:test.local") + "/reject", bob.Token, `{}`,
			404, "M_NOT_FOUND", nil},
		{"accept not invited", "POST", in("/accept"), carol.Token, `{}`, 404, "M_NOT_FOUND", nothingWritten(f, carol)},
		{"reject one's own request", "POST", in("/reject"), alice.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"accept", "POST", in("/accept"), bob.Token, `{}`, 200, "", equals("user_id", alice.ID)},
		{"accept twice", "POST", in("/accept"), bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
		{"already friends", "POST", req, alice.Token, `{"user_id":"` + bob.ID + `"}`, 400, "M_INVALID_PARAM", nil},
		{"already friends, the other way", "POST", req, bob.Token, `{"user_id":"` + alice.ID + `"}`, 400, "M_INVALID_PARAM", nil},
		{"friends", "GET", friendsPath, alice.Token, nil, 200, "", listHas("friends", "", bob)},
		{"friends of the accepter", "GET", friendsPath, bob.Token, nil, 200, "", listHas("friends", "", alice)},
		{"requests answered", "GET", req, bob.Token, nil, 200, "", listHas("incoming", "")},
		{"delete a malformed user", "DELETE", friendsPath + "/nope", alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"delete a stranger", "DELETE", friendsPath + "/" + url.PathEscape(carol.ID), alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete", "DELETE", friendsPath + "/" + url.PathEscape(bob.ID), alice.Token, nil, 200, "", hasKeys("left")},
		{"no friends left", "GET", friendsPath, alice.Token, nil, 200, "", listHas("friends", "")},
		{"the other side neither", "GET", friendsPath, bob.Token, nil, 200, "", listHas("friends", "")},
		{"delete again", "DELETE", friendsPath + "/" + url.PathEscape(bob.ID), alice.Token, nil, 404, "M_NOT_FOUND", nil},
	})
}

// TestFriendRequestReject covers rejecting: the request is gone on both
// sides and no friendship follows.
func TestFriendRequestReject(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	req := friendsPath + "/requests"
	res := f.Do(t, "POST", req, alice.Token, `{"user_id":"`+bob.ID+`"}`)
	res.Want(t, 200, "")
	room, _ := res.JSON()["room_id"].(string)
	run(t, f, []call{
		{"reject", "POST", req + "/" + url.PathEscape(room) + "/reject", bob.Token, `{}`, 200, "", nil},
		{"gone for the invitee", "GET", req, bob.Token, nil, 200, "", listHas("incoming", "")},
		{"gone for the requester", "GET", req, alice.Token, nil, 200, "", listHas("outgoing", "")},
		{"no friends", "GET", friendsPath, alice.Token, nil, 200, "", listHas("friends", "")},
		{"reject twice", "POST", req + "/" + url.PathEscape(room) + "/reject", bob.Token, `{}`, 404, "M_NOT_FOUND", nil},
	})
	if m, err := f.Rooms.Membership(context.Background(), room, bob.ID); err != nil || m != "leave" {
		t.Fatalf("bob's membership after rejecting = %q, %v; want leave", m, err)
	}
}

// TestFriendRequestIgnored: a request from an ignored user is left out of
// the target's incoming list; the requester sees it pending as usual.
func TestFriendRequestIgnored(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	f.Do(t, "PUT", "/_matrix/client/v3/user/"+url.PathEscape(bob.ID)+"/account_data/m.ignored_user_list", bob.Token,
		`{"ignored_users":{"`+alice.ID+`":{}}}`).Want(t, 200, "")
	req := friendsPath + "/requests"
	run(t, f, []call{
		{"request", "POST", req, alice.Token, `{"user_id":"` + bob.ID + `","message":"hey"}`, 200, "", roomIDAnswer},
		{"pending for the requester", "GET", req, alice.Token, nil, 200, "", listHas("outgoing", "hey", bob)},
		{"hidden from the target", "GET", req, bob.Token, nil, 200, "", listHas("incoming", "")},
	})
}

// TestFriendRequestCrossed: asking someone who already asked you accepts
// their request, in their room, instead of opening a second one.
func TestFriendRequestCrossed(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	req := friendsPath + "/requests"
	var room string
	run(t, f, []call{
		{"alice asks", "POST", req, alice.Token, `{"user_id":"` + bob.ID + `"}`, 200, "", func(t *testing.T, r *fixture.Response) {
			room, _ = r.JSON()["room_id"].(string)
		}},
		{"bob asks back", "POST", req, bob.Token, `{"user_id":"` + alice.ID + `"}`, 200, "", func(t *testing.T, r *fixture.Response) {
			if got := r.JSON()["room_id"]; got != room {
				t.Fatalf("room_id = %v; want alice's request's %s", got, room)
			}
		}},
		{"friends of alice", "GET", friendsPath, alice.Token, nil, 200, "", listHas("friends", "", bob)},
		{"friends of bob", "GET", friendsPath, bob.Token, nil, 200, "", listHas("friends", "", alice)},
		{"no requests left", "GET", req, bob.Token, nil, 200, "", listHas("incoming", "")},
	})
}
