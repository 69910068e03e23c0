package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// gatewayRequest is the part of a push gateway notify request (spec: Push
// Gateway API, POST /_matrix/push/v1/notify) the tests check.
type gatewayRequest struct {
	Notification struct {
		EventID string          `json:"event_id"`
		RoomID  string          `json:"room_id"`
		Type    string          `json:"type"`
		Sender  string          `json:"sender"`
		Prio    string          `json:"prio"`
		Content json.RawMessage `json:"content"`
		Counts  struct {
			Unread int `json:"unread"`
		} `json:"counts"`
		Devices []struct {
			AppID   string                     `json:"app_id"`
			PushKey string                     `json:"pushkey"`
			Data    map[string]json.RawMessage `json:"data"`
			Tweaks  map[string]json.RawMessage `json:"tweaks"`
		} `json:"devices"`
	} `json:"notification"`
}

// pushGateway is a local push gateway: it checks each request's method,
// path and content type and hands the decoded body to the test.
func pushGateway(t *testing.T) (url string, got <-chan gatewayRequest) {
	t.Helper()
	ch := make(chan gatewayRequest, 16)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req gatewayRequest
		if r.Method != http.MethodPost || r.URL.Path != "/_matrix/push/v1/notify" ||
			r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &req) != nil {
			t.Errorf("push gateway got %s %s (%s): %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), body)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rejected":[]}`))
		ch <- req
	}))
	t.Cleanup(gw.Close)
	return gw.URL + "/_matrix/push/v1/notify", ch
}

// nextPush waits for the gateway's next request.
func nextPush(t *testing.T, got <-chan gatewayRequest) gatewayRequest {
	t.Helper()
	select {
	case req := <-got:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10s")
		return gatewayRequest{}
	}
}

// TestPushToGateway: a message to a user with an http pusher reaches the
// push gateway in its wire format (full format: the event's type, sender
// and content; the device's app ID, pushkey and data without the URL); a
// mention highlights and interrupts (prio high); an edit does not notify;
// counts.unread and /sync's unread counts agree.
func TestPushToGateway(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "alice password")
		bob := register(t, srv, "bob", "bob password")
		carol := register(t, srv, "carol", "carol password")
		room := publicRoom(t, alice, bob, carol) // three members: not a one-to-one room
		url, got := pushGateway(t)
		kind := mautrix.PusherKindHTTP
		if err := bob.SetPusher(ctx(t), &mautrix.Pusher{
			Kind: &kind, AppID: "im.myelin.e2e", PushKey: "bob-phone", AppDisplayName: "e2e", DeviceDisplayName: "phone",
			Language: "en", Data: mautrix.PusherData{"url": url, "custom": "kept"},
		}); err != nil {
			t.Fatal(err)
		}

		plain, err := alice.SendText(ctx(t), room, "hello there")
		if err != nil {
			t.Fatal(err)
		}
		req := nextPush(t, got)
		n := req.Notification
		if n.EventID != plain.EventID.String() || n.RoomID != room.String() || n.Type != "m.room.message" ||
			n.Sender != alice.UserID.String() || n.Prio != "low" || n.Counts.Unread != 1 || len(n.Devices) != 1 {
			t.Fatalf("push of a plain message: %+v", n)
		}
		dev := n.Devices[0]
		if dev.AppID != "im.myelin.e2e" || dev.PushKey != "bob-phone" || string(dev.Data["custom"]) != `"kept"` || dev.Data["url"] != nil {
			t.Fatalf("device in the push: %+v", dev)
		}
		var content map[string]any
		if json.Unmarshal(n.Content, &content) != nil || content["body"] != "hello there" {
			t.Fatalf("content in the push: %s", n.Content)
		}

		// An edit does not notify: the next push is the mention after it.
		if _, err := alice.SendMessageEvent(ctx(t), room, event.EventMessage, map[string]any{
			"msgtype": "m.text", "body": "* hello there!", "m.new_content": map[string]any{"msgtype": "m.text", "body": "hello there!"},
			"m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": plain.EventID},
		}); err != nil {
			t.Fatal(err)
		}
		mention, err := alice.SendMessageEvent(ctx(t), room, event.EventMessage, map[string]any{
			"msgtype": "m.text", "body": "bob, look", "m.mentions": map[string]any{"user_ids": []id.UserID{bob.UserID}},
		})
		if err != nil {
			t.Fatal(err)
		}
		n = nextPush(t, got).Notification
		if n.EventID != mention.EventID.String() || n.Prio != "high" || string(n.Devices[0].Tweaks["highlight"]) != "true" ||
			n.Counts.Unread != 2 {
			t.Fatalf("push after the edit: %+v, want the mention %s, highlighted", n, mention.EventID)
		}

		resp, err := bob.SyncRequest(ctx(t), 0, "", "", false, "")
		if err != nil {
			t.Fatal(err)
		}
		counts := resp.Rooms.Join[room].UnreadNotifications
		if counts == nil || counts.NotificationCount != 2 || counts.HighlightCount != 1 {
			t.Fatalf("bob's unread counts: %+v, want 2 notifications (the message, the mention), 1 highlight", counts)
		}
	})
}
