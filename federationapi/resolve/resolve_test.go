package resolve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// noIO are Options whose hooks fail the test if the resolver does any
// network I/O or DNS.
func noIO(t *testing.T) Options {
	return Options{
		LookupSRV: func(_ context.Context, service, _, name string) (string, []*net.SRV, error) {
			t.Errorf("unexpected SRV lookup of %s %s", service, name)
			return "", nil, errors.New("unexpected")
		},
		Dial: func(_ context.Context, _, addr string) (net.Conn, error) {
			t.Errorf("unexpected dial of %s", addr)
			return nil, errors.New("unexpected")
		},
	}
}

// Steps 1 and 2: IP literals and explicit ports need no lookup.
func TestResolveWithoutDiscovery(t *testing.T) {
	r := New(noIO(t))
	for name, want := range map[string]Target{
		"1.2.3.4":                {"1.2.3.4:8448", "1.2.3.4", "1.2.3.4"},
		"1.2.3.4:1234":           {"1.2.3.4:1234", "1.2.3.4:1234", "1.2.3.4"},
		"[2001:db8::1]":          {"[2001:db8::1]:8448", "[2001:db8::1]", "2001:db8::1"},
		"[2001:db8::1]:5678":     {"[2001:db8::1]:5678", "[2001:db8::1]:5678", "2001:db8::1"},
		"[2001:DB8:0::1]":        {"[2001:db8::1]:8448", "[2001:DB8:0::1]", "2001:db8::1"},
		"hs.example:8449":        {"hs.example:8449", "hs.example:8449", "hs.example"},
		"hs.example:08449":       {"hs.example:8449", "hs.example:08449", "hs.example"},
		"010.000.000.001:443":    {"10.0.0.1:443", "010.000.000.001:443", "10.0.0.1"},
		"matrix.example.org:443": {"matrix.example.org:443", "matrix.example.org:443", "matrix.example.org"},
	} {
		sameTargets(t, name, mustResolve(t, r, name), []Target{want})
	}
}

