package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrix"
	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/server"
)

// testCA is a certificate authority for the federation tests.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string
	pool    *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Myelin test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pemPath: path, pool: pool}
}

// issue writes a certificate and key for name and returns their paths.
func (ca *testCA) issue(t testing.TB, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPath, keyPath
}

// federation is a set of servers on loopback that know each other through
// the discovery override table and trust the same test CA.
type federation struct {
	ca      *testCA
	servers map[string]*server.Server
	configs map[string]*config.Config
}

// restart stops a server and starts it again on the same data, database
// and addresses.
func (f *federation) restart(t *testing.T, name string) {
	t.Helper()
	f.stop(t, name)
	f.servers[name] = startServer(t, f.configs[name])
}

// stop stops a server (no graceful leave: other servers see it go away).
func (f *federation) stop(t *testing.T, name string) {
	t.Helper()
	if err := f.servers[name].Shutdown(context.Background()); err != nil {
		t.Fatalf("stopping %s: %v", name, err)
	}
}

// startFederation starts one server per name, each on its own database.
func startFederation(t *testing.T, dbURL func(t *testing.T) string, names ...string) *federation {
	t.Helper()
	return startFederationBeside(t, newTestCA(t), nil, dbURL, names...)
}

// startFederationBeside is startFederation with certificates from ca and
// other servers, not Myelin, in the override table (name → host:port).
func startFederationBeside(
	t *testing.T,
	ca *testCA,
	others map[string]string,
	dbURL func(t *testing.T) string,
	names ...string,
) *federation {
	t.Helper()
	// Listeners opened first, so every server knows every address and no
	// other process can take a port between choosing and binding it.
	addrs, lns := maps.Clone(others), map[string]net.Listener{}
	if addrs == nil {
		addrs = map[string]string{}
	}
	for _, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[n], addrs[n] = ln, ln.Addr().String()
	}
	f := &federation{ca: ca, servers: map[string]*server.Server{}, configs: map[string]*config.Config{}}
	for _, n := range names {
		cfg := testConfig(t, dbURL(t))
		cfg.Global.ServerName = n
		// The tests send bursts (100 messages at once) and poll; the
		// per-token limit is tested elsewhere.
		cfg.ClientAPI.RateLimits.Requests = config.RateLimit{PerSecond: 1000, Burst: 1000}
		cfg.FederationAPI.ListenAddr = addrs[n]
		cfg.FederationAPI.TLSCert, cfg.FederationAPI.TLSKey = ca.issue(t, n)
		cfg.FederationAPI.TLSCA = ca.pemPath
		cfg.FederationAPI.Hosts = addrs
		if err := cfg.Verify(); err != nil {
			t.Fatal(err)
		}
		f.servers[n] = startServerOn(t, cfg, lns[n])
		f.configs[n] = cfg
	}
	return f
}

// startPair starts one.test and two.test on databases of dialect d and
// registers alice on one and bob on two.
func startPair(t *testing.T, d sqlutil.Dialect) (f *federation, alice, bob *mautrix.Client) {
	t.Helper()
	f = startFederation(t, func(t *testing.T) string { return sqltest.URL(t, d) }, "one.test", "two.test")
	alice = register(t, f.servers["one.test"], "alice", "long enough")
	bob = register(t, f.servers["two.test"], "bob", "long enough")
	return f, alice, bob
}

