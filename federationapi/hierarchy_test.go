package federationapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// link sends an m.space.child event into parent as u.
func link(t *testing.T, f *fed, u *fixture.User, parent, child, content string) {
	t.Helper()
	_, err := f.Rooms.SendEvent(context.Background(), roomapi.SendEventRequest{RoomID: parent, Sender: u.ID,
		Type: roomapi.MSpaceChild, StateKey: &child, Content: json.RawMessage(content)})
	if err != nil {
		t.Fatal(err)
	}
}

// fedHierarchy is an answer of GET /_matrix/federation/v1/hierarchy.
type fedHierarchy struct {
	Room                 roomapi.SpaceRoom   `json:"room"`
	Children             []roomapi.SpaceRoom `json:"children"`
	InaccessibleChildren []string            `json:"inaccessible_children"`
}

func (h fedHierarchy) childIDs() []string {
	out := []string{}
	for _, c := range h.Children {
		out = append(out, c.RoomID)
	}
	return out
}

// TestHierarchyServed: the room and the children remote.test may see, the
// ones it may not as inaccessible_children, the ones this server does not
// know left out; a restricted room shows once a user of remote.test joins
// a room it allows.
func TestHierarchyServed(t *testing.T) {
	f := newFed(t)
	alice := f.User(t, "alice")
	space := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", CreationContent: json.RawMessage(`{"type":"m.space"}`)})
	pub := f.publicRoom(t, alice)
	priv := f.Room(t, alice)
	allowed := f.publicRoom(t, alice)
	restricted := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` +
			allowed + `"}]}`)},
	}})
	knock := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", InitialState: []roomapi.StateEvent{
		{Type: "m.room.join_rules", Content: json.RawMessage(`{"join_rule":"knock"}`)},
	}})
	link(t, f, alice, space, pub, `{"via":["test.local"],"suggested":true}`)
	link(t, f, alice, space, priv, `{"via":["test.local"]}`)
	link(t, f, alice, space, restricted, `{"via":["test.local"]}`)
	link(t, f, alice, space, knock, `{"via":["test.local"]}`)
	link(t, f, alice, space, "!unknown:elsewhere.test", `{"via":["elsewhere.test"]}`)
	link(t, f, alice, space, allowed, `{}`) // unlinked
	path := "/_matrix/federation/v1/hierarchy/" + esc(space)

	get := func(t *testing.T, p string) fedHierarchy {
		t.Helper()
		res := f.DoSigned(t, f.remote, http.MethodGet, p, nil)
		res.Want(t, http.StatusOK)
		var h fedHierarchy
		res.Decode(t, &h)
		return h
	}
	t.Run("a server with no member", func(t *testing.T) {
		h := get(t, path)
		if h.Room.RoomID != space || h.Room.RoomType != "m.space" || len(h.Room.ChildrenState) != 5 {
			t.Fatalf("room %+v", h.Room)
		}
		if got := h.childIDs(); !slices.Equal(got, []string{pub, knock}) {
			t.Fatalf("children %v, want %v", got, []string{pub, knock})
		}
		if !slices.Equal(h.InaccessibleChildren, []string{priv, restricted}) {
			t.Fatalf("inaccessible_children %v", h.InaccessibleChildren)
		}
	})
	t.Run("suggested_only", func(t *testing.T) {
		h := get(t, path+"?suggested_only=true")
		if len(h.Room.ChildrenState) != 1 || !slices.Equal(h.childIDs(), []string{pub}) || len(h.InaccessibleChildren) != 0 {
			t.Fatalf("answer %+v", h)
		}
	})
	t.Run("a server with a member in the allowed room", func(t *testing.T) {
		f.joinRemote(t, allowed, remoteUser("bob"))
		h := get(t, path)
		if got := h.childIDs(); !slices.Equal(got, []string{pub, restricted, knock}) {
			t.Fatalf("children %v", got)
		}
		for _, c := range h.Children {
			if c.RoomID == restricted && !slices.Equal(c.AllowedRoomIDs, []string{allowed}) {
				t.Fatalf("allowed_room_ids %v", c.AllowedRoomIDs)
			}
			if c.ChildrenState == nil || len(c.ChildrenState) != 0 {
				t.Fatalf("a child that is no space: children_state %v", c.ChildrenState)
			}
		}
		if !slices.Equal(h.InaccessibleChildren, []string{priv}) {
			t.Fatalf("inaccessible_children %v", h.InaccessibleChildren)
		}
	})
	f.runRefusals(t, []refusal{
		{name: "a room remote.test may not see", path: "/_matrix/federation/v1/hierarchy/" + esc(priv),
			status: 404, errcode: "M_NOT_FOUND"},
		{name: "an unknown room", path: "/_matrix/federation/v1/hierarchy/" + esc("!nope:test.local"), status: 404, errcode: "M_NOT_FOUND"},
		{name: "suggested_only not a boolean", path: path + "?suggested_only=1", status: 400, errcode: "M_INVALID_PARAM"},
	})
	t.Run("unsigned", func(t *testing.T) {
		f.Do(t, http.MethodGet, path, "", nil).Want(t, http.StatusUnauthorized, "M_UNAUTHORIZED")
	})
}

// TestRemoteHierarchy: another server's answer, kept in the cache; a
// refusal is not kept; no server to ask.
func TestRemoteHierarchy(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	const room = "!space:remote.test"
	remote.answer(http.StatusNotFound, `{"errcode":"M_NOT_FOUND","error":"no"}`)
	_, err := f.api.RemoteHierarchy(ctx, room, []string{"remote.test"}, false)
	var re *fedapi.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusNotFound {
		t.Fatalf("refusal: %v", err)
	}
	remote.answer(http.StatusOK,
		`{"room":{"room_id":"`+room+`","children_state":[]},"children":[],"inaccessible_children":["!x:remote.test"]}`)
	for i := range 2 {
		h, err := f.api.RemoteHierarchy(ctx, room, []string{"test.local", "remote.test"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(h.InaccessibleChildren, []string{"!x:remote.test"}) {
			t.Fatalf("answer %+v", h)
		}
		if asked := remote.asked(); len(asked) != 1 {
			t.Fatalf("call %d: asked %v, want once (then from the cache)", i, asked)
		}
	}
	remote.answer(http.StatusOK, `{"children":[]}`)
	if _, err := f.api.RemoteHierarchy(ctx, room, []string{"remote.test"}, true); err == nil {
		t.Fatal("an answer without room was taken")
	}
	if _, err := f.api.RemoteHierarchy(ctx, room, nil, true); !errors.Is(err, fedapi.ErrNoServers) {
		t.Fatalf("no servers: %v", err)
	}
}
