package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// TestFederationInviteRefused: two refuses an invite of alice's to a user
// it does not have; alice's client gets two's own error (403 M_FORBIDDEN,
// two's message, naming two), not a re-labelled 403 with the body's bytes,
// and the room holds no invite. An invite two accepts still goes through.
func TestFederationInviteRefused(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: "@nobody:two.test"})
	msg := wantRemoteError(t, err, http.StatusForbidden, "M_FORBIDDEN")
	if !strings.Contains(msg, "two.test") || !strings.Contains(msg, "no such user") {
		t.Fatalf("the client reads %q: want two's own words, naming two", msg)
	}
	wantNoMember(t, alice, room.RoomID, "@nobody:two.test")
	if _, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
		t.Fatalf("inviting bob after the refusal: %v", err)
	}
}

// TestFederationJoinRefused: one refuses bob's join of an invite-only
// room; bob's client gets one's own refusal (403 M_FORBIDDEN, naming one),
// passed through as the spec asks of make_join errors. Once invited, the
// same join goes through.
func TestFederationJoinRefused(t *testing.T) {
	_, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}})
	if msg := wantRemoteError(t, err, http.StatusForbidden, "M_FORBIDDEN"); !strings.Contains(msg, "one.test") {
		t.Fatalf("bob reads %q: want one's own refusal, naming one", msg)
	}
	if _, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatalf("joining once invited: %v", err)
	}
}

// TestFederationInviteStandIn: the invitee's server answers the spec's
// 400 to PUT /_matrix/federation/v2/invite. M_INCOMPATIBLE_ROOM_VERSION
// (with room_version) is passed through to the inviting client; for
// M_INVALID_PARAM the client's request fails with a 5xx (spec: invites-v2,
// the 400 response).
//
// The invitee's server is a stand-in, not a Myelin: no Myelin answers
// these (it supports every stable room version, and its own requests carry
// every parameter). Dendrite, which answers M_INCOMPATIBLE_ROOM_VERSION to
// an invite to a room of version 12 (which it does not know), is where
// this was seen, but it cannot run in the test suite. The stand-in speaks
// the wire format of a real server: HTTPS with a certificate of its name,
// the request's X-Matrix signature checked with the inviting server's
// published key, the spec's error body.
func TestFederationInviteStandIn(t *testing.T) {
	ca := newTestCA(t)
	standIn := startStandIn(t, ca, "standin.test")
	f := startFederationBeside(t, ca, map[string]string{"standin.test": standIn.addr},
		func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test")
	standIn.origin.Store(f)
	alice := register(t, f.servers["one.test"], "alice", "long enough")
	c := ctx(t)
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	const dana = "@dana:standin.test"
	tests := []struct {
		name    string
		errcode string
		message string
		status  int // what alice's client sees
	}{
		{"incompatible room version", "M_INCOMPATIBLE_ROOM_VERSION",
			"Your homeserver does not support the features required to join this room", http.StatusBadRequest},
		{"invalid param", "M_INVALID_PARAM", "The invite event is not valid", http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			standIn.refuseWith(tc.errcode, tc.message)
			_, err := alice.InviteUser(c, room.RoomID, &mautrix.ReqInviteUser{UserID: dana})
			got := standIn.lastInvite()
			if got.Invitee != dana || got.RoomVersion != "12" {
				t.Fatalf("the stand-in got no signed invite of dana to a version 12 room: %+v", got)
			}
			if tc.status < 500 {
				msg := wantRemoteError(t, err, tc.status, tc.errcode)
				if !strings.Contains(msg, tc.message) || !strings.Contains(msg, "standin.test") {
					t.Fatalf("the client reads %q", msg)
				}
				var he mautrix.HTTPError
				_ = errors.As(err, &he)
				if v := he.RespError.ExtraData["room_version"]; v != got.RoomVersion {
					t.Fatalf("room_version %v, want %s (the stand-in's)", v, got.RoomVersion)
				}
			} else {
				wantRemoteError(t, err, tc.status, "M_UNKNOWN")
			}
			wantNoMember(t, alice, room.RoomID, dana)
		})
	}
}

// wantRemoteError checks that err is a Matrix error with status and
// errcode and returns its message, which must read as words, not bytes.
func wantRemoteError(t *testing.T, err error, status int, errcode string) string {
	t.Helper()
	wantMatrixError(t, err, status, errcode)
	var he mautrix.HTTPError
	_ = errors.As(err, &he)
	msg := he.RespError.Err
	if msg == "" || strings.Contains(msg, "contents=") || strings.Contains(msg, "[123 ") {
		t.Fatalf("the client reads %q", msg)
	}
	return msg
}

// wantNoMember checks that user has no membership in the room.
func wantNoMember(t *testing.T, c *mautrix.Client, room id.RoomID, user string) {
	t.Helper()
	var content map[string]any
	err := c.StateEvent(ctx(t), room, event.StateMember, user, &content)
	wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
}