// signed sends a request from server `from` to server `to`, signed with
// from's key (X-Matrix), straight to to's listener.
func (f *federation) signed(t *testing.T, from, to, method, path string, body any) *http.Response {
	t.Helper()
	fr := fclient.NewFederationRequest(method, spec.ServerName(from), spec.ServerName(to), path)
	if body != nil {
		if err := fr.SetContent(body); err != nil {
			t.Fatal(err)
		}
	}
	key := f.servers[from].SigningKey
	if err := fr.Sign(spec.ServerName(from), gomatrixserverlib.KeyID(key.ID), key.Private); err != nil {
		t.Fatal(err)
	}
	hr, err := fr.HTTPRequest()
	if err != nil {
		t.Fatal(err)
	}
	hr.URL, _ = url.Parse("https://" + to + path)
	resp, err := f.https(to).Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// https is an HTTP client that trusts the test CA and sends requests for
// a server name to its listener.
func (f *federation) https(name string) *http.Client {
	addr := f.servers[name].FederationURL()[len("https://"):]
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: f.ca.pool, ServerName: name},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

// TestFederationFoundation: two servers with their own names, TLS from a
// test CA, found through the override table. Keys are published and
// fetched, requests are signed and verified (bad ones refused with 401), a
// profile and an alias are queried across, the notary serves keys.
func TestFederationFoundation(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, d) }, "one.test", "two.test")
			one, two := f.servers["one.test"], f.servers["two.test"]
			c := ctx(t)

			// Keys: two's answer is signed with the key it lists.
			resp, err := f.https("two.test").Get("https://two.test/_matrix/key/v2/server")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var sk gomatrixserverlib.ServerKeys
			if err := json.Unmarshal(raw, &sk); err != nil || sk.ServerName != "two.test" || len(sk.VerifyKeys) != 1 {
				t.Fatalf("key answer %s: %v", raw, err)
			}
			for id, k := range sk.VerifyKeys {
				if err := gomatrixserverlib.VerifyJSON("two.test", id, ed25519.PublicKey(k.Key), raw); err != nil {
					t.Fatalf("key answer not self-signed: %v", err)
				}
			}

			// A profile across: one signs, two fetches one's key and verifies.
			bob := register(t, two, "bob", "long enough")
			if err := bob.SetDisplayName(c, "Bob of Two"); err != nil {
				t.Fatal(err)
			}
			prof, err := one.Federation.Client.LookupProfile(c, "one.test", "two.test", "@bob:two.test", "displayname")
			if err != nil || prof.DisplayName != "Bob of Two" {
				t.Fatalf("profile across: %+v %v", prof, err)
			}
			_, err = one.Federation.Client.LookupProfile(c, "one.test", "two.test", "@nobody:two.test", "")
			wantHTTP(t, err, http.StatusNotFound)

			// The client API of one answers for two's users through federation.
			alice := register(t, one, "alice", "long enough")
			if err := bob.SetDisplayName(c, "Bob"); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.MakeRequest(c, http.MethodPut, bob.BuildClientURL("v3", "profile", bob.UserID, "im.myelin.signature"),
				map[string]string{"im.myelin.signature": "hello from two"}, nil); err != nil {
				t.Fatal(err)
			}
			var remote map[string]any
			_, err = alice.MakeRequest(c, http.MethodGet, alice.BuildClientURL("v3", "profile", "@bob:two.test"), nil, &remote)
			if err != nil || remote["displayname"] != "Bob" || remote["im.myelin.signature"] != "hello from two" {
				t.Fatalf("remote profile through the client API: %v %v", remote, err)
			}
			if p, err := alice.GetProfile(c, "@bob:two.test"); err != nil || p.DisplayName != "Bob" {
				t.Fatalf("remote profile (mautrix): %+v %v", p, err)
			}
			_, err = alice.GetProfile(c, "@nobody:two.test")
			wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
			// A private address found by discovery is refused: 502.
			_, err = alice.GetProfile(c, "@x:127.0.0.1:1")
			wantMatrixError(t, err, http.StatusBadGateway, "M_UNKNOWN")

			// Bob's devices, as another server sees them.
			var devs struct {
				UserID  string `json:"user_id"`
				Devices []struct {
					DeviceID string `json:"device_id"`
				} `json:"devices"`
			}
			dreq := fclient.NewFederationRequest(http.MethodGet, "one.test", "two.test",
				"/_matrix/federation/v1/user/devices/%40bob%3Atwo.test")
			if err := dreq.Sign("one.test", gomatrixserverlib.KeyID(one.SigningKey.ID), one.SigningKey.Private); err != nil {
				t.Fatal(err)
			}
			dhr, _ := dreq.HTTPRequest()
			if err := one.Federation.Client.DoRequestAndParseResponse(c, dhr, &devs); err != nil || devs.UserID != "@bob:two.test" ||
				len(devs.Devices) != 1 || devs.Devices[0].DeviceID != string(bob.DeviceID) {
				t.Fatalf("user devices: %+v %v", devs, err)
			}

			// An alias across.
			room, err := bob.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: "lobby"})
			if err != nil {
				t.Fatal(err)
			}
			dir, err := one.Federation.Client.LookupRoomAlias(c, "one.test", "two.test", "#lobby:two.test")
			if err != nil || dir.RoomID != room.RoomID.String() || len(dir.Servers) != 1 || dir.Servers[0] != "two.test" {
				t.Fatalf("alias across: %+v %v", dir, err)
			}

			// Requests two must refuse.
			get := func(auth string) (int, string) {
				const profile = "https://two.test/_matrix/federation/v1/query/profile?user_id=%40bob%3Atwo.test"
				req, _ := http.NewRequest(http.MethodGet, profile, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := f.https("two.test").Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = resp.Body.Close() }()
				var e struct {
					ErrCode string `json:"errcode"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&e)
				return resp.StatusCode, e.ErrCode
			}
			signed := func(origin, destination string, key ed25519.PrivateKey, keyID string) string {
				r := fclient.NewFederationRequest(http.MethodGet, spec.ServerName(origin), spec.ServerName(destination),
					"/_matrix/federation/v1/query/profile?user_id=%40bob%3Atwo.test")
				if err := r.Sign(spec.ServerName(origin), gomatrixserverlib.KeyID(keyID), key); err != nil {
					t.Fatal(err)
				}
				hr, _ := r.HTTPRequest()
				return hr.Header.Get("Authorization")
			}
			_, stranger, _ := ed25519.GenerateKey(rand.Reader)
			for name, auth := range map[string]string{
				"no header":          "",
				"not X-Matrix":       "Bearer abc",
				"unknown key":        signed("one.test", "two.test", stranger, "ed25519:nope"),
				"wrong destination":  signed("one.test", "three.test", one.SigningKey.Private, one.SigningKey.ID),
				"forged signature":   signed("one.test", "two.test", stranger, one.SigningKey.ID),
				"unreachable origin": signed("nowhere.test", "two.test", stranger, "ed25519:x"),
			} {
				if code, errcode := get(auth); code != http.StatusUnauthorized || errcode != "M_UNAUTHORIZED" {
					t.Errorf("%s: %d %s, want 401 M_UNAUTHORIZED", name, code, errcode)
				}
			}
			if code, _ := get(signed("one.test", "two.test", one.SigningKey.Private, one.SigningKey.ID)); code != http.StatusOK {
				t.Errorf("a good signature: %d", code)
			}

			// The notary: two serves one's keys (fetched before, to verify
			// one's requests) with its own signature added.
			body, _ := json.Marshal(map[string]any{"server_keys": map[string]any{"one.test": map[string]any{}}})
			resp, err = f.https("two.test").Post("https://two.test/_matrix/key/v2/query", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var notary struct {
				ServerKeys []json.RawMessage `json:"server_keys"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&notary)
			_ = resp.Body.Close()
			if len(notary.ServerKeys) != 1 {
				t.Fatalf("notary answer: %d entries", len(notary.ServerKeys))
			}
			oneKey := one.SigningKey.Private.Public().(ed25519.PublicKey)
			err = gomatrixserverlib.VerifyJSON("one.test", gomatrixserverlib.KeyID(one.SigningKey.ID), oneKey, notary.ServerKeys[0])
			if err != nil {
				t.Errorf("notary answer lost one's signature: %v", err)
			}
			twoKey := two.SigningKey.Private.Public().(ed25519.PublicKey)
			err = gomatrixserverlib.VerifyJSON("two.test", gomatrixserverlib.KeyID(two.SigningKey.ID), twoKey, notary.ServerKeys[0])
			if err != nil {
				t.Errorf("notary answer not signed by two: %v", err)
			}

			// Bad input in signed requests: Matrix errors with 4xx, never 500.
			escRoom := url.PathEscape(room.RoomID.String())
			for _, bad := range []struct {
				method, path string
				body         any
				status       int
				errcode      string
			}{
				{"GET", "/_matrix/federation/v1/make_join/" + escRoom + "/nobody", nil, 400, "M_BAD_JSON"},
				{"GET", "/_matrix/federation/v1/make_join/" + escRoom + "/%40eve%3Athree.test", nil, 403, "M_FORBIDDEN"},
				{"GET", "/_matrix/federation/v1/make_join/%21nowhere%3Atwo.test/%40eve%3Aone.test", nil, 404, "M_NOT_FOUND"},
				{"PUT", "/_matrix/federation/v2/send_join/" + escRoom + "/%24x", map[string]any{"type": 3}, 400, "M_BAD_JSON"},
				{"PUT", "/_matrix/federation/v1/send_join/" + escRoom + "/%24x", map[string]any{"type": 3}, 400, "M_BAD_JSON"},
				{"PUT", "/_matrix/federation/v1/send_leave/" + escRoom + "/%24x", map[string]any{"type": 3}, 400, "M_BAD_JSON"},
				{"PUT", "/_matrix/federation/v1/send/t1", map[string]any{"pdus": "nope"}, 400, "M_BAD_JSON"},
				{
					method:  "PUT",
					path:    "/_matrix/federation/v2/invite/" + escRoom + "/%24x",
					body:    map[string]any{"room_version": "999"},
					status:  400,
					errcode: "M_INCOMPATIBLE_ROOM_VERSION",
				},
				{"GET", "/_matrix/federation/v1/backfill/" + escRoom + "?limit=5", nil, 403, "M_FORBIDDEN"},
				{"GET", "/_matrix/federation/v1/state_ids/%21nowhere%3Atwo.test?event_id=%24x", nil, 404, "M_NOT_FOUND"},
				{"GET", "/_matrix/federation/v1/event/%24unknown", nil, 404, "M_NOT_FOUND"},
				{"GET", "/_matrix/federation/v1/publicRooms?limit=abc", nil, 400, "M_INVALID_PARAM"},
				{"GET", "/_matrix/federation/v1/user/devices/%40bob%3Aone.test", nil, 400, "M_INVALID_PARAM"},
				{"POST", "/_matrix/key/v2/query", map[string]any{"server_keys": "nope"}, 400, "M_BAD_JSON"},
			} {
				resp := f.signed(t, "one.test", "two.test", bad.method, bad.path, bad.body)
				var e struct {
					ErrCode string `json:"errcode"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&e)
				_ = resp.Body.Close()
				if resp.StatusCode != bad.status || e.ErrCode != bad.errcode {
					t.Errorf("%s %s: %d %s, want %d %s", bad.method, bad.path, resp.StatusCode, e.ErrCode, bad.status, bad.errcode)
				}
			}

			// Version, and an unknown endpoint.
			resp, err = f.https("two.test").Get("https://two.test/_matrix/federation/v1/version")
			if err != nil {
				t.Fatal(err)
			}
			var v fclient.Version
			_ = json.NewDecoder(resp.Body).Decode(&v)
			_ = resp.Body.Close()
			if v.Server.Name != "Myelin" || v.Server.Version == "" {
				t.Fatalf("version: %+v", v)
			}
			resp, err = f.https("two.test").Get("https://two.test/_matrix/federation/v1/no_such_thing")
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				ErrCode string `json:"errcode"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&e)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || e.ErrCode != "M_UNRECOGNIZED" {
				t.Errorf("unknown endpoint: %d %s", resp.StatusCode, e.ErrCode)
			}
		})
	}
}

