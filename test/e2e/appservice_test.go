package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/server"
)

// fakeNetRegistration writes the registration of a bridge to a fake
// network, as mautrix's appservice package writes one, and returns it with
// its path: exclusive over @_fakenet_*, @fakenet_* and #_fakenet_*, no URL
// (it receives nothing in this increment), not rate limited.
func fakeNetRegistration(t testing.TB) (*appservice.Registration, string) {
	t.Helper()
	reg := appservice.CreateRegistration()
	reg.ID = "fakenet"
	reg.SenderLocalpart = "fakenetbot"
	no := false
	reg.RateLimited = &no
	reg.Namespaces.UserIDs.Register(regexp.MustCompile(`@_fakenet_.*`), true)
	reg.Namespaces.UserIDs.Register(regexp.MustCompile(`@fakenet_.*`), true)
	reg.Namespaces.RoomAliases.Register(regexp.MustCompile(`#_fakenet_.*`), true)
	path := filepath.Join(t.TempDir(), "fakenet.yaml")
	if err := reg.Save(path); err != nil {
		t.Fatal(err)
	}
	return reg, path
}

// otherNetRegistration is a second bridge's registration, with its own
// exclusive user namespace (@_<name>_.*).
func otherNetRegistration(name string) *appservice.Registration {
	reg := appservice.CreateRegistration()
	reg.ID, reg.SenderLocalpart = name, name+"bot"
	reg.Namespaces.UserIDs.Register(regexp.MustCompile(`@_`+name+`_.*`), true)
	return reg
}

// startWithBridges starts a server with these registrations, saved as
// files the configuration names (as an operator would), and returns it
// with its configuration.
func startWithBridges(t *testing.T, regs ...*appservice.Registration) (*server.Server, *config.Config) {
	t.Helper()
	cfg := testConfig(t, "")
	dir := t.TempDir()
	for i, reg := range regs {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := reg.Save(path); err != nil {
			t.Fatal(err)
		}
		cfg.AppServices.RegistrationFiles = append(cfg.AppServices.RegistrationFiles, path)
	}
	return startServer(t, cfg), cfg
}

// TestAppServiceBridgeUsers: a registered bridge registers a puppet in its
// namespace with m.login.application_service, sends as it with ?user_id=
// and ?ts=, and keeps its namespace from ordinary registrations.
func TestAppServiceBridgeUsers(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		reg, path := fakeNetRegistration(t)
		cfg := testConfig(t, dbURL)
		cfg.AppServices.RegistrationFiles = []string{path}
		srv := startServer(t, cfg)
		c := ctx(t)

		bridge, err := mautrix.NewClient(srv.ClientURL(), "", reg.AppToken)
		if err != nil {
			t.Fatal(err)
		}
		who, err := bridge.Whoami(c)
		if err != nil || who.UserID != id.NewUserID("fakenetbot", cfg.Global.ServerName) {
			t.Fatalf("the as_token acts as %v (%v), want the sender, created at start", who, err)
		}
		resp, _, err := bridge.Register(c, &mautrix.ReqRegister[any]{
			Type: mautrix.AuthTypeAppservice, Username: "_fakenet_alice", InhibitLogin: true,
		})
		if err != nil {
			t.Fatalf("registering a puppet: %v", err)
		}
		puppet, err := mautrix.NewClient(srv.ClientURL(), resp.UserID, reg.AppToken)
		if err != nil {
			t.Fatal(err)
		}
		puppet.SetAppServiceUserID = true

		bob := register(t, srv, "bob", "bob-password")
		room := publicRoom(t, bob, puppet)
		const ts = int64(1_600_000_000_000) // the time the message was sent on the fake network
		sent, err := puppet.SendMessageEvent(c, room, event.EventMessage,
			map[string]any{"msgtype": "m.text", "body": "from the fake network"}, mautrix.ReqSendEvent{Timestamp: ts})
		if err != nil {
			t.Fatalf("sending as the puppet: %v", err)
		}
		ev, err := bob.GetEvent(c, room, sent.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Sender != resp.UserID || ev.Timestamp != ts {
			t.Fatalf("event from %s at %d, want %s at %d", ev.Sender, ev.Timestamp, resp.UserID, ts)
		}

		// The puppet syncs (spec: services use /sync as a virtual user).
		sync, err := puppet.FullSyncRequest(c, mautrix.ReqSync{Timeout: 0})
		if err != nil {
			t.Fatalf("syncing as the puppet: %v", err)
		}
		if _, ok := sync.Rooms.Join[room]; !ok {
			t.Fatalf("the puppet's sync has no %s", room)
		}

		// Outside its namespaces the bridge may not act or register.
		stranger, _ := mautrix.NewClient(srv.ClientURL(), bob.UserID, reg.AppToken)
		stranger.SetAppServiceUserID = true
		_, err = stranger.Whoami(c)
		wantMatrixError(t, err, http.StatusForbidden, "M_EXCLUSIVE")
		_, _, err = bridge.Register(c, &mautrix.ReqRegister[any]{Type: mautrix.AuthTypeAppservice, Username: "carol", InhibitLogin: true})
		wantMatrixError(t, err, http.StatusBadRequest, "M_EXCLUSIVE")

		// An ordinary registration inside the exclusive namespace is refused.
		_, err = newClient(t, srv).RegisterDummy(c, &mautrix.ReqRegister[any]{Username: "fakenet_dave", Password: "dave-password"})
		wantMatrixError(t, err, http.StatusBadRequest, "M_EXCLUSIVE")
	})
}

