package resolve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// federationServer answers the well-known with wellKnownBody and any other
// path with "ok".
func federationServer(t *testing.T, ca *testCA, wellKnownBody string) *testServer {
	return ca.server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/matrix/server" {
			_, _ = io.WriteString(w, wellKnownBody)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A request through the well-known delegation: the Host header and SNI are
// the delegated name's, over HTTP/2, for each accepted URL scheme.
func TestTransportRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, `{"m.server": "fed.test:8448"}`)
	addr := ts.Listener.Addr().String()
	r := New(Options{
		RootCAs:              ca.pool,
		AllowPrivateNetworks: true,
		Dial:                 routes{"hs1.test:443": addr, "fed.test:8448": addr}.dial,
		LookupSRV:            (&srvTable{}).lookup,
	})
	client := &http.Client{Transport: r.Transport()}
	defer client.CloseIdleConnections()
	for _, scheme := range []string{"matrix-federation", "matrix", "https"} {
		body, err := get(client, scheme+"://hs1.test/_matrix/federation/v1/version?x=1")
		if err != nil || body != "ok" {
			t.Fatalf("%s request: %q, %v", scheme, body, err)
		}
		want := seen{Host: "fed.test:8448", SNI: "fed.test", Method: "GET", Path: "/_matrix/federation/v1/version", ProtoMajor: 2}
		if got := ts.last(); got != want {
			t.Errorf("%s request: server saw %+v, want %+v", scheme, got, want)
		}
	}
	if n := ts.hits.Load(); n != 4 { // one well-known fetch, three requests
		t.Errorf("%d requests, want 4", n)
	}
}

