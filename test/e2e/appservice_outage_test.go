package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// stoppableBridge is a bridge process built on mautrix's appservice
// package, on a fixed loopback address: stop closes its listener and its
// connections (pushes are refused, as when the process is not running);
// start runs a new process there — a fresh AppService, which remembers no
// transaction it handled before.
type stoppableBridge struct {
	t    *testing.T
	reg  *appservice.Registration
	addr string

	mu   sync.Mutex
	as   *appservice.AppService
	srv  *http.Server
	txns map[string]int // transaction ID → pushes the bridge took, this process
}

func newStoppableBridge(t *testing.T, reg *appservice.Registration) *stoppableBridge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	b := &stoppableBridge{t: t, reg: reg, addr: ln.Addr().String()}
	reg.URL = "http://" + b.addr
	t.Cleanup(b.stop)
	return b
}

// start runs a new bridge process talking to the homeserver at hsURL.
func (b *stoppableBridge) start(hsURL, domain string) *appservice.AppService {
	b.t.Helper()
	as := appservice.Create()
	as.Registration = b.reg
	as.HomeserverDomain = domain
	if err := as.SetHomeserverURL(hsURL); err != nil {
		b.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("restarting the bridge on %s: %v", b.addr, err)
	}
	txns := map[string]int{}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if txn, ok := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/transactions/"); ok && r.Method == http.MethodPut {
			b.mu.Lock()
			txns[txn]++
			b.mu.Unlock()
		}
		as.Router.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	b.mu.Lock()
	b.as, b.srv, b.txns = as, srv, txns
	b.mu.Unlock()
	return as
}

func (b *stoppableBridge) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

// repeatedTxns lists the transactions this process was pushed twice.
func (b *stoppableBridge) repeatedTxns() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for txn, n := range b.txns {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s×%d", txn, n))
		}
	}
	return out
}

// messages reads the bodies of the m.room.message events of room from as
// until it has n, noting when the first arrived; it fails after deadline.
func messages(t *testing.T, as *appservice.AppService, room id.RoomID, n int, deadline time.Duration) ([]string, time.Time) {
	t.Helper()
	var got []string
	var first time.Time
	timeout := time.After(deadline)
	for len(got) < n {
		select {
		case ev := <-as.Events:
			if ev.RoomID != room || ev.Type != event.EventMessage {
				continue
			}
			if first.IsZero() {
				first = time.Now()
			}
			got = append(got, ev.Content.Raw["body"].(string))
		case <-timeout:
			t.Fatalf("the bridge got %d of %d messages: %v", len(got), n, got)
		}
	}
	return got, first
}

// TestAppServiceOutage (issue 19): a bridge is down for a minute while 200
// messages are sent into its room; a second bridge gets each of its own
// messages meanwhile within a few seconds; when the first comes back (a new
// process) it gets all 200 within seconds, each once, in order, in
// transactions it is pushed once each.
func TestAppServiceOutage(t *testing.T) {
	t.Parallel()
	regA, _ := fakeNetRegistration(t)
	a := newStoppableBridge(t, regA)
	regB := otherNetRegistration("othernet")
	b := newBridgeEndpoint(t, regB)
	srv, cfg := startWithBridges(t, regA, regB)
	domain := cfg.Global.ServerName
	asA := a.start(srv.ClientURL(), domain)
	b.as.HomeserverDomain = domain
	if err := b.as.SetHomeserverURL(srv.ClientURL()); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bob := register(t, srv, "bob", "bob-password")
	roomA, roomB := publicRoom(t, bob), publicRoom(t, bob)
	if err := asA.Intent(id.NewUserID("_fakenet_alice", domain)).EnsureJoined(c, roomA); err != nil {
		t.Fatal(err)
	}
	if err := b.as.Intent(id.NewUserID("_othernet_carl", domain)).EnsureJoined(c, roomB); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SendText(c, roomA, "before"); err != nil {
		t.Fatal(err)
	}
	messages(t, asA, roomA, 1, 10*time.Second)

	const outage, n, healthyBound = time.Minute, 200, 5 * time.Second
	a.stop()
	down := time.Now()
	want := sendDuringOutage(c, t, bob, roomA, roomB, b.as, n, outage-10*time.Second, healthyBound)
	time.Sleep(time.Until(down.Add(outage)))
	up := time.Now()
	asA = a.start(srv.ClientURL(), domain)
	got, first := messages(t, asA, roomA, n, time.Minute)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after the outage the bridge got %v, want %v", got, want)
	}
	// The backoff is capped at a few seconds: delivery resumes promptly.
	if wait := first.Sub(up); wait > 10*time.Second {
		t.Errorf("the first message reached the restarted bridge %s after it came up", wait)
	}
	t.Logf("the restarted bridge got its first message after %s, all %d after %s",
		first.Sub(up).Round(time.Millisecond), n, time.Since(up).Round(time.Millisecond))
	// Nothing more comes: no message twice, not even the one before.
	select {
	case ev := <-asA.Events:
		if ev.Type == event.EventMessage {
			t.Fatalf("a message delivered again: %v", ev.Content.Raw)
		}
	case <-time.After(3 * time.Second):
	}
	if rep := a.repeatedTxns(); len(rep) > 0 {
		t.Fatalf("transactions pushed more than once to the restarted bridge: %v", rep)
	}
}