// TestAppServiceBadRegistrationsStopTheServer: bad registration files,
// given with the repeatable --appservice flag, stop the server at start with
// every problem of every file listed.
func TestAppServiceBadRegistrationsStopTheServer(t *testing.T) {
	_, good := fakeNetRegistration(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	body := "id: other\nas_token: a\nhs_token: h\nsender_localpart: otherbot\nnamespaces:\n  users:\n" +
		"    - exclusive: true\n      regex: '@_fakenet_bridge_.*'\n    - exclusive: true\n      regex: '@_x_[('\n"
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenless := filepath.Join(dir, "tokenless.yaml")
	if err := os.WriteFile(tokenless, []byte("id: third\nsender_localpart: thirdbot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"--data-dir", t.TempDir(), "--database", "",
		"--appservice", good, "--appservice", bad, "--appservice", tokenless}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(context.Background(), cfg, quietLogger())
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("server.New = %v, want the list of problems", err)
	}
	for _, want := range []string{
		bad + `: exclusive users namespace "@_fakenet_bridge_.*" overlaps`,
		bad + `: namespaces.users[1].regex "@_x_[(" is not a valid regular expression`,
		tokenless + ": as_token is missing",
		tokenless + ": hs_token is missing",
	} {
		if !strings.Contains(errs.Error(), want) {
			t.Errorf("no %q in:\n%s", want, errs)
		}
	}
	if len(errs.Problems) != 4 {
		t.Errorf("%d problems, want 4:\n%s", len(errs.Problems), errs)
	}
}

// fakeNet is a bridge to a fake chat network, built on mautrix's
// appservice package: asked about #_fakenet_<channel>, it opens a portal
// room for the channel under that alias.
type fakeNet struct {
	t  *testing.T
	as *appservice.AppService
}

func (n *fakeNet) QueryAlias(alias id.RoomAlias) bool {
	local, _, _ := strings.Cut(strings.TrimPrefix(alias.String(), "#"), ":")
	channel, ok := strings.CutPrefix(local, "_fakenet_")
	if !ok || channel == "secret" {
		return false
	}
	_, err := n.as.BotIntent().CreateRoom(context.Background(), &mautrix.ReqCreateRoom{
		Preset: "public_chat", Name: "fakenet " + channel, RoomAliasName: local,
	})
	if err != nil {
		n.t.Errorf("opening the portal of %s: %v", channel, err)
		return false
	}
	return true
}

func (n *fakeNet) QueryUser(id.UserID) bool { return false }

// TestAppServicePortalByAlias: a user joining #_fakenet_lobby, which does
// not exist yet, makes Myelin ask the bridge, which opens the portal room;
// the user is then in it, and the bridge's puppet talks there.
func TestAppServicePortalByAlias(t *testing.T) {
	reg, _ := fakeNetRegistration(t)
	as := appservice.Create()
	bridgeHTTP := httptest.NewServer(as.Router)
	t.Cleanup(bridgeHTTP.Close)
	reg.URL = bridgeHTTP.URL
	path := filepath.Join(t.TempDir(), "fakenet.yaml")
	if err := reg.Save(path); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "")
	cfg.AppServices.RegistrationFiles = []string{path}
	srv := startServer(t, cfg)
	as.Registration = reg
	as.HomeserverDomain = cfg.Global.ServerName
	if err := as.SetHomeserverURL(srv.ClientURL()); err != nil {
		t.Fatal(err)
	}
	as.QueryHandler = &fakeNet{t: t, as: as}
	c := ctx(t)

	if _, err := as.BotClient().AppservicePing(c, reg.ID, "ping-1"); err != nil {
		t.Fatalf("ping through Myelin: %v", err)
	}
	bob := register(t, srv, "bob", "bob-password")
	lobby := id.NewRoomAlias("_fakenet_lobby", cfg.Global.ServerName)
	joined, err := bob.JoinRoom(c, lobby.String(), nil)
	if err != nil {
		t.Fatalf("joining %s: %v", lobby, err)
	}
	puppet := as.Intent(id.NewUserID("_fakenet_alice", cfg.Global.ServerName))
	if err := puppet.EnsureJoined(c, joined.RoomID); err != nil {
		t.Fatalf("puppet joining the portal: %v", err)
	}
	sent, err := puppet.SendText(c, joined.RoomID, "hello from the fake network")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := bob.GetEvent(c, joined.RoomID, sent.EventID)
	if err != nil || ev.Sender != puppet.UserID {
		t.Fatalf("bob reads %v (%v), want a message from %s", ev, err, puppet.UserID)
	}
	_, err = bob.JoinRoom(c, id.NewRoomAlias("_fakenet_secret", cfg.Global.ServerName).String(), nil)
	wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
}

