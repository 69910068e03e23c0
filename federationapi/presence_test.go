package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// TestInboundPresence: an m.presence EDU's updates reach the sync
// component's topic only for users of the sending server who share a room
// with this server and with a valid state; last_active_ago becomes an
// absolute time.
func TestInboundPresence(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	if err := f.api.StartSending(ctx, f.Bus); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.api.Close() })
	got := make(chan syncapi.PresenceUpdate, 16)
	if _, err := f.Bus.Subscribe(ctx, syncapi.PresenceInboundTopic, "test", func(_ context.Context, m *bus.Message) error {
		var u syncapi.PresenceUpdate
		if err := json.Unmarshal(m.Body, &u); err != nil {
			t.Error(err)
		}
		got <- u
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	alice := f.User(t, "alice")
	room := f.publicRoom(t, alice)
	rita := remoteUser("rita")
	f.joinRemote(t, room, rita)
	push := func(user, presence string) map[string]any {
		return map[string]any{"user_id": user, "presence": presence, "status_msg": "hi", "last_active_ago": 1000,
			"currently_active": true}
	}
	send := func(id string, pushes ...map[string]any) {
		edu := map[string]any{"edu_type": "m.presence", "content": map[string]any{"push": pushes}}
		txn := map[string]any{"origin": "remote.test", "origin_server_ts": 1, "pdus": []any{}, "edus": []any{edu}}
		f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v1/send/"+id, txn).Want(t, http.StatusOK)
	}
	before := time.Now().UnixMilli()
	send("p1",
		push("@sam:"+stranger, "online"),  // another server's user
		push(remoteUser("rob"), "online"), // sharing no room
		push(rita, "busy"),                // no such state
		push(rita, "online"),
	)
	send("p2", map[string]any{"user_id": rita, "presence": "unavailable", "last_active_ago": 5})
	wait := func() syncapi.PresenceUpdate {
		select {
		case u := <-got:
			return u
		case <-time.After(10 * time.Second):
			t.Fatal("no presence update published")
		}
		return syncapi.PresenceUpdate{}
	}
	u := wait()
	if u.UserID != rita || u.Presence != "online" || u.StatusMsg == nil || *u.StatusMsg != "hi" || !u.CurrentlyActive {
		t.Fatalf("first update %+v, want rita online, hi", u)
	}
	if u.LastActiveTS > before-1000+50 || u.LastActiveTS < before-1000-10_000 {
		t.Fatalf("last_active_ts %d, want about %d", u.LastActiveTS, before-1000)
	}
	if u := wait(); u.UserID != rita || u.Presence != "unavailable" {
		t.Fatalf("second update %+v, want rita unavailable", u)
	}
	// The dropped ones were never published; any straggler would have
	// been delivered by now on the other partitions.
	select {
	case u := <-got:
		t.Fatalf("a dropped update was published: %+v", u)
	case <-time.After(500 * time.Millisecond):
	}
}