// wantHTTP checks that err is an HTTP error with the given status.
func wantHTTP(t *testing.T, err error, status int) {
	t.Helper()
	var he gomatrix.HTTPError
	if !errors.As(err, &he) || he.Code != status {
		t.Fatalf("error %v, want HTTP %d", err, status)
	}
}

// TestFederationJoinAndChat: bob of two joins alice's public room on one by
// its alias; both sides see the join, and messages each way arrive within
// a long-poll of the other.
func TestFederationJoinAndChat(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f, alice, bob := startPair(t, d)
			two := f.servers["two.test"]
			c := ctx(t)
			room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: "hall", Name: "Hall"})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5; i++ {
				if _, err := alice.SendText(c, room.RoomID, fmt.Sprintf("before %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			aliceSince := syncOnce(t, alice, "", 0).NextBatch

			joined, err := bob.JoinRoom(c, "#hall:one.test", nil)
			if err != nil || joined.RoomID != room.RoomID {
				t.Fatalf("bob joining through one: %+v %v", joined, err)
			}
			// Two now has the room: its name and both members (the sync
			// stream follows the join within milliseconds).
			var bobInit *mautrix.RespSync
			waitFor(t, "the room in bob's sync", func() bool {
				bobInit = syncOnce(t, bob, "", 0)
				_, ok := bobInit.Rooms.Join[room.RoomID]
				return ok
			})
			jr := bobInit.Rooms.Join[room.RoomID]
			var name string
			members := map[string]bool{}
			for _, e := range append(jr.State.Events, jr.Timeline.Events...) {
				if e.Type.Type == "m.room.name" {
					name, _ = e.Content.Raw["name"].(string)
				}
				if e.Type.Type == "m.room.member" && e.Content.Raw["membership"] == "join" {
					members[e.GetStateKey()] = true
				}
			}
			if name != "Hall" || !members[string(alice.UserID)] || !members[string(bob.UserID)] {
				t.Fatalf("bob's view of the room: name %q, members %v", name, members)
			}
			// Bob pages back through what was said before he came, to the
			// room's creation.
			var before []string
			var sawCreate bool
			from := ""
			for page := 0; page < 30; page++ {
				msgs, err := bob.Messages(c, room.RoomID, from, "", mautrix.DirectionBackward, nil, 3)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range msgs.Chunk {
					if b, _ := e.Content.Raw["body"].(string); strings.HasPrefix(b, "before ") {
						before = append(before, b)
					}
					sawCreate = sawCreate || e.Type.Type == "m.room.create"
				}
				if msgs.End == "" || len(msgs.Chunk) == 0 {
					break
				}
				from = msgs.End
			}
			if fmt.Sprint(before) != "[before 4 before 3 before 2 before 1 before 0]" || !sawCreate {
				t.Fatalf("bob's history before his join: %v, create %v", before, sawCreate)
			}
			// One saw bob join.
			waitFor(t, "alice sees bob join", func() bool {
				resp := syncOnce(t, alice, aliceSince, 2*time.Second)
				aliceSince = resp.NextBatch
				for _, e := range resp.Rooms.Join[room.RoomID].Timeline.Events {
					if e.Type.Type == "m.room.member" && e.GetStateKey() == string(bob.UserID) {
						return true
					}
				}
				return false
			})
			bobSince := bobInit.NextBatch

			// Messages both ways, each within one long-poll.
			for i, pair := range []struct {
				from, to *mautrix.Client
				since    *string
			}{{alice, bob, &bobSince}, {bob, alice, &aliceSince}, {alice, bob, &bobSince}, {bob, alice, &aliceSince}} {
				since := syncOnce(t, pair.to, *pair.since, 0).NextBatch
				next := make(chan *mautrix.RespSync, 1)
				go func() { next <- syncOnce(t, pair.to, since, 10*time.Second) }()
				time.Sleep(50 * time.Millisecond)
				body := "across " + string(rune('A'+i))
				if _, err := pair.from.SendText(c, room.RoomID, body); err != nil {
					t.Fatal(err)
				}
				got := <-next
				*pair.since = got.NextBatch
				if b := bodies(got.Rooms.Join[room.RoomID].Timeline.Events); len(b) != 1 || b[0] != body {
					t.Fatalf("message %d: the other side got %v", i, b)
				}
			}

			// Reads of one's DAG by two: the newest event, the state before
			// it, backfill to the room's creation, missing events.
			roomID := room.RoomID.String()
			msgs, err := alice.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
			if err != nil || len(msgs.Chunk) != 1 {
				t.Fatal(msgs, err)
			}
			last := msgs.Chunk[0].ID.String()
			fc := two.Federation.Client
			txn, err := fc.GetEvent(c, "two.test", "one.test", last)
			if err != nil || len(txn.PDUs) != 1 {
				t.Fatalf("/event: %+v %v", txn, err)
			}
			ids, err := fc.LookupStateIDs(c, "two.test", "one.test", roomID, last)
			if err != nil || len(ids.StateEventIDs) < 5 || len(ids.AuthEventIDs) == 0 && len(ids.StateEventIDs) == 0 {
				t.Fatalf("/state_ids: %+v %v", ids, err)
			}
			bf, err := fc.Backfill(c, "two.test", "one.test", roomID, 100, []string{last})
			if err != nil {
				t.Fatal(err)
			}
			sawCreate = false
			for _, raw := range bf.PDUs {
				var e struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal(raw, &e)
				sawCreate = sawCreate || e.Type == "m.room.create"
			}
			if !sawCreate || len(bf.PDUs) < 10 {
				t.Fatalf("/backfill: %d events, create %v", len(bf.PDUs), sawCreate)
			}
			// One's directory, asked through two's client API.
			if _, err := alice.MakeRequest(c, http.MethodPut, alice.BuildClientURL("v3", "directory", "list", "room", room.RoomID),
				map[string]string{"visibility": "public"}, nil); err != nil {
				t.Fatal(err)
			}
			pub, err := bob.PublicRooms(c, &mautrix.ReqPublicRooms{Server: "one.test"})
			if err != nil || len(pub.Chunk) != 1 || pub.Chunk[0].RoomID != room.RoomID || pub.Chunk[0].Name != "Hall" {
				t.Fatalf("one's directory through two: %+v %v", pub, err)
			}
			// Two may not read a room none of its users is in.
			private, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = fc.LookupStateIDs(c, "two.test", "one.test", private.RoomID.String(), last)
			wantHTTP(t, err, http.StatusForbidden)

			// A server ACL that denies two shuts it out of the room on one.
			if _, err := alice.SendStateEvent(c, room.RoomID, event.NewEventType("m.room.server_acl"), "",
				map[string]any{"allow": []string{"*"}, "deny": []string{"two.test"}, "allow_ip_literals": false}); err != nil {
				t.Fatal(err)
			}
			_, err = fc.LookupStateIDs(c, "two.test", "one.test", roomID, last)
			wantHTTP(t, err, http.StatusForbidden)
			_, err = fc.Backfill(c, "two.test", "one.test", roomID, 10, []string{last})
			wantHTTP(t, err, http.StatusForbidden)
		})
	}
}

