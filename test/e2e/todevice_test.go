package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
)

var testToDeviceType = event.Type{Type: "im.myelin.test", Class: event.ToDeviceEventType}

// toDeviceReader syncs as one device and collects the "i" of each
// to-device message it receives, in order.
type toDeviceReader struct {
	c     *mautrix.Client
	since string
	got   []int
}

// readUntil syncs until n messages in all have arrived.
func (r *toDeviceReader) readUntil(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for len(r.got) < n {
		resp, err := r.c.SyncRequest(ctx, 5000, r.since, "", false, "")
		if err != nil {
			t.Fatalf("sync after %d messages: %v", len(r.got), err)
		}
		if len(resp.ToDevice.Events) > 100 {
			t.Fatalf("%d to-device events in one response, want at most 100", len(resp.ToDevice.Events))
		}
		for _, ev := range resp.ToDevice.Events {
			var c struct{ I int }
			if err := json.Unmarshal(ev.Content.VeryRaw, &c); err != nil || ev.Type.Type != testToDeviceType.Type || ev.Sender == "" {
				t.Fatalf("to-device event %+v: %v", ev, err)
			}
			r.got = append(r.got, c.I)
		}
		r.since = resp.NextBatch
	}
}

// sendNumbered sends to-device messages first..end-1 from c to one device.
func sendNumbered(ctx context.Context, t *testing.T, c *mautrix.Client, to id.UserID, dev id.DeviceID, first, end int) {
	t.Helper()
	for i := first; i < end; i++ {
		req := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
			to: {dev: {Raw: map[string]any{"i": i}}},
		}}
		if _, err := c.SendToDevice(ctx, testToDeviceType, req); err != nil {
			t.Fatalf("sending message %d: %v", i, err)
		}
	}
}

// TestToDeviceAcrossRestart sends 1,000 to-device messages from one user to
// another's device, restarting the server halfway with messages sent but
// not yet received and others received but not yet acknowledged: every
// message arrives exactly once, in order, and a send retried after the
// restart stores nothing again.
func TestToDeviceAcrossRestart(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		cfg.ClientAPI.RateLimits.Requests = config.RateLimit{PerSecond: 1000, Burst: 1000}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		srv := startServer(t, cfg)
		alice := register(t, srv, "alice", "password-alice")
		bob := register(t, srv, "bob", "password-bob")
		reader := &toDeviceReader{c: bob}
		reader.readUntil(ctx, t, 0)

		sendNumbered(ctx, t, alice, bob.UserID, bob.DeviceID, 0, 499)
		// The last one before the restart under a transaction ID of our
		// own, to send it again after.
		retried := fmt.Sprintf("/_matrix/client/v3/sendToDevice/%s/retried", url.PathEscape(testToDeviceType.Type))
		toBob := map[string]any{bob.DeviceID.String(): map[string]any{"i": 499}}
		body := map[string]any{"messages": map[string]any{bob.UserID.String(): toBob}}
		if res := do(t, "PUT", srv.ClientURL()+retried, alice.AccessToken, body); res.Status != 200 {
			t.Fatalf("raw send: %d %v", res.Status, res.Body)
		}
		// Received but not acknowledged: the token of the last answer is
		// only used after the restart.
		reader.readUntil(ctx, t, 300)

		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		srv2 := startServer(t, cfg)
		for _, c := range []*mautrix.Client{alice, bob} {
			c.HomeserverURL = mustParse(t, srv2.ClientURL())
		}
		if res := do(t, "PUT", srv2.ClientURL()+retried, alice.AccessToken, body); res.Status != 200 {
			t.Fatalf("raw send retried: %d %v", res.Status, res.Body)
		}
		sendNumbered(ctx, t, alice, bob.UserID, bob.DeviceID, 500, 1000)
		reader.readUntil(ctx, t, 1000)

		for i, n := range reader.got {
			if n != i {
				t.Fatalf("message %d is %d (of %d received): not exactly once in order", i, n, len(reader.got))
			}
		}
		// Nothing more: the retried send stored nothing, and the last
		// token acknowledges everything.
		resp, err := bob.SyncRequest(ctx, 0, reader.since, "", false, "")
		if err != nil || len(resp.ToDevice.Events) != 0 {
			t.Fatalf("after the 1,000th: %d more events, %v", len(resp.ToDevice.Events), err)
		}
	})
}
