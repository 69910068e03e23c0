package e2e

import (
	"net/url"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// createSpace creates a public space (or a plain public room when
// !space) named name.
func createSpace(t *testing.T, c *mautrix.Client, name string, space bool) id.RoomID {
	t.Helper()
	req := &mautrix.ReqCreateRoom{Preset: "public_chat", Name: name}
	if space {
		req.CreationContent = map[string]any{"type": "m.space"}
	}
	resp, err := c.CreateRoom(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.RoomID
}

// addChild links child into space through via.
func addChild(t *testing.T, c *mautrix.Client, space, child id.RoomID, via ...string) {
	t.Helper()
	if _, err := c.SendStateEvent(ctx(t), space, event.StateSpaceChild, child.String(), map[string]any{"via": via}); err != nil {
		t.Fatal(err)
	}
}

// browse pages through the hierarchy under root with pages of limit rooms
// and returns the rooms in the order given and the number of pages.
func browse(t *testing.T, c *mautrix.Client, root id.RoomID, limit int, maxDepth *int) (rooms []*mautrix.ChildRoomsChunk, pages int) {
	t.Helper()
	req := &mautrix.ReqHierarchy{Limit: limit, MaxDepth: maxDepth}
	for pages < 100 {
		resp, err := c.Hierarchy(ctx(t), root, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.Rooms) > limit {
			t.Fatalf("a page of %d rooms with limit %d", len(resp.Rooms), limit)
		}
		rooms = append(rooms, resp.Rooms...)
		if resp.NextBatch == "" {
			return rooms, pages
		}
		req.From = resp.NextBatch
	}
	t.Fatal("no end to the pages")
	return nil, 0
}

func roomIDs(rooms []*mautrix.ChildRoomsChunk) []id.RoomID {
	var out []id.RoomID
	for _, r := range rooms {
		out = append(out, r.RoomID)
	}
	return out
}

// TestSpacesHierarchy: a space of spaces (space → subspace → rooms, and a
// room of the space itself), browsed two rooms a page to the end: each
// room once, depth first, the spaces marked as such; max_depth stops the
// walk below the subspace.
func TestSpacesHierarchy(t *testing.T) {
	srv := startServer(t, testConfig(t, sqltest.URL(t, sqlutil.SQLite)))
	alice := register(t, srv, "alice", "long enough")
	space := createSpace(t, alice, "Company", true)
	sub := createSpace(t, alice, "Engineering", true)
	lobby := createSpace(t, alice, "Lobby", false)
	var team []id.RoomID
	for _, name := range []string{"Backend", "Frontend", "Ops"} {
		team = append(team, createSpace(t, alice, name, false))
	}
	addChild(t, alice, space, sub, "localhost")
	addChild(t, alice, space, lobby, "localhost")
	for _, r := range team {
		addChild(t, alice, sub, r, "localhost")
	}
	addChild(t, alice, sub, space, "localhost") // a loop: not walked twice

	rooms, pages := browse(t, alice, space, 2, nil)
	want := append(append([]id.RoomID{space, sub}, team...), lobby)
	if got := roomIDs(rooms); !slices.Equal(got, want) {
		t.Fatalf("rooms %v, want %v", got, want)
	}
	if pages != 3 {
		t.Fatalf("%d pages, want 3", pages)
	}
	if rooms[1].RoomType != event.RoomTypeSpace || rooms[1].Name != "Engineering" || len(rooms[1].ChildrenState) != 4 {
		t.Fatalf("the subspace: %+v", rooms[1])
	}
	if rooms[2].RoomType != "" || len(rooms[2].ChildrenState) != 0 {
		t.Fatalf("a room: %+v", rooms[2])
	}

	depth := 1
	rooms, _ = browse(t, alice, space, 10, &depth)
	if got := roomIDs(rooms); !slices.Equal(got, []id.RoomID{space, sub, lobby}) {
		t.Fatalf("max_depth 1: rooms %v", got)
	}

	// The directory tells spaces from rooms (spec: PublishedRoomsChunk,
	// room_type).
	put := do(t, "PUT", srv.ClientURL()+"/_matrix/client/v3/directory/list/room/"+url.PathEscape(sub.String()), alice.AccessToken,
		map[string]string{"visibility": "public"})
	if put.Status != 200 {
		t.Fatalf("publishing the subspace: %d %v", put.Status, put.Body)
	}
	dir, err := alice.PublicRooms(ctx(t), &mautrix.ReqPublicRooms{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dir.Chunk) != 1 || dir.Chunk[0].RoomID != sub || dir.Chunk[0].RoomType != event.RoomTypeSpace {
		t.Fatalf("/publicRooms: %+v", dir.Chunk)
	}
}

// TestSpacesHierarchyFederated: a space on one with a room on two, browsed
// from one: two describes its room over federation.
func TestSpacesHierarchyFederated(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	space := createSpace(t, alice, "Federated", true)
	local := createSpace(t, alice, "Here", false)
	remote := createSpace(t, bob, "Over there", false)
	addChild(t, alice, space, local, "one.test")
	addChild(t, alice, space, remote, "two.test")

	rooms, _ := browse(t, alice, space, 10, nil)
	if got := roomIDs(rooms); !slices.Equal(got, []id.RoomID{space, local, remote}) {
		t.Fatalf("rooms %v", got)
	}
	if r := rooms[2]; r.Name != "Over there" || r.NumJoinedMembers != 1 || r.JoinRule != event.JoinRulePublic {
		t.Fatalf("the room on two: %+v", r)
	}

	// /room_summary of a room one is not in: two describes it.
	summary := do(t, "GET", f.servers["one.test"].ClientURL()+"/_matrix/client/v1/room_summary/"+url.PathEscape(remote.String())+
		"?via=two.test", alice.AccessToken, nil)
	if summary.Status != 200 || summary.Body["name"] != "Over there" || summary.Body["room_type"] != nil {
		t.Fatalf("room_summary: %d %v", summary.Status, summary.Body)
	}
}