// waitFor polls cond (which may block) until it holds, for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
	}
}

// TestFederationDirectChat: the friend request across servers. alice of one
// opens a direct room with bob of two; bob's long-poll ends with the invite
// (with the room's stripped state), he accepts by joining with no server
// named, and they talk.
func TestFederationDirectChat(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			_, alice, bob := startPair(t, d)
			c := ctx(t)
			bobSince := syncOnce(t, bob, "", 0).NextBatch

			next := make(chan *mautrix.RespSync, 1)
			go func() { next <- syncOnce(t, bob, bobSince, 10*time.Second) }()
			time.Sleep(50 * time.Millisecond)
			dm, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Name: "alice & bob",
				Invite: []id.UserID{bob.UserID}})
			if err != nil {
				t.Fatal(err)
			}
			var inv *mautrix.RespSync
			for i := 0; i < 5; i++ {
				if inv == nil {
					inv = <-next
				} else {
					inv = syncOnce(t, bob, bobSince, 5*time.Second)
				}
				bobSince = inv.NextBatch
				if _, ok := inv.Rooms.Invite[dm.RoomID]; ok {
					break
				}
			}
			room, ok := inv.Rooms.Invite[dm.RoomID]
			if !ok {
				t.Fatalf("no invite for bob: %+v", inv.Rooms)
			}
			var direct bool
			var name string
			for _, e := range room.State.Events {
				if e.Type.Type == "m.room.member" && e.GetStateKey() == string(bob.UserID) {
					direct = e.Content.Raw["is_direct"] == true && e.Content.Raw["membership"] == "invite"
				}
				if e.Type.Type == "m.room.name" {
					name, _ = e.Content.Raw["name"].(string)
				}
			}
			if !direct || name != "alice & bob" {
				t.Fatalf("invite state: direct %v, name %q: %+v", direct, name, room.State.Events)
			}

			// Bob accepts: a join with no server named goes through alice's.
			if _, err := bob.JoinRoomByID(c, dm.RoomID); err != nil {
				t.Fatalf("accepting the invite: %v", err)
			}
			waitFor(t, "alice sees bob join", func() bool {
				m, err := alice.JoinedMembers(c, dm.RoomID)
				return err == nil && len(m.Joined) == 2
			})
			since := syncOnce(t, bob, bobSince, 0).NextBatch
			got := make(chan *mautrix.RespSync, 1)
			go func() { got <- syncOnce(t, bob, since, 10*time.Second) }()
			time.Sleep(50 * time.Millisecond)
			if _, err := alice.SendText(c, dm.RoomID, "hi bob"); err != nil {
				t.Fatal(err)
			}
			var b []string
			for i := 0; i < 5 && len(b) == 0; i++ {
				r := <-got
				b = bodies(r.Rooms.Join[dm.RoomID].Timeline.Events)
				if len(b) == 0 {
					since = r.NextBatch
					go func() { got <- syncOnce(t, bob, since, 5*time.Second) }()
				}
			}
			if len(b) != 1 || b[0] != "hi bob" {
				t.Fatalf("bob got %v", b)
			}
			if _, err := bob.SendText(c, dm.RoomID, "hi alice"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "alice gets bob's message", func() bool {
				msgs, err := alice.Messages(c, dm.RoomID, "", "", mautrix.DirectionBackward, nil, 5)
				return err == nil && len(msgs.Chunk) > 0 && msgs.Chunk[0].Content.Raw["body"] == "hi alice"
			})

			// Bob pages the history back to the room's creation, two events
			// at a time, with no event twice.
			seen := map[string]bool{}
			var sawCreate bool
			from := ""
			for page := 0; page < 50; page++ {
				msgs, err := bob.Messages(c, dm.RoomID, from, "", mautrix.DirectionBackward, nil, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range msgs.Chunk {
					if seen[e.ID.String()] {
						t.Fatalf("%s twice in bob's history", e.ID)
					}
					seen[e.ID.String()] = true
					sawCreate = sawCreate || e.Type.Type == "m.room.create"
				}
				if msgs.End == "" || len(msgs.Chunk) == 0 {
					break
				}
				from = msgs.End
			}
			// NOTE: the history is in the order two learned the events: the
			// invite (received first) comes before the room's earlier state.
			if !sawCreate || len(seen) < 8 {
				t.Fatalf("bob's history: %d events, create %v", len(seen), sawCreate)
			}
		})
	}
}