// bridgeEndpoint serves a mautrix appservice's router on loopback, or 503
// while down is set: a bridge that is down.
type bridgeEndpoint struct {
	as      *appservice.AppService
	down    atomic.Bool
	refused atomic.Int32 // requests answered 503
	srv     *httptest.Server
}

func newBridgeEndpoint(t testing.TB, reg *appservice.Registration) *bridgeEndpoint {
	t.Helper()
	b := &bridgeEndpoint{as: appservice.Create()}
	b.as.Registration = reg
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.down.Load() {
			b.refused.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b.as.Router.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	reg.URL = b.srv.URL
	return b
}

// receive collects the bodies of m.room.message events the bridge gets in
// roomID until it has n of them or the deadline passes.
func (b *bridgeEndpoint) receive(t *testing.T, roomID id.RoomID, n int, deadline time.Duration) []string {
	t.Helper()
	var got []string
	timeout := time.After(deadline)
	for len(got) < n {
		select {
		case ev := <-b.as.Events:
			if ev.RoomID == roomID && ev.Type == event.EventMessage {
				got = append(got, ev.Content.Raw["body"].(string))
			}
		case <-timeout:
			t.Fatalf("the bridge got %d of %d messages", len(got), n)
		}
	}
	return got
}

// TestAppServiceTransactions: two bridges get the messages of the rooms
// their puppets are in, pushed by Myelin; while one is down the other gets
// its messages at once, and once it is back the first gets every message
// it missed, once, in order.
func TestAppServiceTransactions(t *testing.T) {
	regA, _ := fakeNetRegistration(t)
	regA.EphemeralEvents = true // receive_ephemeral: read receipts too
	a := newBridgeEndpoint(t, regA)
	regB := otherNetRegistration("othernet")
	b := newBridgeEndpoint(t, regB)
	srv, cfg := startWithBridges(t, regA, regB)
	for _, br := range []*bridgeEndpoint{a, b} {
		br.as.HomeserverDomain = cfg.Global.ServerName
		if err := br.as.SetHomeserverURL(srv.ClientURL()); err != nil {
			t.Fatal(err)
		}
	}
	c := ctx(t)
	bob := register(t, srv, "bob", "bob-password")
	roomA := publicRoom(t, bob)
	roomB := publicRoom(t, bob)
	if err := a.as.Intent(id.NewUserID("_fakenet_alice", cfg.Global.ServerName)).EnsureJoined(c, roomA); err != nil {
		t.Fatal(err)
	}
	if err := b.as.Intent(id.NewUserID("_othernet_carl", cfg.Global.ServerName)).EnsureJoined(c, roomB); err != nil {
		t.Fatal(err)
	}

	a.down.Store(true)
	const n = 20
	var want []string
	var last id.EventID
	for i := range n {
		body := fmt.Sprintf("message %d", i)
		want = append(want, body)
		sent, err := bob.SendText(c, roomA, body)
		if err != nil {
			t.Fatal(err)
		}
		last = sent.EventID
	}
	if _, err := bob.SendText(c, roomB, "to the healthy bridge"); err != nil {
		t.Fatal(err)
	}
	if got := b.receive(t, roomB, 1, 5*time.Second); got[0] != "to the healthy bridge" {
		t.Fatalf("the healthy bridge got %v", got)
	}
	waitFor(t, "a push to the bridge that is down", func() bool {
		if a.refused.Load() > 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
		return false
	})
	a.down.Store(false)
	got := a.receive(t, roomA, n, 20*time.Second)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("the bridge that was down got %v, want %v", got, want)
	}
	// bob's read receipt reaches the bridge as an ephemeral event; nothing
	// arrives twice meanwhile.
	if err := bob.SendReceipt(c, roomA, last, event.ReceiptTypeRead, nil); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-a.as.Events:
			if ev.Type == event.EventMessage {
				t.Fatalf("a message delivered twice: %v", ev.Content.Raw)
			}
			if ev.Type == event.EphemeralEventReceipt && ev.RoomID == roomA {
				if _, ok := ev.Content.Raw[last.String()]; !ok {
					t.Fatalf("receipt for another event: %v", ev.Content.Raw)
				}
				wantTyping(t, a, bob, roomA)
				return
			}
		case <-timeout:
			t.Fatal("no read receipt reached the bridge")
		}
	}
}

// wantTyping has bob start typing in room and waits for the bridge to get
// the room's m.typing naming him.
func wantTyping(t *testing.T, a *bridgeEndpoint, bob *mautrix.Client, room id.RoomID) {
	t.Helper()
	if _, err := bob.UserTyping(ctx(t), room, true, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-a.as.Events:
			if ev.Type != event.EphemeralEventTyping || ev.RoomID != room {
				continue
			}
			users, _ := ev.Content.Raw["user_ids"].([]any)
			if len(users) == 1 && users[0] == bob.UserID.String() {
				return
			}
			t.Fatalf("m.typing = %v, want bob", ev.Content.Raw)
		case <-timeout:
			t.Fatal("no typing reached the bridge")
		}
	}
}