// standIn is another implementation's federation listener, as much of it
// as an invite needs: PUT /_matrix/federation/v2/invite, refused with the
// error it is told. Tests that need more of it add routes to mux.
type standIn struct {
	name   string
	addr   string
	origin atomic.Pointer[federation] // the servers asking, for their keys
	mux    *http.ServeMux

	mu      sync.Mutex
	errcode string
	message string
	last    receivedInvite
	media   []string // the media requests asked, in order (serveMedia)
}

// receivedInvite is what the stand-in read of the last invite.
type receivedInvite struct {
	Invitee     string
	RoomVersion string
}

// startStandIn serves the stand-in for name over HTTPS, with a certificate
// from ca, until the test ends.
func startStandIn(t *testing.T, ca *testCA, name string) *standIn {
	t.Helper()
	certPath, keyPath := ca.issue(t, name)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &standIn{name: name, mux: http.NewServeMux()}
	s.mux.HandleFunc("PUT /_matrix/federation/v2/invite/{roomId}/{eventId}", s.invite)
	srv := httptest.NewUnstartedServer(s.mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.addr = srv.Listener.Addr().String()
	return s
}

// refuseWith sets the 400 error the next invites get.
func (s *standIn) refuseWith(errcode, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errcode, s.message, s.last = errcode, message, receivedInvite{}
}

func (s *standIn) lastInvite() receivedInvite {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// invite answers PUT /_matrix/federation/v2/invite/{roomId}/{eventId}: a
// request signed by its origin, with the spec's body (room_version, event,
// invite_room_state), gets the spec's 400 (errcode, error, and
// room_version for M_INCOMPATIBLE_ROOM_VERSION).
func (s *standIn) invite(w http.ResponseWriter, r *http.Request) {
	fr := s.signed(w, r)
	if fr == nil {
		return
	}
	var req struct {
		RoomVersion     string            `json:"room_version"`
		Event           json.RawMessage   `json:"event"`
		InviteRoomState []json.RawMessage `json:"invite_room_state"`
	}
	var ev struct {
		Type     string `json:"type"`
		StateKey string `json:"state_key"`
	}
	if json.Unmarshal(fr.Content(), &req) != nil || req.RoomVersion == "" || json.Unmarshal(req.Event, &ev) != nil ||
		ev.Type != "m.room.member" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errcode": "M_BAD_JSON", "error": "not an invite"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = receivedInvite{Invitee: ev.StateKey, RoomVersion: req.RoomVersion}
	body := map[string]string{"errcode": s.errcode, "error": s.message}
	if s.errcode == "M_INCOMPATIBLE_ROOM_VERSION" {
		body["room_version"] = req.RoomVersion
	}
	writeJSON(w, http.StatusBadRequest, body)
}

// signed checks r's X-Matrix signature with its origin's published key,
// answering the spec's 401 (and returning nil) when it fails.
func (s *standIn) signed(w http.ResponseWriter, r *http.Request) *fclient.FederationRequest {
	fr, refused := fclient.VerifyHTTPRequest(r, time.Now(), spec.ServerName(s.name), nil, publishedKeys{s})
	if fr == nil {
		writeJSON(w, refused.Code, refused.JSON)
	}
	return fr
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// publishedKeys checks signatures with the keys the signing server
// publishes at /_matrix/key/v2/server, fetched as a real server would.
type publishedKeys struct{ s *standIn }

// VerifyJSONs implements gomatrixserverlib.JSONVerifier.
func (p publishedKeys) VerifyJSONs(
	ctx context.Context,
	reqs []gomatrixserverlib.VerifyJSONRequest,
) ([]gomatrixserverlib.VerifyJSONResult, error) {
	out := make([]gomatrixserverlib.VerifyJSONResult, len(reqs))
	for i, r := range reqs {
		keys, err := p.fetch(ctx, r.ServerName)
		if err != nil {
			out[i].Error = err
			continue
		}
		out[i].Error = fmt.Errorf("no key of %s verifies", r.ServerName)
		for keyID, k := range keys.VerifyKeys {
			if gomatrixserverlib.VerifyJSON(string(r.ServerName), keyID, ed25519.PublicKey(k.Key), r.Message) == nil {
				out[i].Error = nil
			}
		}
	}
	return out, nil
}

// fetch gets server's key answer from its listener.
func (p publishedKeys) fetch(ctx context.Context, server spec.ServerName) (gomatrixserverlib.ServerKeys, error) {
	var keys gomatrixserverlib.ServerKeys
	f := p.s.origin.Load()
	if f == nil || f.servers[string(server)] == nil {
		return keys, fmt.Errorf("%s is not known here", server)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+string(server)+"/_matrix/key/v2/server", nil)
	if err != nil {
		return keys, err
	}
	resp, err := f.https(string(server)).Do(req)
	if err != nil {
		return keys, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return keys, err
	}
	return keys, json.Unmarshal(b, &keys)
}