// Steps 3 to 6, with the well-known served by a test server reached as
// hs1.test:443.
func TestResolveDiscovery(t *testing.T) {
	ca := newTestCA(t)
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				_, _ = w.Write([]byte(`{"m.server": "delegated.test:1234"}`))
				return
			}
			http.Redirect(w, r, to, http.StatusFound)
		}
	}
	fallback := []Target{{"hs1.test:8448", "hs1.test", "hs1.test"}}
	pad := func(n int) string { // a valid well-known body of n bytes
		s := `{"m.server": "delegated.test:1234", "pad": "`
		return s + strings.Repeat("x", n-len(s)-2) + `"}`
	}
	for _, tc := range []struct {
		name        string
		handler     http.HandlerFunc // nil: hs1.test:443 unreachable
		srv         map[string][]*net.SRV
		want        []Target
		wantLookups []string
	}{{
		name:    "3.2 delegated name with port",
		handler: serveWellKnown(`{"m.server": "delegated.test:1234"}`),
		want:    []Target{{"delegated.test:1234", "delegated.test:1234", "delegated.test"}},
	}, {
		name:    "3.1 delegated IPv4 literal",
		handler: serveWellKnown(`{"m.server": "192.0.2.7"}`),
		want:    []Target{{"192.0.2.7:8448", "192.0.2.7", "192.0.2.7"}},
	}, {
		name:    "3.1 delegated IPv6 literal with port",
		handler: serveWellKnown(`{"m.server": "[2001:db8::7]:9000"}`),
		want:    []Target{{"[2001:db8::7]:9000", "[2001:db8::7]:9000", "2001:db8::7"}},
	}, {
		name:    "3.3 delegated name, SRV _matrix-fed, by priority",
		handler: serveWellKnown(`{"m.server": "delegated.test"}`, "Content-Type", "text/plain"),
		srv: map[string][]*net.SRV{
			"_matrix-fed._tcp.delegated.test": {
				{Target: "b.test.", Port: 8450, Priority: 20},
				{Target: "a.test.", Port: 8449, Priority: 10},
			},
			"_matrix._tcp.delegated.test": {{Target: "c.test.", Port: 443}},
		},
		want: []Target{
			{"a.test:8449", "delegated.test", "delegated.test"},
			{"b.test:8450", "delegated.test", "delegated.test"},
		},
		wantLookups: []string{"_matrix-fed._tcp.delegated.test"},
	}, {
		name:        "3.4 delegated name, deprecated SRV _matrix",
		handler:     serveWellKnown(`{"m.server": "delegated.test"}`),
		srv:         map[string][]*net.SRV{"_matrix._tcp.delegated.test": {{Target: "c.test.", Port: 443}}},
		want:        []Target{{"c.test:443", "delegated.test", "delegated.test"}},
		wantLookups: []string{"_matrix-fed._tcp.delegated.test", "_matrix._tcp.delegated.test"},
	}, {
		name:        "3.5 delegated name, no SRV",
		handler:     serveWellKnown(`{"m.server": "delegated.test"}`),
		srv:         map[string][]*net.SRV{"_matrix-fed._tcp.hs1.test": {{Target: "c.test.", Port: 443}}},
		want:        []Target{{"delegated.test:8448", "delegated.test", "delegated.test"}},
		wantLookups: []string{"_matrix-fed._tcp.delegated.test", "_matrix._tcp.delegated.test"},
	}, {
		name:        "4 no well-known, SRV _matrix-fed",
		handler:     http.NotFound,
		srv:         map[string][]*net.SRV{"_matrix-fed._tcp.hs1.test": {{Target: "fed.test.", Port: 8450}}},
		want:        []Target{{"fed.test:8450", "hs1.test", "hs1.test"}},
		wantLookups: []string{"_matrix-fed._tcp.hs1.test"},
	}, {
		name:        "5 no well-known, deprecated SRV _matrix",
		handler:     http.NotFound,
		srv:         map[string][]*net.SRV{"_matrix._tcp.hs1.test": {{Target: "fed.test.", Port: 8451}}},
		want:        []Target{{"fed.test:8451", "hs1.test", "hs1.test"}},
		wantLookups: []string{"_matrix-fed._tcp.hs1.test", "_matrix._tcp.hs1.test"},
	}, {
		name:        "6 no well-known, no SRV",
		handler:     http.NotFound,
		want:        fallback,
		wantLookups: []string{"_matrix-fed._tcp.hs1.test", "_matrix._tcp.hs1.test"},
	}, {
		name: "6 well-known unreachable",
		want: fallback,
	}, {
		name: "6 SRV target '.' means no service",
		srv:  map[string][]*net.SRV{"_matrix-fed._tcp.hs1.test": {{Target: ".", Port: 0}}},
		want: fallback,
	}, {
		name:    "well-known 500",
		handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, `{"m.server": "a.test:1"}`, 500) },
		want:    fallback,
	}, {
		name: "well-known bad JSON", handler: serveWellKnown(`{"m.server": "delegated.test:1234"`), want: fallback,
	}, {
		name: "well-known not an object", handler: serveWellKnown(`["delegated.test:1234"]`), want: fallback,
	}, {
		name: "m.server missing", handler: serveWellKnown(`{"m.servers": "delegated.test:1234"}`), want: fallback,
	}, {
		name: "m.server null", handler: serveWellKnown(`{"m.server": null}`), want: fallback,
	}, {
		name: "m.server not a string", handler: serveWellKnown(`{"m.server": 1234}`), want: fallback,
	}, {
		name: "m.server empty", handler: serveWellKnown(`{"m.server": ""}`), want: fallback,
	}, {
		name: "m.server invalid", handler: serveWellKnown(`{"m.server": "https://delegated.test"}`), want: fallback,
	}, {
		name:    "body of 50 KiB accepted",
		handler: serveWellKnown(pad(50 << 10)),
		want:    []Target{{"delegated.test:1234", "delegated.test:1234", "delegated.test"}},
	}, {
		name: "body over 50 KiB", handler: serveWellKnown(pad(50<<10 + 1)), want: fallback,
	}, {
		name:    "redirect followed",
		handler: redirect("/moved"),
		want:    []Target{{"delegated.test:1234", "delegated.test:1234", "delegated.test"}},
	}, {
		name: "redirect loop", handler: redirect("/.well-known/matrix/server"), want: fallback,
	}, {
		name: "redirect to plain HTTP", handler: redirect("http://hs1.test/moved"), want: fallback,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt := routes{}
			if tc.handler != nil {
				rt["hs1.test:443"] = ca.server(t, tc.handler).Listener.Addr().String()
			}
			srv := &srvTable{records: tc.srv}
			r := New(Options{RootCAs: ca.pool, Dial: rt.dial, LookupSRV: srv.lookup, AllowPrivateNetworks: true})
			sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), tc.want)
			if tc.wantLookups != nil && !slices.Equal(srv.calls(), tc.wantLookups) {
				t.Errorf("SRV lookups %q, want %q", srv.calls(), tc.wantLookups)
			}
		})
	}
}

