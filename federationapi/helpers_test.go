package federationapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/federationapi"
	"github.com/myelin-im/myelin/federationapi/storage"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// fed is the federation component built with its constructor on a
// fixture (test.local), its router serving the fixture's requests as the
// federation listener does, and remote.test, another server whose key it
// holds in its key store as if fetched. remote.test's address is a closed
// port (newFed) or a listener that answers what a test tells it
// (newFedAnswering); stranger.test's is a closed port, so fetching its
// keys fails at once.
type fed struct {
	*fixture.Fixture
	api    *federationapi.FederationAPI
	remote *fixture.Server
}

// stranger is a server whose key the component does not have and cannot
// fetch.
const stranger = "stranger.test"

func newFed(t *testing.T) *fed {
	t.Helper()
	return newFedWith(t, closedPort(t), "")
}

// newFedWith is newFed with remote.test at remoteAddr, whose certificate
// is trusted when caFile is its PEM file.
func newFedWith(t *testing.T, remoteAddr, caFile string) *fed {
	t.Helper()
	f := fixture.New(t)
	cfg := f.Config.FederationAPI
	cfg.Hosts = map[string]string{"remote.test": remoteAddr, stranger: closedPort(t)}
	cfg.TLSCA = caFile
	api := f.Federation(t, cfg)
	f.Router = api.Router()
	remote := fixture.NewServer(t, "remote.test")
	knowKey(t, f, remote)
	return &fed{Fixture: f, api: api, remote: remote}
}

// answering is remote.test's listener in newFedAnswering: HTTPS with a
// certificate of its name, answering every request with what it is told.
type answering struct {
	mu     sync.Mutex
	status int
	body   string
	paths  []string // the paths asked for, in order
}

// newFedAnswering is newFed with remote.test answering.
func newFedAnswering(t *testing.T) (*fed, *answering) {
	t.Helper()
	a := &answering{status: http.StatusOK, body: "{}"}
	addr, certPath := serveHTTPS(t, "remote.test", http.HandlerFunc(a.serve))
	return newFedWith(t, addr, certPath), a
}

// serveHTTPS serves h over HTTPS on loopback, with a self-signed
// certificate of name, until the test ends; it returns the address and
// the certificate's file (to trust as its own CA).
func serveHTTPS(t *testing.T, name string, h http.Handler) (addr, certPath string) {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := federationapi.IssueCertificate(certPath, keyPath, name, time.Hour, nil, nil); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), certPath
}

// answer sets what the next requests get.
func (a *answering) answer(status int, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.body, a.paths = status, body, nil
}

// asked is the paths asked for since the last answer.
func (a *answering) asked() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.paths)
}

