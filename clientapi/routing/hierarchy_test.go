package routing_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// spaceFixture is a space tree on one server:
//
//	root (public space)
//	├── sub (public space, order "a")
//	│   ├── r3 (public)
//	│   ├── r4 (restricted to members of sub)
//	│   └── root (a loop back to the root)
//	├── r1 (public, order "b", suggested)
//	├── r2 (invite only, no order)
//	└── gone (a child without via: not linked)
//
// alice created every room; carol joined sub; bob is in none; dave is
// banned from sub.
type spaceFixture struct {
	*fixture.Fixture
	alice, bob, carol, dave         *fixture.User
	root, sub, r1, r2, r3, r4, gone string
}

func newSpaceFixture(t *testing.T) *spaceFixture {
	t.Helper()
	f := newServer(t, serverOpts{})
	s := &spaceFixture{Fixture: f, alice: f.User(t, "alice"), bob: f.User(t, "bob"), carol: f.User(t, "carol"), dave: f.User(t, "dave")}
	space := roomapi.CreateRoomRequest{Preset: "public_chat", CreationContent: json.RawMessage(`{"type":"m.space"}`)}
	s.root, s.sub = f.Room(t, s.alice, space), f.Room(t, s.alice, space)
	s.r1 = f.Room(t, s.alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	s.r2 = f.Room(t, s.alice)
	s.r3 = f.Room(t, s.alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	s.r4 = f.Room(t, s.alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` +
			s.sub + `"}]}`)},
	}})
	s.gone = f.Room(t, s.alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, s.carol, s.sub)
	if _, err := f.Rooms.PerformMembership(context.Background(), roomapi.MembershipRequest{RoomID: s.sub, Sender: s.alice.ID,
		Target: s.dave.ID, Membership: "ban"}); err != nil {
		t.Fatal(err)
	}
	s.link(t, s.root, s.sub, `{"via":["test.local"],"order":"a"}`)
	s.link(t, s.root, s.r1, `{"via":["test.local"],"order":"b","suggested":true}`)
	s.link(t, s.root, s.r2, `{"via":["test.local"]}`)
	s.link(t, s.root, s.gone, `{}`)
	s.link(t, s.sub, s.r3, `{"via":["test.local"]}`)
	s.link(t, s.sub, s.r4, `{"via":["test.local"]}`)
	s.link(t, s.sub, s.root, `{"via":["test.local"]}`)
	return s
}

// link sends an m.space.child event into parent.
func (s *spaceFixture) link(t *testing.T, parent, child, content string) {
	t.Helper()
	_, err := s.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: parent, Sender: s.alice.ID,
		Type: roomapi.MSpaceChild, StateKey: &child, Content: json.RawMessage(content)})
	if err != nil {
		t.Fatal(err)
	}
}

// hierarchyPage is an answer of GET /hierarchy.
type hierarchyPage struct {
	Rooms []struct {
		RoomID        string               `json:"room_id"`
		RoomType      string               `json:"room_type"`
		JoinRule      string               `json:"join_rule"`
		ChildrenState []roomapi.SpaceChild `json:"children_state"`
	} `json:"rooms"`
	NextBatch string `json:"next_batch"`
}

func (p hierarchyPage) ids() []string {
	out := []string{}
	for _, r := range p.Rooms {
		out = append(out, r.RoomID)
	}
	return out
}

func hierarchyPath(roomID, query string) string {
	return "/_matrix/client/v1/rooms/" + url.PathEscape(roomID) + "/hierarchy" + query
}

// wantRooms checks the page's rooms, in order, and whether it has a next
// page.
func wantRooms(want []string, next bool) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var p hierarchyPage
		r.Decode(t, &p)
		if got := p.ids(); !slices.Equal(got, want) {
			t.Fatalf("rooms %v, want %v", got, want)
		}
		if (p.NextBatch != "") != next {
			t.Fatalf("next_batch %q, want one: %v", p.NextBatch, next)
		}
	}
}

