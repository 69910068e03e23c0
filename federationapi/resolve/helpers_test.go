package resolve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// testCA is a certificate authority made for one test, and a server
// certificate it signed.
type testCA struct {
	pool *x509.CertPool
	leaf tls.Certificate
}

// certNames are the names the test server certificate is valid for.
var certNames = []string{"hs1.test", "hs2.test", "fed.test", "private.test", "a.test", "b.test", "c.test", "delegated.test"}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "resolve test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "hs1.test"},
		DNSNames:     certNames,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testCA{pool: pool, leaf: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// seen is what a test server saw of one request.
type seen struct {
	Host, SNI, Method, Path, Body string
	ProtoMajor                    int
}

// testServer is an HTTPS server with the CA's certificate that records the
// requests it gets.
type testServer struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	reqs []seen
}

func (ca *testCA) server(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, seen{r.Host, r.TLS.ServerName, r.Method, r.URL.Path, string(body), r.ProtoMajor})
		ts.mu.Unlock()
		h(w, r)
	}))
	ts.EnableHTTP2 = true
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) last() seen {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.reqs) == 0 {
		return seen{}
	}
	return ts.reqs[len(ts.reqs)-1]
}

// port is the server's port.
func (ts *testServer) port() string {
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	return port
}

// serveWellKnown answers the well-known request with body.
func serveWellKnown(body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/matrix/server" {
			http.NotFound(w, r)
			return
		}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		_, _ = io.WriteString(w, body)
	}
}

// routes is an Options.Dial hook sending host:port to the address mapped
// to it, and failing for any other (tests never reach the network).
type routes map[string]string

func (rt routes) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	to, ok := rt[addr]
	if !ok {
		return nil, fmt.Errorf("test: no route to %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, to)
}

// srvTable is an Options.LookupSRV answering from a table keyed by
// "_service._proto.name" and recording the names looked up.
type srvTable struct {
	records map[string][]*net.SRV
	mu      sync.Mutex
	lookups []string
}

func (s *srvTable) lookup(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	s.mu.Lock()
	s.lookups = append(s.lookups, key)
	s.mu.Unlock()
	recs, ok := s.records[key]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
	}
	return key, slices.Clone(recs), nil
}

func (s *srvTable) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lookups)
}

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustResolve(t *testing.T, r *Resolver, name string) []Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	targets, err := r.Resolve(ctx, spec.ServerName(name))
	if err != nil {
		t.Fatalf("Resolve(%q): %v", name, err)
	}
	return targets
}

func sameTargets(t *testing.T, name string, got, want []Target) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("Resolve(%q)\n got %+v\nwant %+v", name, got, want)
	}
}
