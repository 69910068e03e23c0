package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestProfileReachesOtherMembers: a user registered without a display name
// shows up under their localpart, and a new avatar — any string, as
// Synapse and Dendrite take — and its removal reach the other members of
// the user's rooms through /sync.
func TestProfileReachesOtherMembers(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	room := publicRoom(t, alice, bob)
	jm, err := bob.JoinedMembers(ctx(t), room)
	if err != nil || jm.Joined[alice.UserID].DisplayName != "alice" || jm.Joined[bob.UserID].DisplayName != "bob" {
		t.Fatalf("joined members named %+v, %v; want their localparts", jm, err)
	}
	since := syncOnce(t, bob, "", 0).NextBatch
	avatar := srv.ClientURL() + "/_matrix/client/v3/profile/" + url.PathEscape(alice.UserID.String()) + "/avatar_url"

	for _, step := range []struct {
		name, method string
		body         any
		want         string // alice's avatar_url in her new member event ("": none)
	}{
		{"plain word", http.MethodPut, map[string]string{"avatar_url": "LemurLover"}, "LemurLover"},
		{"mxc", http.MethodPut, map[string]string{"avatar_url": "mxc://localhost/lemur"}, "mxc://localhost/lemur"},
		{"deleted", http.MethodDelete, nil, ""},
	} {
		t.Run(step.name, func(t *testing.T) {
			if r := do(t, step.method, avatar, alice.AccessToken, step.body); r.Status != http.StatusOK {
				t.Fatalf("%s avatar_url: %d %v", step.method, r.Status, r.Body)
			}
			since = waitForMember(t, bob, since, room, alice.UserID, func(c map[string]any) bool {
				got, has := c["avatar_url"]
				return c["membership"] == "join" && c["displayname"] == "alice" &&
					(step.want == "" && !has || step.want != "" && got == step.want)
			})
		})
	}
}

// waitForMember syncs c from since until roomID's timeline has a member
// event for user whose content satisfies ok, and returns the next batch.
func waitForMember(t *testing.T, c *mautrix.Client, since string, roomID id.RoomID, user id.UserID, ok func(map[string]any) bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp := syncOnce(t, c, since, 5*time.Second)
		since = resp.NextBatch
		for _, e := range resp.Rooms.Join[roomID].Timeline.Events {
			if e.Type == event.StateMember && e.GetStateKey() == user.String() && ok(e.Content.Raw) {
				return since
			}
		}
	}
	t.Fatalf("%s did not see the expected member event of %s in %s", c.UserID, user, roomID)
	return since
}