// TestHierarchyHandler covers hierarchy.go: the walk (depth first, the
// spec's order, each room once, max_depth, suggested_only), who sees what,
// and bad requests.
func TestHierarchyHandler(t *testing.T) {
	s := newSpaceFixture(t)
	all := []string{s.root, s.sub, s.r3, s.r4, s.r1, s.r2}
	run(t, s.Fixture, []call{
		{"alice sees every linked room, depth first in the spec's order", "GET", hierarchyPath(s.root, ""), s.alice.Token, nil, 200, "",
			wantRooms(all, false)},
		{"a stranger sees the public rooms only", "GET", hierarchyPath(s.root, ""), s.bob.Token, nil, 200, "",
			wantRooms([]string{s.root, s.sub, s.r3, s.r1}, false)},
		{"a member of sub sees the room restricted to it", "GET", hierarchyPath(s.root, ""), s.carol.Token, nil, 200, "",
			wantRooms([]string{s.root, s.sub, s.r3, s.r4, s.r1}, false)},
		{"a banned user does not see the space, nor under it", "GET", hierarchyPath(s.root, ""), s.dave.Token, nil, 200, "",
			wantRooms([]string{s.root, s.r1}, false)},
		{"a banned user's root", "GET", hierarchyPath(s.sub, ""), s.dave.Token, nil, 403, "M_FORBIDDEN", nil},
		{"max_depth=0: the root only", "GET", hierarchyPath(s.root, "?max_depth=0"), s.alice.Token, nil, 200, "",
			wantRooms([]string{s.root}, false)},
		{"max_depth=1: the root's children, not walked into", "GET", hierarchyPath(s.root, "?max_depth=1"), s.alice.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				wantRooms([]string{s.root, s.sub, s.r1, s.r2}, false)(t, r)
				var p hierarchyPage
				r.Decode(t, &p)
				if len(p.Rooms[1].ChildrenState) != 3 {
					t.Fatalf("sub's children_state: %+v", p.Rooms[1].ChildrenState)
				}
			}},
		{"suggested_only", "GET", hierarchyPath(s.root, "?suggested_only=true"), s.alice.Token, nil, 200, "",
			wantRooms([]string{s.root, s.r1}, false)},
		{"children_state: linked children, stripped, with origin_server_ts", "GET", hierarchyPath(s.root, ""), s.alice.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				var p hierarchyPage
				r.Decode(t, &p)
				root := p.Rooms[0]
				var keys []string
				for _, c := range root.ChildrenState {
					if c.Type != roomapi.MSpaceChild || c.Sender != s.alice.ID || c.OriginServerTS == 0 {
						t.Fatalf("child event %+v", c)
					}
					keys = append(keys, c.StateKey)
				}
				if !slices.Equal(keys, []string{s.sub, s.r1, s.r2}) || root.RoomType != "m.space" {
					t.Fatalf("root: %+v", root)
				}
				if p.Rooms[2].ChildrenState == nil || len(p.Rooms[2].ChildrenState) != 0 {
					t.Fatalf("a room that is no space has children: %s", r.Body)
				}
			}},
		{"a root the requester may not see", "GET", hierarchyPath(s.r2, ""), s.bob.Token, nil, 403, "M_FORBIDDEN", nil},
		{"an unknown root", "GET", hierarchyPath("!nope:test.local", ""), s.alice.Token, nil, 403, "M_FORBIDDEN", nil},
		{"a malformed room ID", "GET", hierarchyPath("nope", ""), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"limit=0", "GET", hierarchyPath(s.root, "?limit=0"), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"limit not a number", "GET", hierarchyPath(s.root, "?limit=ten"), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"max_depth negative", "GET", hierarchyPath(s.root, "?max_depth=-1"), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"suggested_only not a boolean", "GET", hierarchyPath(s.root, "?suggested_only=yes"), s.alice.Token, nil,
			400, "M_INVALID_PARAM", nil},
		{"an unknown from token", "GET", hierarchyPath(s.root, "?from=nope"), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
		{"no access token", "GET", hierarchyPath(s.root, ""), "", nil, 401, "M_MISSING_TOKEN", nil},
	})
}

// TestHierarchyPagination: pages of two rooms to the end, each room once,
// and tokens bound to their user, room and parameters.
func TestHierarchyPagination(t *testing.T) {
	s := newSpaceFixture(t)
	pages := [][]string{{s.root, s.sub}, {s.r3, s.r4}, {s.r1, s.r2}}
	from := ""
	for i, want := range pages {
		q := "?limit=2"
		if from != "" {
			q += "&from=" + url.QueryEscape(from)
		}
		res := s.Do(t, "GET", hierarchyPath(s.root, q), s.alice.Token, nil)
		res.Want(t, 200)
		wantRooms(want, i < len(pages)-1)(t, res)
		var p hierarchyPage
		res.Decode(t, &p)
		if i == 0 {
			tok := url.QueryEscape(p.NextBatch)
			run(t, s.Fixture, []call{
				{"another user's token", "GET", hierarchyPath(s.root, "?from="+tok), s.bob.Token, nil, 400, "M_INVALID_PARAM", nil},
				{"another room's token", "GET", hierarchyPath(s.sub, "?from="+tok), s.alice.Token, nil, 400, "M_INVALID_PARAM", nil},
				{"max_depth changed", "GET", hierarchyPath(s.root, "?max_depth=1&from="+tok), s.alice.Token, nil,
					400, "M_INVALID_PARAM", nil},
				{"suggested_only changed", "GET", hierarchyPath(s.root, "?suggested_only=true&from="+tok), s.alice.Token, nil,
					400, "M_INVALID_PARAM", nil},
				{"the same parameters again", "GET", hierarchyPath(s.root, "?max_depth=50&suggested_only=false&limit=1&from="+tok),
					s.alice.Token, nil, 200, "", wantRooms([]string{s.r3}, true)},
			})
		}
		from = p.NextBatch
	}
}

// TestHierarchyOrder: the spec's example ("Ordering of children within a
// space"): valid order keys first, then origin_server_ts, then room ID.
func TestHierarchyOrder(t *testing.T) {
	child := func(key, order string, ts int64) roomapi.SpaceChild {
		c := `{"via":["x"]}`
		if order != "" {
			c = `{"via":["x"],"order":` + order + `}`
		}
		return roomapi.SpaceChild{Type: roomapi.MSpaceChild, StateKey: key, Content: json.RawMessage(c), OriginServerTS: ts}
	}
	children := []roomapi.SpaceChild{
		child("!e", "", 1640641000000),
		child("!c", `"first"`, 1640841000000),
		child("!d", "", 1640741000000),
		child("!a", `"aaaa"`, 1640141000000),
		child("!b", `" "`, 1640341000000),
		child("!g", `"\u0019bad"`, 1640741000000), // not a valid order: by timestamp, then ID
		child("!f", `7`, 1640741000000),           // not a string
		{Type: roomapi.MSpaceChild, StateKey: "!h", Content: json.RawMessage(`{"via":[]}`)},
	}
	var got []string
	for _, c := range roomapi.LinkedChildren(children, false) {
		got = append(got, c.StateKey)
	}
	if want := []string{"!b", "!a", "!c", "!e", "!d", "!f", "!g"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