// TestFederationOutage: two is down while alice of one sends 100 messages;
// after two restarts, bob's room holds all 100, in order, once.
func TestFederationOutage(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, d) }, "one.test", "two.test")
			c := ctx(t)
			alice := register(t, f.servers["one.test"], "alice", "long enough")
			bob := register(t, f.servers["two.test"], "bob", "long enough")
			room := sharedRoom(t, "hall", alice, bob)

			f.stop(t, "two.test")
			for i := 0; i < 100; i++ {
				if _, err := alice.SendText(c, room.RoomID, fmt.Sprintf("while away %03d", i)); err != nil {
					t.Fatal(err)
				}
			}
			f.restart(t, "two.test")
			bob.HomeserverURL, _ = url.Parse(f.servers["two.test"].ClientURL())

			// Everything arrives (the queue retries with backoff).
			deadline := time.Now().Add(60 * time.Second)
			var got []string
			for {
				got = got[:0]
				from := ""
				for {
					msgs, err := bob.Messages(c, room.RoomID, from, "", mautrix.DirectionBackward, nil, 100)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range msgs.Chunk {
						if b, _ := e.Content.Raw["body"].(string); strings.HasPrefix(b, "while away") {
							got = append(got, b)
						}
					}
					if msgs.End == "" || len(msgs.Chunk) == 0 {
						break
					}
					from = msgs.End
				}
				if len(got) >= 100 || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if len(got) != 100 {
				t.Fatalf("bob has %d of the 100 messages", len(got))
			}
			for i, b := range got { // newest first
				if want := fmt.Sprintf("while away %03d", 99-i); b != want {
					t.Fatalf("message %d is %q, want %q", i, b, want)
				}
			}
		})
	}
}