// newCachingResolver is a resolver of hs1.test (and a.test, b.test,
// c.test) whose well-known is served by ts, with a settable clock.
func newCachingResolver(ca *testCA, ts *testServer, srv *srvTable, size int) (*Resolver, *clock) {
	addr := ts.Listener.Addr().String()
	rt := routes{"hs1.test:443": addr, "a.test:443": addr, "b.test:443": addr, "c.test:443": addr}
	c := newClock()
	if srv == nil {
		srv = &srvTable{}
	}
	r := New(Options{RootCAs: ca.pool, Dial: rt.dial, LookupSRV: srv.lookup, AllowPrivateNetworks: true, Now: c.now, CacheSize: size})
	return r, c
}

func TestWellKnownCacheLifetime(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		cacheControl string
		ttl          time.Duration
	}{
		{"", 24 * time.Hour},
		{"max-age=600", 10 * time.Minute},
		{"public, MAX-AGE=\"7200\"", 2 * time.Hour},
		{"max-age=10", 5 * time.Minute},
		{"max-age=0", 5 * time.Minute},
		{"no-store", 5 * time.Minute},
		{"no-cache, max-age=3600", 5 * time.Minute},
		{"max-age=31536000", 48 * time.Hour},
		{"max-age=99999999999999999999", 48 * time.Hour},
		{"max-age=soon", 24 * time.Hour},
	} {
		t.Run(tc.cacheControl, func(t *testing.T) {
			var header []string
			if tc.cacheControl != "" {
				header = []string{"Cache-Control", tc.cacheControl}
			}
			ts := ca.server(t, serveWellKnown(`{"m.server": "fed.test:8448"}`, header...))
			r, clock := newCachingResolver(ca, ts, nil, 0)
			want := []Target{{"fed.test:8448", "fed.test:8448", "fed.test"}}
			sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
			clock.advance(tc.ttl - time.Second)
			sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
			if n := ts.hits.Load(); n != 1 {
				t.Fatalf("%d well-known fetches before expiry, want 1", n)
			}
			clock.advance(time.Second)
			sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
			if n := ts.hits.Load(); n != 2 {
				t.Fatalf("%d well-known fetches after expiry, want 2", n)
			}
		})
	}
}

// Failed well-known fetches are cached 5 minutes, doubling up to an hour.
func TestWellKnownFailureBackoff(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, http.NotFound)
	r, clock := newCachingResolver(ca, ts, nil, 0)
	mustResolve(t, r, "hs1.test")
	for i, d := range []time.Duration{5, 10, 20, 40, 60, 60} {
		d *= time.Minute
		clock.advance(d - time.Second)
		mustResolve(t, r, "hs1.test")
		if n := ts.hits.Load(); n != int32(i+1) {
			t.Fatalf("after failure %d: %d fetches within %v, want %d", i+1, n, d, i+1)
		}
		clock.advance(time.Second)
		mustResolve(t, r, "hs1.test")
		if n := ts.hits.Load(); n != int32(i+2) {
			t.Fatalf("after failure %d: %d fetches after %v, want %d", i+1, n, d, i+2)
		}
	}
}

// SRV answers are kept an hour, under a well-known kept longer.
func TestSRVCacheLifetime(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, serveWellKnown(`{"m.server": "delegated.test"}`))
	srv := &srvTable{records: map[string][]*net.SRV{"_matrix-fed._tcp.delegated.test": {{Target: "fed.test", Port: 1}}}}
	r, clock := newCachingResolver(ca, ts, srv, 0)
	check := func(wantFetches, wantLookups int) {
		t.Helper()
		sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{"fed.test:1", "delegated.test", "delegated.test"}})
		if n, m := int(ts.hits.Load()), len(srv.calls()); n != wantFetches || m != wantLookups {
			t.Fatalf("%d fetches and %d SRV lookups, want %d and %d", n, m, wantFetches, wantLookups)
		}
	}
	check(1, 1)
	clock.advance(time.Hour - time.Second)
	check(1, 1)
	clock.advance(time.Second)
	check(1, 2)
	clock.advance(23 * time.Hour)
	check(2, 3)
}

// A failed SRV lookup (not "not found") falls back, for 5 minutes only.
func TestSRVErrorCachedBriefly(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, serveWellKnown(`{"m.server": "delegated.test"}`))
	var mu sync.Mutex
	lookups := 0
	c := newClock()
	r := New(Options{
		RootCAs:              ca.pool,
		AllowPrivateNetworks: true,
		Now:                  c.now,
		Dial:                 routes{"hs1.test:443": ts.Listener.Addr().String()}.dial,
		LookupSRV: func(context.Context, string, string, string) (string, []*net.SRV, error) {
			mu.Lock()
			defer mu.Unlock()
			lookups++
			return "", nil, &net.DNSError{Err: "server misbehaving", IsTemporary: true}
		},
	})
	want := []Target{{"delegated.test:8448", "delegated.test", "delegated.test"}}
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
	c.advance(5*time.Minute - time.Second)
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
	c.advance(time.Second)
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), want)
	mu.Lock()
	defer mu.Unlock()
	if lookups != 4 || ts.hits.Load() != 1 {
		t.Errorf("%d SRV lookups and %d fetches, want 4 (two per resolution) and 1", lookups, ts.hits.Load())
	}
}

