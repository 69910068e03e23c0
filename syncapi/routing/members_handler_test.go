package routing_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// wantMembers checks the state keys (user IDs) of a /members chunk.
func wantMembers(want ...string) func(t *testing.T, res *fixture.Response) {
	return func(t *testing.T, res *fixture.Response) {
		t.Helper()
		var b struct {
			Chunk []clientEvent `json:"chunk"`
		}
		res.Decode(t, &b)
		var got []string
		for _, e := range b.Chunk {
			if e.Type != "m.room.member" || e.StateKey == nil {
				t.Fatalf("a %s event among the members", e.Type)
			}
			got = append(got, *e.StateKey)
		}
		slices.Sort(got)
		if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
			t.Fatalf("members %v, want %v", got, want)
		}
	}
}

// TestMembers: GET /rooms/{roomId}/members answers members of the room
// with its members now, or at a token, or (after a leave) at the leave.
func TestMembers(t *testing.T) {
	e := newEnv(t)
	path := roomPath(e.room, "members")
	bob := e.bob.Token
	// A token just before dave's leave: the end of a page of the three
	// newest events (alice's message, erin's and dave's leaves).
	var page messagesBody
	res := e.Do(t, http.MethodGet, roomPath(e.room, "messages?dir=b&limit=3"), bob, nil)
	res.Want(t, http.StatusOK)
	res.Decode(t, &page)
	a, b, d, er := e.alice.ID, e.bob.ID, e.dave.ID, e.erin.ID
	// The prev_batch of a timeline that starts at the room's create event
	// precedes the room: the members there are the room's first.
	otherStart := doSync(t, e.Fixture, e.alice, "").Rooms.Join[e.other].Timeline.PrevBatch
	if otherStart == "" {
		t.Fatal("no prev_batch for alice's other room")
	}
	cases := append(authCases(path), []reqCase{
		invalidParam("room ID without sigil", bob, roomPath("room", "members")),
		forbidden("never a member", e.carol.Token, path),
		forbidden("forgotten room", e.erin.Token, path),
		invalidParam("at not a token", bob, path+"?at=now"),
		invalidParam("unknown membership", bob, path+"?membership=joined"),
		invalidParam("unknown not_membership", bob, path+"?not_membership=gone"),
		{name: "everyone with a membership", token: bob, path: path, status: http.StatusOK, check: wantMembers(a, b, d, er)},
		{name: "joined members", token: bob, path: path + "?membership=join", status: http.StatusOK, check: wantMembers(a, b)},
		{name: "all but joined members", token: bob, path: path + "?not_membership=join", status: http.StatusOK, check: wantMembers(d, er)},
		{name: "joined members before dave left", token: bob, path: path + "?membership=join&at=" + page.End,
			status: http.StatusOK, check: wantMembers(a, b, d, er)},
		{name: "at the prev_batch of a timeline starting at the room's creation", token: e.alice.Token,
			path: roomPath(e.other, "members") + "?at=" + otherStart, status: http.StatusOK, check: wantMembers(a)},
		{name: "at a token before the room", token: bob, path: path + "?at=s0", status: http.StatusOK, check: wantMembers(a)},
		{name: "left member sees the members at the leave", token: e.dave.Token, path: path + "?membership=join",
			status: http.StatusOK, check: wantMembers(a, b, er)},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}