// Targets are tried in order, the body resent; an IP target sends no SNI.
func TestTransportTriesTargetsInOrder(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, "")
	srv := &srvTable{records: map[string][]*net.SRV{"_matrix-fed._tcp.hs1.test": {
		{Target: "dead.test.", Port: 1, Priority: 1},
		{Target: "fed.test.", Port: 8448, Priority: 2},
	}}}
	r := New(Options{
		RootCAs:              ca.pool,
		AllowPrivateNetworks: true,
		Dial:                 routes{"fed.test:8448": ts.Listener.Addr().String()}.dial,
		LookupSRV:            srv.lookup,
	})
	const send = "matrix-federation://hs1.test/_matrix/federation/v1/send/"
	req, err := http.NewRequest(http.MethodPut, send+"1", strings.NewReader(`{"pdus":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.Transport().RoundTrip(req)
	if err != nil {
		t.Fatalf("PUT: %v", err)
	}
	_ = resp.Body.Close()
	want := seen{
		Host:       "hs1.test",
		SNI:        "hs1.test",
		Method:     "PUT",
		Path:       "/_matrix/federation/v1/send/1",
		Body:       `{"pdus":[]}`,
		ProtoMajor: 2,
	}
	if got := ts.last(); got != want {
		t.Errorf("server saw %+v, want %+v", got, want)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}

	// A body that cannot be rewound is not resent.
	req, err = http.NewRequest(http.MethodPut, send+"2", io.NopCloser(strings.NewReader("{}")))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := r.Transport().RoundTrip(req); err == nil || !strings.Contains(err.Error(), "cannot resend") {
		if err == nil {
			_ = resp.Body.Close()
		}
		t.Errorf("PUT with a one-shot body: %v, want a failure to resend", err)
	}
}

// After all targets fail, the resolution is forgotten: the next request
// fetches the well-known again.
func TestTransportForgetsAfterFailure(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, `{"m.server": "dead.test:8448"}`)
	r := New(Options{
		RootCAs:              ca.pool,
		AllowPrivateNetworks: true,
		Dial:                 routes{"hs1.test:443": ts.Listener.Addr().String()}.dial,
	})
	client := &http.Client{Transport: r.Transport()}
	for i := 1; i <= 2; i++ {
		_, err := get(client, "matrix-federation://hs1.test/x")
		if err == nil || !strings.Contains(err.Error(), "no route to dead.test:8448") {
			t.Fatalf("request %d: %v, want a dial failure", i, err)
		}
		if n := ts.hits.Load(); n != int32(i) {
			t.Fatalf("after request %d: %d well-known fetches, want %d", i, n, i)
		}
	}
}

// An IP literal server name: certificate for the IP, no SNI, Host the
// server name; refused as private unless allowed.
func TestTransportIPLiteral(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, "")
	name := ts.Listener.Addr().String() // 127.0.0.1:port
	for _, allow := range []bool{false, true} {
		r := New(Options{RootCAs: ca.pool, AllowPrivateNetworks: allow})
		body, err := get(&http.Client{Transport: r.Transport()}, "matrix-federation://"+name+"/ip")
		if !allow {
			if !errors.Is(err, ErrPrivateAddress) {
				t.Errorf("private IP literal not allowed: %v, want ErrPrivateAddress", err)
			}
			continue
		}
		if err != nil || body != "ok" {
			t.Fatalf("private IP literal allowed: %q, %v", body, err)
		}
		if got := ts.last(); got.Host != name || got.SNI != "" || got.Path != "/ip" {
			t.Errorf("server saw %+v, want Host %q and no SNI", got, name)
		}
	}
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}

// The private-address check is on the IP dialled after DNS.
func TestPrivateAddressAfterDNS(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, "")
	name := "private.test:" + ts.port()
	lookupIP := func(_ context.Context, host string) ([]net.IPAddr, error) {
		if host != "private.test" {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
	}
	for _, allow := range []bool{false, true} {
		r := New(Options{RootCAs: ca.pool, AllowPrivateNetworks: allow, LookupIPAddr: lookupIP})
		body, err := get(&http.Client{Transport: r.Transport()}, "matrix-federation://"+name+"/dns")
		if allow != (err == nil) || !allow && !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("AllowPrivateNetworks %v: %q, %v", allow, body, err)
		}
	}
	if got := ts.last(); ts.hits.Load() != 1 || got.Host != name || got.SNI != "private.test" {
		t.Errorf("%d requests, last %+v; want 1 with Host %q, SNI private.test", ts.hits.Load(), got, name)
	}
}

// With an Options.Dial hook, the check is on the connection's remote
// address; it covers well-known fetches too.
func TestPrivateAddressWithDialHook(t *testing.T) {
	ca := newTestCA(t)
	ts := federationServer(t, ca, `{"m.server": "fed.test:8448"}`)
	addr := ts.Listener.Addr().String()
	r := New(Options{RootCAs: ca.pool, Dial: routes{"hs1.test:443": addr, "fed.test:8448": addr}.dial, LookupSRV: (&srvTable{}).lookup})
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{"hs1.test:8448", "hs1.test", "hs1.test"}})
	_, err := get(&http.Client{Transport: r.Transport()}, "matrix-federation://fed.test:8448/x")
	if !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("request: %v, want ErrPrivateAddress", err)
	}
	if n := ts.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server, want 0", n)
	}
}

// Certificates must chain to RootCAs and be valid for the TLS server name.
func TestTransportVerifiesCertificates(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	ts := federationServer(t, ca, "")
	addr := ts.Listener.Addr().String()
	rt := routes{"fed.test:8448": addr, "unlisted.test:8448": addr}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"fed.test:8448", Options{RootCAs: other.pool}},
		{"fed.test:8448", Options{}}, // the system's CAs
		{"unlisted.test:8448", Options{RootCAs: ca.pool}},
	} {
		tc.opts.Dial, tc.opts.AllowPrivateNetworks = rt.dial, true
		r := New(tc.opts)
		_, err := get(&http.Client{Transport: r.Transport()}, "matrix-federation://"+tc.name+"/x")
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Errorf("request to %s with RootCAs %p: %v, want a certificate verification error", tc.name, tc.opts.RootCAs, err)
		}
	}
	if n := ts.hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server, want 0", n)
	}
}

func TestTransportRejectsBadRequests(t *testing.T) {
	r := New(noIO(t))
	for _, url := range []string{"http://hs1.test/x", "ftp://hs1.test/x", "matrix-federation://bad_name/x"} {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := r.Transport().RoundTrip(req); err == nil {
			_ = resp.Body.Close()
			t.Errorf("request to %s succeeded", url)
		}
	}
}
