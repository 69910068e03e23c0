package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestAdminDeletesRoom: an admin deletes a room with block and purge
// while two users are in it. They are removed, the room's history is gone
// (/messages fails once the sync component has purged it), joining it
// again is refused, and the users' other room keeps working.
func TestAdminDeletesRoom(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig(t, ""))
	if r := sharedSecretRegister(t, srv, "root", "root password", true); r.Status != http.StatusOK {
		t.Fatalf("registering the admin: %d %v", r.Status, r.Body)
	}
	root := login(t, srv, "root", "root password")
	alice, bob := register(t, srv, "alice", "alice password"), register(t, srv, "bob", "bob password")
	bad := publicRoom(t, alice, bob)
	good := publicRoom(t, alice, bob)
	for _, room := range []id.RoomID{bad, good} {
		if _, err := alice.SendText(ctx(t), room, "hello "+string(room)); err != nil {
			t.Fatal(err)
		}
	}

	var res struct {
		KickedUsers []id.UserID `json:"kicked_users"`
		NewRoomID   *string     `json:"new_room_id"`
	}
	_, err := root.MakeFullRequest(ctx(t), mautrix.FullRequest{Method: http.MethodDelete,
		URL:         srv.ClientURL() + "/_synapse/admin/v1/rooms/" + url.PathEscape(string(bad)),
		RequestJSON: map[string]any{"block": true, "purge": true}, ResponseJSON: &res})
	if err != nil {
		t.Fatalf("deleting the room: %v", err)
	}
	slices.Sort(res.KickedUsers)
	if !slices.Equal(res.KickedUsers, []id.UserID{alice.UserID, bob.UserID}) || res.NewRoomID != nil {
		t.Fatalf("delete result %+v", res)
	}

	for _, c := range []*mautrix.Client{alice, bob} {
		joined, err := c.JoinedRooms(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(joined.JoinedRooms, bad) || !slices.Contains(joined.JoinedRooms, good) {
			t.Fatalf("%s's rooms after the delete: %v", c.UserID, joined.JoinedRooms)
		}
	}
	// The purge reaches the sync component through the output log.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := alice.Messages(ctx(t), bad, "", "", mautrix.DirectionBackward, nil, 10)
		if err != nil {
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted room's history is still readable")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err = bob.JoinRoomByID(ctx(t), bad)
	wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")

	// The other room works as before.
	if _, err := bob.SendText(ctx(t), good, "still here"); err != nil {
		t.Fatal(err)
	}
	// (bob's message reaches alice's view through the sync stream.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		msgs, err := alice.Messages(ctx(t), good, "", "", mautrix.DirectionBackward, nil, 1)
		if err != nil {
			t.Fatalf("the other room: %v", err)
		}
		if len(msgs.Chunk) == 1 && msgs.Chunk[0].Type.Type == event.EventMessage.Type && msgs.Chunk[0].Content.Raw["body"] == "still here" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other room's last message: %s %+v", msgs.Chunk[0].Type.Type, msgs.Chunk[0].Content.Raw)
		}
	}
}
