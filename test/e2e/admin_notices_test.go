package e2e

import (
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// TestServerNoticeJourney drives a server notice with mautrix as a user's
// client sees it: invited by the server-notices user to a room tagged
// m.server_notice, unable to reject the invite, joining and reading the
// notice, leaving, and invited to the same room by the next notice.
func TestServerNoticeJourney(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, sqltest.URL(t, sqlutil.SQLite))
	cfg.ServerNotices.SystemMXIDLocalpart = "notices"
	srv := startServer(t, cfg)
	if _, err := srv.UserAPI.CreateAccount(ctx(t), userapi.CreateAccountRequest{Localpart: "root", Password: "root-password",
		IsAdmin: true}); err != nil {
		t.Fatal(err)
	}
	admin := login(t, srv, "root", "root-password")
	alice := register(t, srv, "alice", "alice-password")

	sent := sendNotice(t, admin, alice.UserID, "first")
	room := waitForInvite(t, alice, id.UserID("@notices:"+cfg.Global.ServerName))
	_, err := alice.LeaveRoom(ctx(t), room)
	wantMatrixError(t, err, http.StatusForbidden, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")
	if _, err := alice.JoinRoomByID(ctx(t), room); err != nil {
		t.Fatalf("join: %v", err)
	}
	tags, err := alice.GetTags(ctx(t), room)
	if _, ok := tags.Tags["m.server_notice"]; err != nil || !ok {
		t.Fatalf("tags %+v, %v", tags, err)
	}
	msgs, err := alice.Messages(ctx(t), room, "", "", mautrix.DirectionBackward, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range msgs.Chunk {
		found = found || ev.ID == sent && ev.Content.Raw["body"] == "first"
	}
	if !found {
		t.Fatalf("notice %s not in the room's messages", sent)
	}
	if _, err := alice.LeaveRoom(ctx(t), room); err != nil {
		t.Fatalf("leave after joining: %v", err)
	}
	sendNotice(t, admin, alice.UserID, "second")
	if again := waitForInvite(t, alice, id.UserID("@notices:"+cfg.Global.ServerName)); again != room {
		t.Fatalf("second notice in %s, want the same room %s", again, room)
	}
}

// sendNotice sends a text notice to user through Synapse's admin API.
func sendNotice(t *testing.T, admin *mautrix.Client, user id.UserID, body string) id.EventID {
	t.Helper()
	var resp struct {
		EventID id.EventID `json:"event_id"`
	}
	_, err := admin.MakeRequest(ctx(t), http.MethodPost, admin.BuildURL(mautrix.SynapseAdminURLPath{"v1", "send_server_notice"}),
		map[string]any{"user_id": user, "content": map[string]any{"msgtype": "m.text", "body": body}}, &resp)
	if err != nil || resp.EventID == "" {
		t.Fatalf("send_server_notice: %+v, %v", resp, err)
	}
	return resp.EventID
}

// waitForInvite syncs until c is invited by from, and returns the room.
func waitForInvite(t *testing.T, c *mautrix.Client, from id.UserID) id.RoomID {
	t.Helper()
	since := ""
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.SyncRequest(ctx(t), 2000, since, "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		since = resp.NextBatch
		for roomID, inv := range resp.Rooms.Invite {
			for _, ev := range inv.State.Events {
				if ev.Type.Type == "m.room.member" && ev.Sender == from && ev.GetStateKey() == c.UserID.String() {
					return roomID
				}
			}
		}
	}
	t.Fatalf("no invite from %s", from)
	return ""
}
