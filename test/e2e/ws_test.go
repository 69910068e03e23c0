package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

type wsFrame struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []struct {
					EventID string         `json:"event_id"`
					Type    string         `json:"type"`
					Content map[string]any `json:"content"`
				} `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
		Invite map[string]json.RawMessage `json:"invite"`
	} `json:"rooms"`
}

func dialWS(t *testing.T, base, token, since string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/_matrix/client/unstable/im.myelin/sync/ws"
	if since != "" {
		u += "?since=" + since
	}
	c, _, err := websocket.Dial(ctx(t), u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) wsFrame {
	t.Helper()
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.Read(rctx)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	var f wsFrame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame is not a sync response: %v", err)
	}
	return f
}

// TestWebSocketSync: the WebSocket stream delivers the same events as /sync
// in the same order, and a reconnect with the last next_batch loses and
// repeats nothing.
func TestWebSocketSync(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		v, err := bob.Versions(ctx(t))
		if err != nil || !v.UnstableFeatures["im.myelin.sync_ws"] {
			t.Fatalf("im.myelin.sync_ws not advertised: %+v %v", v, err)
		}
		ws := dialWS(t, srv.ClientURL(), bob.AccessToken, "")
		first := readFrame(t, ws)
		if first.NextBatch == "" {
			t.Fatal("initial frame without next_batch")
		}

		room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			Preset:   "private_chat",
			IsDirect: true,
			Invite:   []id.UserID{bob.UserID},
		})
		if err != nil {
			t.Fatal(err)
		}
		inv := readFrame(t, ws)
		for len(inv.Rooms.Invite) == 0 {
			inv = readFrame(t, ws)
		}
		if _, ok := inv.Rooms.Invite[string(room.RoomID)]; !ok {
			t.Fatalf("invite frame: %+v", inv.Rooms)
		}
		if _, err := bob.JoinRoomByID(ctx(t), room.RoomID); err != nil {
			t.Fatal(err)
		}
		// Collect frames while alice sends 10 messages.
		var wsIDs []string
		last := inv.NextBatch
		go func() {
			for i := 0; i < 10; i++ {
				_, _ = alice.SendText(context.Background(), room.RoomID, "ws "+string(rune('a'+i)))
			}
		}()
		deadline := time.Now().Add(15 * time.Second)
		msgs := 0
		for msgs < 10 && time.Now().Before(deadline) {
			f := readFrame(t, ws)
			last = f.NextBatch
			for _, e := range f.Rooms.Join[string(room.RoomID)].Timeline.Events {
				wsIDs = append(wsIDs, e.EventID)
				if e.Type == "m.room.message" {
					msgs++
				}
			}
		}
		if msgs != 10 {
			t.Fatalf("got %d messages over the WebSocket", msgs)
		}
		// /sync from the same starting token gives the same events in order.
		resp := syncOnce(t, bob, inv.NextBatch, 0)
		var syncIDs []string
		for _, e := range resp.Rooms.Join[room.RoomID].Timeline.Events {
			syncIDs = append(syncIDs, string(e.ID))
		}
		if strings.Join(syncIDs, ",") != strings.Join(wsIDs, ",") {
			t.Fatalf("WebSocket and /sync differ:\nws:   %v\nsync: %v", wsIDs, syncIDs)
		}

		// Disconnect; messages sent meanwhile arrive exactly once after a
		// reconnect with the last next_batch.
		if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("closing the WebSocket: %v", err)
		}
		for i := 0; i < 5; i++ {
			if _, err := alice.SendText(ctx(t), room.RoomID, "offline "+string(rune('a'+i))); err != nil {
				t.Fatal(err)
			}
		}
		ws2 := dialWS(t, srv.ClientURL(), bob.AccessToken, last)
		var got []string
		seen := map[string]bool{}
		for len(got) < 5 {
			f := readFrame(t, ws2)
			for _, e := range f.Rooms.Join[string(room.RoomID)].Timeline.Events {
				if seen[e.EventID] {
					t.Fatalf("event %s repeated", e.EventID)
				}
				seen[e.EventID] = true
				for _, old := range wsIDs {
					if old == e.EventID {
						t.Fatalf("event %s from before the disconnect repeated", e.EventID)
					}
				}
				if b, _ := e.Content["body"].(string); strings.HasPrefix(b, "offline") {
					got = append(got, b)
				}
			}
		}
		for i, b := range got {
			if b != "offline "+string(rune('a'+i)) {
				t.Fatalf("offline messages out of order: %v", got)
			}
		}

		// A control message moves the stream back to an earlier token.
		ctl, _ := json.Marshal(map[string]string{"since": inv.NextBatch})
		if err := ws2.Write(ctx(t), websocket.MessageText, ctl); err != nil {
			t.Fatal(err)
		}
		replay := readFrame(t, ws2)
		if n := len(replay.Rooms.Join[string(room.RoomID)].Timeline.Events); n == 0 {
			t.Fatal("control message did not rewind the stream")
		}

		// Bad token: the upgrade is refused with a Matrix error.
		r := do(t, "GET", srv.ClientURL()+"/_matrix/client/unstable/im.myelin/sync/ws", "mya_nope", nil)
		if r.Status != 401 || r.errcode() != "M_UNKNOWN_TOKEN" {
			t.Fatalf("bad token: %d %v", r.Status, r.Body)
		}
	})
}

// TestWebSocketSlowClient: a client that stops reading is disconnected once
// a frame cannot be written in time, instead of the server queueing frames
// for it without bound.
func TestWebSocketSlowClient(t *testing.T) {
	t.Parallel() // one of the longest: runs beside the other long ones once the serial tests are done
	cfg := testConfig(t, "")
	cfg.ClientAPI.RateLimits.Enabled = false
	srv := startServer(t, cfg)
	srv.SyncAPI.Routes.SetWSWriteTimeout(300 * time.Millisecond)
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	room := publicRoom(t, alice, bob)
	ws := dialWS(t, srv.ClientURL(), bob.AccessToken, "")
	readFrame(t, ws) // the initial frame; after this bob reads nothing
	big := strings.Repeat("x", 60000)
	for i := 0; i < 400; i++ {
		if _, err := alice.SendText(ctx(t), room, big); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	// Whatever was buffered can be read, then the connection is gone.
	rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	frames := 0
	for {
		_, _, err := ws.Read(rctx)
		if err != nil {
			if rctx.Err() != nil {
				t.Fatalf("the server kept the slow client connected (%d frames read)", frames)
			}
			break
		}
		frames++
	}
	// 400 messages of 60 KB would be 24 MB of frames; a disconnected slow
	// client got far fewer.
	if frames >= 400 {
		t.Fatalf("read %d frames: the client was not cut off", frames)
	}
	t.Logf("slow client cut off after %d buffered frames", frames)
}