func (a *answering) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paths = append(a.paths, r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

// knowKey puts s's key in the component's key store (valid for an hour),
// where a key fetched from s would be.
func knowKey(t *testing.T, f *fixture.Fixture, s *fixture.Server) {
	t.Helper()
	storeKey(t, f, string(s.Name), string(s.KeyID), s.Public())
}

// storeKey puts server's key keyID in f's key store (valid for an hour).
func storeKey(t *testing.T, f *fixture.Fixture, server, keyID string, public ed25519.PublicKey) {
	t.Helper()
	ctx := context.Background()
	store, err := storage.New(ctx, f.DB)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.StoreServerKeys(ctx, []storage.ServerKey{{
		ServerName:   server,
		KeyID:        keyID,
		PublicKey:    base64.RawStdEncoding.EncodeToString(public),
		ValidUntilTS: time.Now().Add(time.Hour).UnixMilli(),
	}}); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// esc escapes an ID for a path.
func esc(id string) string { return url.PathEscape(id) }

// publicRoom is a public room of alice's (room version 12).
func (f *fed) publicRoom(t *testing.T, alice *fixture.User) string {
	t.Helper()
	return f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
}

// template is the make_join template for user (of remote.test) and its
// room version.
func (f *fed) template(t *testing.T, roomID, user string) (gomatrixserverlib.RoomVersion, gomatrixserverlib.ProtoEvent) {
	t.Helper()
	res := f.DoSigned(t, f.remote, http.MethodGet, "/_matrix/federation/v1/make_join/"+esc(roomID)+"/"+esc(user)+"?ver=10&ver=12", nil)
	res.Want(t, http.StatusOK)
	var tmpl struct {
		RoomVersion gomatrixserverlib.RoomVersion `json:"room_version"`
		Event       gomatrixserverlib.ProtoEvent  `json:"event"`
	}
	res.Decode(t, &tmpl)
	return tmpl.RoomVersion, tmpl.Event
}

// makeJoin builds user's join from its template, signed by remote.test.
func (f *fed) makeJoin(t *testing.T, roomID, user string) gomatrixserverlib.PDU {
	t.Helper()
	ver, proto := f.template(t, roomID, user)
	return f.remoteEvent(t, ver, &proto)
}

// remoteEvent builds proto as an event of remote.test, signed by it.
func (f *fed) remoteEvent(t *testing.T, ver gomatrixserverlib.RoomVersion, proto *gomatrixserverlib.ProtoEvent) gomatrixserverlib.PDU {
	t.Helper()
	return buildEvent(t, ver, proto, f.remote)
}

// impostorEvent is proto built as remote.test's event, but signed with
// another key under remote.test's key ID.
func impostorEvent(t *testing.T, ver gomatrixserverlib.RoomVersion, proto gomatrixserverlib.ProtoEvent) gomatrixserverlib.PDU {
	t.Helper()
	return buildEvent(t, ver, &proto, fixture.NewServer(t, "remote.test"))
}

// buildEvent builds proto in room version ver, signed by s.
func buildEvent(
	t *testing.T,
	ver gomatrixserverlib.RoomVersion,
	proto *gomatrixserverlib.ProtoEvent,
	s *fixture.Server,
) gomatrixserverlib.PDU {
	t.Helper()
	impl, err := gomatrixserverlib.GetRoomVersion(ver)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := impl.NewEventBuilderFromProtoEvent(proto).Build(time.Now(), s.Name, s.KeyID, s.Private)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// perVersion runs fn for the v2 endpoint and its deprecated v1 twin, each
// with its own user of remote.test.
func perVersion(t *testing.T, fn func(t *testing.T, v, user string)) {
	for _, v := range []string{"v2", "v1"} {
		t.Run(v, func(t *testing.T) { fn(t, v, remoteUser("rita"+v)) })
	}
}

// joinRemote joins user (of remote.test) to roomID through make_join and
// send_join, as remote.test would, and returns the join.
func (f *fed) joinRemote(t *testing.T, roomID, user string) gomatrixserverlib.PDU {
	t.Helper()
	join := f.makeJoin(t, roomID, user)
	f.DoSigned(t, f.remote, http.MethodPut, "/_matrix/federation/v2/send_join/"+esc(roomID)+"/"+esc(join.EventID()),
		json.RawMessage(join.JSON())).Want(t, http.StatusOK)
	return join
}

// wantError checks a Matrix error answer: status, errcode, and the fields
// of extra.
func wantError(t *testing.T, res *fixture.Response, status int, errcode string, extra map[string]any) {
	t.Helper()
	res.Want(t, status, errcode)
	body := res.JSON()
	for k, v := range extra {
		if body[k] != v {
			t.Fatalf("%s = %v, want %v; body %s", k, body[k], v, res.Body)
		}
	}
}

// refusal is a request a table expects refused with status and errcode.
type refusal struct {
	name    string
	method  string
	path    string
	body    any
	status  int
	errcode string
}

// runRefusals sends each request signed by remote.test and checks the
// error it gets.
func (f *fed) runRefusals(t *testing.T, tests []refusal) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			f.DoSigned(t, f.remote, method, tc.path, tc.body).Want(t, tc.status, tc.errcode)
		})
	}
}

// remoteUser is a user of remote.test.
func remoteUser(local string) string { return "@" + local + ":remote.test" }

// serverName is the fixture's server name as a spec.ServerName.
const serverName = spec.ServerName(fixture.ServerName)