// TestFederationRejectInvite: bob of two rejects alice's invite; both sides
// see him leave, and leaving a joined room across servers works too.
func TestFederationRejectInvite(t *testing.T) {
	f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test", "two.test")
	c := ctx(t)
	alice := register(t, f.servers["one.test"], "alice", "long enough")
	bob := register(t, f.servers["two.test"], "bob", "long enough")
	dm, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", IsDirect: true, Invite: []id.UserID{bob.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	var since string
	waitFor(t, "bob's invite", func() bool {
		resp := syncOnce(t, bob, "", 0)
		since = resp.NextBatch
		_, ok := resp.Rooms.Invite[dm.RoomID]
		return ok
	})
	if _, err := bob.LeaveRoom(c, dm.RoomID); err != nil {
		t.Fatalf("rejecting: %v", err)
	}
	waitFor(t, "the rejection in bob's sync", func() bool {
		resp := syncOnce(t, bob, since, time.Second)
		since = resp.NextBatch
		_, ok := resp.Rooms.Leave[dm.RoomID]
		return ok
	})
	waitFor(t, "alice sees the rejection", func() bool {
		m, err := alice.Members(c, dm.RoomID)
		if err != nil {
			return false
		}
		for _, e := range m.Chunk {
			if e.GetStateKey() == string(bob.UserID) && e.Content.Raw["membership"] == "leave" {
				return true
			}
		}
		return false
	})

	// A joined room: bob joins a public room on one, then leaves it.
	room := sharedRoom(t, "hall", alice, bob)
	if _, err := bob.LeaveRoom(c, room.RoomID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice sees bob leave", func() bool {
		m, err := alice.JoinedMembers(c, room.RoomID)
		return err == nil && len(m.Joined) == 1
	})
}