func TestConcurrentResolvesShareOneFetch(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, serveWellKnown(`{"m.server": "fed.test:8448"}`))
	r, _ := newCachingResolver(ca, ts, nil, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{"fed.test:8448", "fed.test:8448", "fed.test"}})
		})
	}
	wg.Wait()
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("%d well-known fetches, want 1", n)
	}
}

// A caller giving up does not stop the discovery others (or later
// callers) get.
func TestResolveContextEnds(t *testing.T) {
	ca := newTestCA(t)
	release := make(chan struct{})
	ts := ca.server(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		serveWellKnown(`{"m.server": "fed.test:8448"}`)(w, r)
	})
	r, _ := newCachingResolver(ca, ts, nil, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Resolve(ctx, "hs1.test"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Resolve with an ending context: %v, want DeadlineExceeded", err)
	}
	close(release)
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{"fed.test:8448", "fed.test:8448", "fed.test"}})
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("%d well-known fetches, want 1", n)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, serveWellKnown(`{"m.server": "fed.test:8448"}`))
	r, _ := newCachingResolver(ca, ts, nil, 2)
	for _, step := range []struct {
		name        string
		wantFetches int32
	}{
		{"a.test", 1}, {"b.test", 2}, {"c.test", 3}, // a.test evicted
		{"a.test", 4}, // b.test evicted
		{"c.test", 4},
		{"b.test", 5},
	} {
		mustResolve(t, r, step.name)
		if n := ts.hits.Load(); n != step.wantFetches {
			t.Fatalf("after resolving %s: %d fetches, want %d", step.name, n, step.wantFetches)
		}
	}
}

// Options.Hosts: no well-known, no SRV, private addresses allowed for it
// only.
func TestHostsOverride(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) })
	addr := ts.Listener.Addr().String()
	opts := noIO(t)
	opts.Dial = nil // real dialling, with the private-address check
	opts.RootCAs = ca.pool
	opts.Hosts = map[string]string{"hs1.test": addr, "hs2.test:8448": addr, "hs3.test": "no-port"}
	r := New(opts)

	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{addr, "hs1.test", "hs1.test"}})
	sameTargets(t, "hs2.test:8448", mustResolve(t, r, "hs2.test:8448"), []Target{{addr, "hs2.test:8448", "hs2.test"}})
	if _, err := r.Resolve(context.Background(), "hs3.test"); err == nil {
		t.Error("Resolve with a malformed override succeeded")
	}

	client := &http.Client{Transport: r.Transport()}
	for name, wantHost := range map[string]string{"hs1.test": "hs1.test", "hs2.test:8448": "hs2.test:8448"} {
		resp, err := client.Get("matrix-federation://" + name + "/_matrix/federation/v1/version")
		if err != nil {
			t.Fatalf("request to overridden %s: %v", name, err)
		}
		_ = resp.Body.Close()
		if got := ts.last(); got.Host != wantHost || got.SNI != strings.Split(name, ":")[0] {
			t.Errorf("request to %s: Host %q SNI %q", name, got.Host, got.SNI)
		}
	}
	// The same address reached other than through the table is refused.
	_, err := client.Get("matrix-federation://" + addr + "/_matrix/federation/v1/version")
	if !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("request to %s: %v, want ErrPrivateAddress", addr, err)
	}
}

func TestForget(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, serveWellKnown(`{"m.server": "fed.test:8448"}`))
	r, _ := newCachingResolver(ca, ts, nil, 0)
	mustResolve(t, r, "hs1.test")
	r.Forget("hs1.test")
	r.Forget("unknown.test")
	mustResolve(t, r, "hs1.test")
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// Forgetting a name whose well-known failed keeps the failure (and its
// back-off) but redoes the SRV lookups.
func TestForgetKeepsWellKnownFailure(t *testing.T) {
	ca := newTestCA(t)
	ts := ca.server(t, http.NotFound)
	srv := &srvTable{}
	r, _ := newCachingResolver(ca, ts, srv, 0)
	mustResolve(t, r, "hs1.test")
	r.Forget("hs1.test")
	sameTargets(t, "hs1.test", mustResolve(t, r, "hs1.test"), []Target{{"hs1.test:8448", "hs1.test", "hs1.test"}})
	if n, m := ts.hits.Load(), len(srv.calls()); n != 1 || m != 4 {
		t.Errorf("%d fetches and %d SRV lookups, want 1 and 4", n, m)
	}
}
