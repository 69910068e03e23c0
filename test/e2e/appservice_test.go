package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
func fakeNetRegistration(t *testing.T) (*appservice.Registration, string) {
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