// TestFederationThreeServers: carol's server is down while alice (one) and
// bob (two) talk; when it is back, events reach it out of order (one's
// refer to two's it has not got), it fetches what is missing, and all three
// servers end with the same messages and the same room state.
func TestFederationThreeServers(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	f, alice, bob, carol, room := startTrio(t, "trio")
	c := ctx(t)

	f.stop(t, "three.test")
	for i := 0; i < 10; i++ {
		sender := alice
		if i%2 == 1 {
			sender = bob
		}
		if _, err := sender.SendText(c, room.RoomID, fmt.Sprintf("trio %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	f.restart(t, "three.test")
	carol.HomeserverURL, _ = url.Parse(f.servers["three.test"].ClientURL())

	messages := func(u *mautrix.Client) map[string]bool {
		out := map[string]bool{}
		msgs, err := u.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			return out
		}
		for _, e := range msgs.Chunk {
			if b, _ := e.Content.Raw["body"].(string); strings.HasPrefix(b, "trio ") {
				out[b] = true
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(messages(carol)) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("carol has %v", messages(carol))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// One more message from carol, so every server merges what it has.
	if _, err := carol.SendText(c, room.RoomID, "carol is back"); err != nil {
		t.Fatal(err)
	}
	stateOf := func(u *mautrix.Client) map[string]string {
		var evs []json.RawMessage
		if _, err := u.MakeRequest(c, http.MethodGet, u.BuildClientURL("v3", "rooms", room.RoomID, "state"), nil, &evs); err != nil {
			return nil
		}
		out := map[string]string{}
		for _, raw := range evs {
			var e struct {
				Type     string `json:"type"`
				StateKey string `json:"state_key"`
				EventID  string `json:"event_id"`
			}
			_ = json.Unmarshal(raw, &e)
			out[e.Type+"|"+e.StateKey] = e.EventID
		}
		return out
	}
	waitFor(t, "the same messages and state on all three", func() bool {
		want := stateOf(alice)
		for _, u := range []*mautrix.Client{alice, bob, carol} {
			if m := messages(u); len(m) != 10 {
				return false
			}
			if s := stateOf(u); len(s) == 0 || fmt.Sprint(s) != fmt.Sprint(want) {
				return false
			}
		}
		return true
	})
}

// TestFederationNotary: three cannot reach one (its discovery table points
// one at a dead address) but trusts two as a notary; a request signed by one
// is still verified, with one's keys as two serves them.
func TestFederationNotary(t *testing.T) {
	f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test", "two.test", "three.test")
	cfg := f.configs["three.test"]
	hosts := map[string]string{}
	for k, v := range cfg.FederationAPI.Hosts {
		hosts[k] = v
	}
	hosts["one.test"] = freeAddr(t) // nothing listens there
	cfg.FederationAPI.Hosts = hosts
	f.restart(t, "three.test")
	carol := register(t, f.servers["three.test"], "carol", "long enough")
	if err := carol.SetDisplayName(ctx(t), "Carol"); err != nil {
		t.Fatal(err)
	}
	// Without a notary, three cannot check one's signature.
	_, err := f.servers["one.test"].Federation.Client.LookupProfile(ctx(t), "one.test", "three.test", "@carol:three.test", "displayname")
	wantHTTP(t, err, http.StatusUnauthorized)
	// With two as its notary, it can.
	cfg.FederationAPI.TrustedKeyServers = []string{"two.test"}
	f.restart(t, "three.test")
	prof, err := f.servers["one.test"].Federation.Client.LookupProfile(ctx(t), "one.test", "three.test", "@carol:three.test", "displayname")
	if err != nil || prof.DisplayName != "Carol" {
		t.Fatalf("a request from one, verified through the notary: %+v %v", prof, err)
	}
}

// TestFederationWideGap: three misses 30 of bob's messages and bob's server
// is down when alice's next message reaches three; the gap is wider than
// get_missing_events fills (20), so three takes the state after the prev
// event of the oldest of those 20 from one (state_ids) and carol gets
// alice's message and the 20 before it.
func TestFederationWideGap(t *testing.T) {
	t.Parallel() // one of the longest: runs beside the other long ones once the serial tests are done
	f, alice, bob, carol, room := startTrio(t, "gap")
	c := ctx(t)
	since := syncOnce(t, carol, "", 0).NextBatch
	if _, err := carol.SendText(c, room.RoomID, "carol before"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice has carol's message", func() bool {
		msgs, err := alice.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
		return err == nil && len(msgs.Chunk) == 1 && msgs.Chunk[0].Content.Raw["body"] == "carol before"
	})
	f.stop(t, "three.test")
	for i := 0; i < 30; i++ {
		if _, err := bob.SendText(c, room.RoomID, fmt.Sprintf("bob %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "alice has bob's messages", func() bool {
		msgs, err := alice.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
		return err == nil && len(msgs.Chunk) == 1 && msgs.Chunk[0].Content.Raw["body"] == "bob 29"
	})
	f.stop(t, "two.test")
	if _, err := alice.SendText(c, room.RoomID, "after the gap"); err != nil {
		t.Fatal(err)
	}
	f.restart(t, "three.test")
	carol.HomeserverURL, _ = url.Parse(f.servers["three.test"].ClientURL())
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := carol.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 21)
		if err == nil && len(msgs.Chunk) > 0 && msgs.Chunk[0].Content.Raw["body"] == "after the gap" {
			got := histReversed(bodies(msgs.Chunk))
			var want []string
			for i := 10; i < 30; i++ {
				want = append(want, fmt.Sprintf("bob %02d", i))
			}
			if !slices.Equal(got, append(want, "after the gap")) {
				t.Fatalf("carol's timeline after the gap: %v", got)
			}
			wideGapSync(t, carol, since)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol never got alice's message after the gap")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// wideGapSync: carol's sync from before her message, with room for every
// event since, starts the room's timeline at the far side of the gap (bob
// 10), limited, without her own message from before it; prev_batch leads
// back to it.
func wideGapSync(t *testing.T, carol *mautrix.Client, since string) {
	t.Helper()
	filter := url.QueryEscape(`{"room":{"timeline":{"limit":50}}}`)
	r := do(t, "GET", carol.HomeserverURL.String()+"/_matrix/client/v3/sync?timeout=0&filter="+filter+"&since="+url.QueryEscape(since),
		carol.AccessToken, nil)
	var resp mautrix.RespSync
	if err := json.Unmarshal([]byte(toJSON(r.Body)), &resp); err != nil || r.Status != http.StatusOK {
		t.Fatalf("sync: %d %v", r.Status, err)
	}
	for _, jr := range resp.Rooms.Join {
		got := bodies(jr.Timeline.Events)
		if !jr.Timeline.Limited || len(got) != 21 || got[0] != "bob 10" || got[20] != "after the gap" {
			t.Fatalf("carol's sync across the gap: limited %v, %v", jr.Timeline.Limited, got)
		}
		msgs, err := carol.Messages(ctx(t), jr.Timeline.Events[0].RoomID, jr.Timeline.PrevBatch, "", mautrix.DirectionBackward, nil, 1)
		if err != nil || len(msgs.Chunk) != 1 || msgs.Chunk[0].Content.Raw["body"] != "carol before" {
			t.Fatalf("carol's page before the gap: %v", err)
		}
		return
	}
	t.Fatal("the room is not in carol's sync")
}

// startTrio starts one, two and three (SQLite), registers alice, bob and
// carol on them, and has bob and carol join alice's public room #alias:one.test.
func startTrio(t *testing.T, alias string) (f *federation, alice, bob, carol *mautrix.Client, room *mautrix.RespCreateRoom) {
	t.Helper()
	f = startFederation(t, func(t *testing.T) string { return sqltest.URL(t, sqlutil.SQLite) }, "one.test", "two.test", "three.test")
	alice = register(t, f.servers["one.test"], "alice", "long enough")
	bob = register(t, f.servers["two.test"], "bob", "long enough")
	carol = register(t, f.servers["three.test"], "carol", "long enough")
	return f, alice, bob, carol, sharedRoom(t, alias, alice, bob, carol)
}

// sharedRoom has creator (of one.test) make a public room #alias:one.test,
// the others join it by alias, and waits until every one of them sees all
// the members.
func sharedRoom(t *testing.T, alias string, creator *mautrix.Client, others ...*mautrix.Client) *mautrix.RespCreateRoom {
	t.Helper()
	c := ctx(t)
	room, err := creator.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: alias})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range others {
		if _, err := u.JoinRoom(c, "#"+alias+":one.test", nil); err != nil {
			t.Fatal(err)
		}
	}
	all := append([]*mautrix.Client{creator}, others...)
	waitFor(t, "every member seen everywhere", func() bool {
		for _, u := range all {
			if m, err := u.JoinedMembers(c, room.RoomID); err != nil || len(m.Joined) != len(all) {
				return false
			}
		}
		return true
	})
	return room
}
