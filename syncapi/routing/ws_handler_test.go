package routing_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/myelin-im/myelin/test/fixture"
)

const wsPath = "/_matrix/client/unstable/im.myelin/sync/ws"

// TestWebSocketRequest: the WebSocket endpoint checks the token and its
// parameters before the upgrade, answering as /sync would; a request that
// is not a WebSocket handshake is refused by the upgrade itself.
func TestWebSocketRequest(t *testing.T) {
	e := newEnv(t)
	bob := e.bob.Token
	cases := append(authCases(wsPath), []reqCase{
		invalidParam("since not a token", bob, wsPath+"?since=now"),
		notFound("unknown filter ID", bob, wsPath+"?filter=999999"),
		badJSON("inline filter not JSON", bob, wsPath+"?filter=%7B"),
		{name: "not a WebSocket handshake", token: bob, path: wsPath, status: http.StatusUpgradeRequired},
	}...)
	run(t, e.Fixture, http.MethodGet, cases)
}

// wsClient is a test's end of a sync WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

// dialWS opens the sync WebSocket as u on a server in front of f's handler.
func dialWS(t *testing.T, f *fixture.Fixture, u *fixture.User, query string) *wsClient {
	t.Helper()
	srv := httptest.NewServer(f.Handler(t))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+wsPath+query, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.Token}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &wsClient{t: t, conn: conn}
}

// frame reads the next frame (within 5s) as a sync response.
func (c *wsClient) frame() syncBody {
	c.t.Helper()
	data := c.frameRaw()
	var b syncBody
	if err := json.Unmarshal(data, &b); err != nil {
		c.t.Fatalf("frame %s: %v", data, err)
	}
	return b
}

// frameRaw reads the next frame (within 5s).
func (c *wsClient) frameRaw() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return data
}

// send writes a control message.
func (c *wsClient) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("writing %s: %v", msg, err)
	}
}

// closed waits (up to 5s) for the server to close the connection and
// returns its status and reason.
func (c *wsClient) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := c.conn.Read(ctx)
		if err == nil {
			continue // a frame sent before the close
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame: %v (last frame %s)", err, data)
		}
		return ce.Code, ce.Reason
	}
}

// TestWebSocketStream: the stream starts with an initial sync, sends each
// new event as a frame, and replays from a since the client sends.
func TestWebSocketStream(t *testing.T) {
	e := newEnv(t)
	c := dialWS(t, e.Fixture, e.bob, "")
	first := c.frame()
	if _, ok := first.Rooms.Join[e.room]; !ok || first.NextBatch == "" {
		t.Fatalf("initial frame without bob's room or next_batch: %+v", first)
	}
	id := e.Send(t, e.alice, e.room, "pushed")
	next := c.frame()
	if evs := next.Rooms.Join[e.room].Timeline.Events; len(evs) != 1 || evs[0].EventID != id {
		t.Fatalf("frame after a message: %+v, want %s alone", next.Rooms.Join, id)
	}
	c.send(`{"since":"` + first.NextBatch + `"}`)
	again := c.frame()
	if evs := again.Rooms.Join[e.room].Timeline.Events; len(evs) != 1 || evs[0].EventID != id {
		t.Fatalf("frame after rewinding to %s: %+v, want %s again", first.NextBatch, again.Rooms.Join, id)
	}
	c.send(`{"since":"s0","filter":{"room":{"timeline":{"limit":1}}}}`)
	limited := c.frame()
	if tl := limited.Rooms.Join[e.room].Timeline; len(tl.Events) != 1 || !tl.Limited {
		t.Fatalf("frame with a one-event filter: %d events, limited %v", len(tl.Events), tl.Limited)
	}
}

// TestWebSocketControl: a control message the server cannot apply closes
// the connection with a status saying why.
func TestWebSocketControl(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, msg string
		code      websocket.StatusCode
		reason    string
	}{
		{"since not a token", `{"since":"later"}`, websocket.StatusPolicyViolation, "invalid since token"},
		{"unknown filter ID", `{"filter":999999}`, websocket.StatusPolicyViolation, "invalid filter"},
		{"filter of the wrong shape", `{"filter":{"room":[]}}`, websocket.StatusPolicyViolation, "invalid filter"},
		{"not JSON", `since=s1`, websocket.StatusUnsupportedData, "control messages are JSON objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, e.Fixture, e.bob, "?since="+url.QueryEscape(doSync(t, e.Fixture, e.bob, "").NextBatch))
			c.send(tc.msg)
			if code, reason := c.closed(); code != tc.code || reason != tc.reason {
				t.Fatalf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
}