// sendDuringOutage sends n messages into roomA over span and, after every
// tenth, one into roomB, whose bridge (healthy) must get each within bound.
// It returns the bodies sent into roomA.
func sendDuringOutage(c context.Context, t *testing.T, bob *mautrix.Client, roomA, roomB id.RoomID,
	healthy *appservice.AppService, n int, span, bound time.Duration,
) []string {
	t.Helper()
	var want []string
	var worst time.Duration
	for i := range n {
		body := fmt.Sprintf("message %d", i)
		want = append(want, body)
		if _, err := bob.SendText(c, roomA, body); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			sent := time.Now()
			if _, err := bob.SendText(c, roomB, "healthy "+body); err != nil {
				t.Fatal(err)
			}
			got, at := messages(t, healthy, roomB, 1, bound)
			if got[0] != "healthy "+body {
				t.Fatalf("the healthy bridge got %q, want %q", got[0], "healthy "+body)
			}
			worst = max(worst, at.Sub(sent))
		}
		time.Sleep(span / time.Duration(n))
	}
	t.Logf("the healthy bridge got each message within %s while the other was down", worst.Round(time.Millisecond))
	return want
}

// TestAppServiceToDeviceAndPresence: a bridge with receive_ephemeral and
// io.element.msc4190 creates a device for its puppet without logging in;
// a to-device message for that device reaches the bridge in a transaction
// (MSC4203) and is then gone from the device's inbox, and the presence of
// a user sharing a room with the puppet reaches it as m.presence.
func TestAppServiceToDeviceAndPresence(t *testing.T) {
	t.Parallel()
	reg, _ := fakeNetRegistration(t)
	reg.EphemeralEvents, reg.MSC4190 = true, true
	br := newBridgeEndpoint(t, reg)
	srv, cfg := startWithBridges(t, reg)
	br.as.HomeserverDomain = cfg.Global.ServerName
	if err := br.as.SetHomeserverURL(srv.ClientURL()); err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	puppet := br.as.Intent(id.NewUserID("_fakenet_alice", cfg.Global.ServerName))
	if err := puppet.EnsureRegistered(c); err != nil {
		t.Fatal(err)
	}
	if err := puppet.CreateDeviceMSC4190(c, "FAKENETDEV", "fakenet bridge"); err != nil {
		t.Fatalf("creating the puppet's device: %v", err)
	}
	_, err := puppet.Login(c, &mautrix.ReqLogin{Type: mautrix.AuthTypeAppservice,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: puppet.UserID.String()}})
	wantMatrixError(t, err, http.StatusBadRequest, "M_APPSERVICE_LOGIN_UNSUPPORTED")
	bob := register(t, srv, "bob", "bob-password")
	room := publicRoom(t, bob)
	if err := puppet.EnsureJoined(c, room); err != nil {
		t.Fatal(err)
	}

	ping := event.Type{Type: "im.myelin.test.ping", Class: event.ToDeviceEventType}
	if _, err := bob.SendToDevice(c, ping, &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
		puppet.UserID: {"FAKENETDEV": {Raw: map[string]any{"n": 1}}},
	}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-br.as.ToDeviceEvents:
		if ev.ToUserID != puppet.UserID || ev.ToDeviceID != "FAKENETDEV" || ev.Sender != bob.UserID || ev.Content.Raw["n"] != 1.0 {
			t.Fatalf("to-device event %+v (content %v), want bob's ping to the puppet's device", ev, ev.Content.Raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no to-device message reached the bridge")
	}
	// Delivered to the bridge, the message is gone from the device's inbox.
	waitFor(t, "the delivered message to leave the inbox", func() bool {
		sync, err := puppet.FullSyncRequest(c, mautrix.ReqSync{Timeout: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(sync.ToDevice.Events) == 0 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})

	if err := bob.SetPresence(c, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "bridging"}); err != nil {
		t.Fatal(err)
	}
	wantPresence(t, br.as, bob.UserID, "bridging")
}

// wantPresence waits for an m.presence event of user with status msg.
func wantPresence(t *testing.T, as *appservice.AppService, user id.UserID, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-as.Events:
			if ev.Type != event.EphemeralEventPresence || ev.Sender != user {
				continue
			}
			if ev.Content.Raw["presence"] != "online" || ev.Content.Raw["status_msg"] != msg {
				t.Fatalf("m.presence of %s = %v", user, ev.Content.Raw)
			}
			return
		case <-timeout:
			t.Fatalf("no presence of %s reached the bridge", user)
		}
	}
}
