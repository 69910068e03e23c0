// Package e2e starts whole Myelin servers on loopback and drives them with
// maunium.net/go/mautrix, a real third-party Matrix client library, and with
// raw HTTP where the point is the exact bytes on the wire.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/server"
)

// testConfig is a server configuration for tests: loopback on a free port,
// data in a temporary directory, the cheapest bcrypt cost.
func testConfig(t *testing.T, dbURL string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Global.DataDir = t.TempDir()
	cfg.Global.Database.URL = dbURL
	cfg.ClientAPI.ListenAddr = "127.0.0.1:0"
	cfg.FederationAPI.ListenAddr = "127.0.0.1:0"
	cfg.UserAPI.BcryptCost = 4
	cfg.ClientAPI.RegistrationSharedSecret = "test-shared-secret"
	// Tests register many accounts from one address; the login limit stays
	// at its default and is tested.
	cfg.ClientAPI.RateLimits.Registration = config.RateLimit{PerSecond: 100, Burst: 1000}
	if err := cfg.Verify(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// startServer runs a server with cfg until the test ends (or it is stopped).
func startServer(t *testing.T, cfg *config.Config) *server.Server {
	t.Helper()
	return startServerOn(t, cfg, nil)
}

// startServerOn is startServer with the federation listener already open
// (nil: opened from the configuration).
func startServerOn(t *testing.T, cfg *config.Config, fedLn net.Listener) *server.Server {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	log.SetOutput(testWriter{t})
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	if fedLn != nil {
		srv.UseFederationListener(fedLn)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("starting listeners: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Shutdown(context.Background())
		}
	})
	return srv
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// forEachDatabase runs fn against a fresh SQLite and a fresh PostgreSQL database.
func forEachDatabase(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, sqltest.URL(t, d)) })
	}
}

func newClient(t *testing.T, srv *server.Server) *mautrix.Client {
	t.Helper()
	c, err := mautrix.NewClient(srv.ClientURL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// login logs a new device in and returns a client holding its credentials.
func login(t *testing.T, srv *server.Server, user, password string) *mautrix.Client {
	t.Helper()
	c := newClient(t, srv)
	_, err := c.Login(ctx(t), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: user},
		Password:         password,
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// sendTextTxn sends a text message under transaction ID txn, which a test
// can send again to retry it.
func sendTextTxn(ctx context.Context, c *mautrix.Client, roomID id.RoomID, body, txn string) (*mautrix.RespSendEvent, error) {
	content := map[string]any{"msgtype": "m.text", "body": body}
	return c.SendMessageEvent(ctx, roomID, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: txn})
}

// register creates an account with dummy auth and returns its client.
func register(t *testing.T, srv *server.Server, user, password string) *mautrix.Client {
	t.Helper()
	c := newClient(t, srv)
	resp, err := c.RegisterDummy(ctx(t), &mautrix.ReqRegister[any]{Username: user, Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	// What SetCredentials did: its replacement, ReqLogin.StoreCredentials,
	// is for logging in, and registration has no such option.
	c.UserID, c.AccessToken, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
	return c
}

// publicRoom has creator make a public room that each of joiners joins.
func publicRoom(t *testing.T, creator *mautrix.Client, joiners ...*mautrix.Client) id.RoomID {
	t.Helper()
	room, err := creator.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		t.Fatalf("%s creating a room: %v", creator.UserID, err)
	}
	for _, j := range joiners {
		if _, err := j.JoinRoomByID(ctx(t), room.RoomID); err != nil {
			t.Fatalf("%s joining %s: %v", j.UserID, room.RoomID, err)
		}
	}
	return room.RoomID
}

// passwordAuth is the UIA dict for m.login.password.
func passwordAuth(user id.UserID, password, session string) map[string]any {
	return map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": string(user)},
		"password":   password,
		"session":    session,
	}
}

// wantMatrixError checks that err is an HTTP error with status and errcode.
func wantMatrixError(t *testing.T, err error, status int, errcode string) {
	t.Helper()
	var he mautrix.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("want %d %s, got %v", status, errcode, err)
	}
	if he.Response == nil || he.Response.StatusCode != status {
		t.Fatalf("want status %d, got %v", status, err)
	}
	if he.RespError == nil || he.RespError.ErrCode != errcode {
		t.Fatalf("want errcode %s, got %v", errcode, err)
	}
}

// rawResponse is a decoded HTTP response.
type rawResponse struct {
	Status int
	Body   map[string]any
	Header http.Header
}

func (r rawResponse) errcode() string {
	s, _ := r.Body["errcode"].(string)
	return s
}

// do sends a raw request; body may be a string (sent as is), []byte or any
// value (sent as JSON); token, when set, is sent as a Bearer token.
func do(t *testing.T, method, url, token string, body any) rawResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object (status %d): %q", method, url, resp.StatusCode, raw)
		}
	}
	return out
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func quietLogger() *logrus.Logger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return log
}

func drain(r *http.Response) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
}

// benchPost POSTs a JSON string body without a token and decodes the JSON
// reply, failing the benchmark on anything but 200.
func benchPost(b *testing.B, url, body string) map[string]any {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		b.Fatalf("POST %s: %d %v %v", url, resp.StatusCode, out, err)
	}
	return out
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
