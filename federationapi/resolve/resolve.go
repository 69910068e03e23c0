// Package resolve turns a Matrix server name into where to connect for the
// Server-Server API, following "Resolving server names" in the Matrix spec
// v1.19 (server-server-api, "Server discovery";
// https://spec.matrix.org/v1.19/server-server-api/#resolving-server-names),
// and provides the http.RoundTripper federation clients send requests with.
//
// The steps, as numbered in the spec, with the address dialled, the Host
// header sent and the name the certificate must be valid for (sent as SNI
// unless an IP address):
//
//	(1)   IP literal:              ip:(port or 8448), server name, ip
//	(2)   hostname:port:           hostname:port, server name, hostname
//	(3)   otherwise GET https://<hostname>/.well-known/matrix/server; if its
//	      m.server holds a delegated server name:
//	(3.1) delegated IP literal:    ip:(port or 8448), delegated name, ip
//	(3.2) delegated host:port:     host:port, delegated name, host
//	(3.3) SRV _matrix-fed._tcp.<delegated host>: each target:port, host, host
//	(3.4) (deprecated) SRV _matrix._tcp.<delegated host>: likewise
//	(3.5) <delegated host>:8448, host, host
//	(4)   the well-known failed in any way (transport error, non-200, body
//	      over 50 KiB, bad JSON, m.server missing or invalid):
//	      SRV _matrix-fed._tcp.<hostname>: each target:port, hostname, hostname
//	(5)   (deprecated) SRV _matrix._tcp.<hostname>: likewise
//	(6)   <hostname>:8448, hostname, hostname
//
// Hostnames (including SRV targets) are resolved to IP addresses with
// A/AAAA (and CNAME) records when connecting.
package resolve

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Target is where to send requests for a server name.
type Target struct {
	Addr          string // host:port to dial
	Host          string // Host header to send
	TLSServerName string // name the certificate must be valid for (SNI, unless an IP)
}

// Options configure a Resolver. The zero value resolves with the system's
// DNS and CAs and refuses non-public addresses.
type Options struct {
	// Hosts is a static override table: server name -> "host:port". A name
	// in it is resolved to that address only (no well-known, no SRV), with
	// Host header the server name and TLS server name its hostname, and
	// its addresses are dialled even if private (an operator put them
	// there).
	Hosts map[string]string
	// AllowPrivateNetworks lets resolved addresses be loopback, private
	// (RFC 1918, RFC 4193 fc00::/7), link-local, CGNAT 100.64.0.0/10,
	// unspecified, multicast or otherwise reserved. Off: dialling such an
	// address fails with an error wrapping ErrPrivateAddress. The check is
	// on the IP actually dialled, after DNS, so a hostname resolving to
	// 127.0.0.1 is refused too; it applies to well-known fetches as well.
	AllowPrivateNetworks bool
	// RootCAs are the CAs trusted for TLS (nil: the system's).
	RootCAs *x509.CertPool
	// LookupSRV replaces net.DefaultResolver.LookupSRV (for tests).
	LookupSRV func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	// LookupIPAddr, if set, resolves hostnames to dial instead of the
	// net.Dialer's own lookup (for tests). Ignored when Dial is set.
	LookupIPAddr func(ctx context.Context, host string) ([]net.IPAddr, error)
	// Dial, if set, opens every TCP connection the resolver makes (the
	// well-known fetches and Transport's requests) instead of a net.Dialer;
	// addr is the host:port to reach, before DNS. It is meant for tests
	// that point names at local servers. The private-network check then
	// runs on the returned connection's remote address (closing it when
	// refused), so a hook returning a connection whose remote address is
	// not ip:port needs AllowPrivateNetworks.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now replaces time.Now for cache expiry (for tests).
	Now func() time.Time
	// Timeout bounds one well-known fetch, redirects included, and one
	// SRV lookup (default 10 s).
	Timeout time.Duration
	// CacheSize bounds the number of server names whose resolution is
	// cached, and of TLS server names with a connection pool (default
	// 10,000). The least recently used is evicted first.
	CacheSize int
}

// Default ports and limits.
const (
	defaultPort      = "8448"
	defaultTimeout   = 10 * time.Second
	defaultCacheSize = 10000
)

// Cache lifetimes.
//
// The spec (step 3) says to respect the well-known response's cache control
// headers, with a recommended default of 24 hours and maximum of 48 hours,
// to cache errors "for up to an hour", and encourages exponential back-off
// for repeated failures. The floor and the first failure period of
// 5 minutes follow Synapse's well-known resolver (its minimum cache period):
// a max-age of 0 or "no-store" would otherwise mean a fetch before every
// request. Go's resolver does not report DNS TTLs, so results of SRV
// lookups are kept for an hour (or 5 minutes after a lookup error other
// than "not found", which may be transient); A/AAAA lookups happen when
// connecting, not here.
const (
	wellKnownDefaultTTL = 24 * time.Hour
	wellKnownMaxTTL     = 48 * time.Hour
	wellKnownMinTTL     = 5 * time.Minute
	failureMaxTTL       = time.Hour
	srvTTL              = time.Hour
	srvErrorTTL         = 5 * time.Minute
)

// Resolver resolves server names and caches the results. Make one with
// New; it is safe for concurrent use.
type Resolver struct {
	hosts        map[string]string
	allowPrivate bool
	rootCAs      *x509.CertPool
	lookupSRV    func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	lookupIP     func(ctx context.Context, host string) ([]net.IPAddr, error)
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	now          func() time.Time
	timeout      time.Duration
	wellKnown    *http.Client
	https        *http.Client

	mu         sync.Mutex
	cache      *lru[string, entry]
	inflight   map[string]*call
	transports *lru[transportKey, *http.Transport]
}

// entry is the cached resolution of a server name that needed discovery
// (steps 3 to 6).
type entry struct {
	targets []Target
	expires time.Time // of targets; never after wk.expires
	wk      wellKnown
}

// wellKnown is the outcome of a well-known fetch.
type wellKnown struct {
	delegated string     // m.server; "" if the fetch failed
	parsed    serverName // delegated, parsed
	expires   time.Time  // when to fetch again
	failures  int        // consecutive failed fetches
}

// call is a discovery in progress, which concurrent callers share.
type call struct {
	done    chan struct{}
	targets []Target
}

// New returns a Resolver with opts.
func New(opts Options) *Resolver {
	r := &Resolver{
		hosts:        make(map[string]string, len(opts.Hosts)),
		allowPrivate: opts.AllowPrivateNetworks,
		rootCAs:      opts.RootCAs,
		lookupSRV:    opts.LookupSRV,
		lookupIP:     opts.LookupIPAddr,
		dial:         opts.Dial,
		now:          opts.Now,
		timeout:      opts.Timeout,
		inflight:     make(map[string]*call),
	}
	for name, addr := range opts.Hosts {
		r.hosts[name] = addr
	}
	if r.lookupSRV == nil {
		r.lookupSRV = net.DefaultResolver.LookupSRV
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.timeout <= 0 {
		r.timeout = defaultTimeout
	}
	size := opts.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	r.cache = newLRU[string, entry](size, nil)
	r.transports = newLRU(size, func(_ transportKey, t *http.Transport) { t.CloseIdleConnections() })
	r.wellKnown = r.newHTTPSClient(false) // one fetch per host a day: no pool worth keeping
	r.https = r.newHTTPSClient(true)
	return r
}

// HTTPSClient is a client for plain HTTPS fetches beside the federation
// requests, of URLs another server points to (the Location of a
// federation media answer): unsigned, through no proxy, trusting
// Options.RootCAs, refusing non-public addresses unless
// Options.AllowPrivateNetworks (the Hosts table does not apply: these are
// not server names), following at most 5 redirects, HTTPS only, never in
// a loop. It has no overall timeout: callers bound requests with their
// contexts.
func (r *Resolver) HTTPSClient() *http.Client { return r.https }

// Resolve returns the targets to try, in order, for a server name. It
// fails only for an invalid server name, a malformed Options.Hosts entry,
// or the end of ctx: when discovery finds nothing, the spec's last step
// (<hostname>:8448) is the answer.
//
// The results of discovery (steps 3 to 6) are cached, for at most
// Options.CacheSize names (least recently used evicted):
//
//   - a valid well-known answer for its Cache-Control max-age, or 24 hours
//     without one (the spec's recommended default), kept within 5 minutes
//     and 48 hours (the spec's recommended maximum); "no-store" and
//     "no-cache" mean 5 minutes;
//   - a failed well-known fetch for 5 minutes, doubled for each
//     consecutive failure up to an hour (the spec: cache errors "for up to
//     an hour", and "exponentially back off for repeated failures");
//   - SRV answers, and the fallback to port 8448 when there is none, for an
//     hour, as Go's resolver does not report DNS TTLs (5 minutes after a
//     lookup error other than "not found"), and never longer than the
//     well-known answer they follow.
//
// IP literals, explicit ports and Hosts entries need no I/O and are not
// cached. A/AAAA lookups happen when connecting.
func (r *Resolver) Resolve(ctx context.Context, serverName spec.ServerName) ([]Target, error) {
	name := string(serverName)
	sn, err := parseServerName(name)
	if err != nil {
		return nil, err
	}
	if addr, ok := r.hosts[name]; ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("resolve: override for %s is not host:port: %w", name, err)
		}
		return []Target{{Addr: addr, Host: name, TLSServerName: sn.host}}, nil
	}
	if sn.ip.IsValid() || sn.port != "" {
		return []Target{direct(name, sn)}, nil // steps 1 and 2
	}
	return r.discover(ctx, name, sn.host)
}

// direct is the target of an IP literal or a name with an explicit port
// (steps 1 and 2, and 3.1 and 3.2 for a delegated name): its address, with
// the name, as written, for the Host header.
func direct(name string, sn serverName) Target {
	return Target{Addr: sn.addr(), Host: name, TLSServerName: sn.host}
}

// Forget drops the cached resolution of serverName, so that the next
// Resolve discovers it again (fetching the well-known anew), for example
// after none of its targets answered. A cached well-known failure is kept,
// so that its back-off still holds for an unreachable server; only its SRV
// lookups are redone.
func (r *Resolver) Forget(serverName spec.ServerName) {
	name := string(serverName)
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache.get(name)
	if !ok {
		return
	}
	if e.wk.delegated != "" {
		r.cache.remove(name)
		return
	}
	e.targets, e.expires = nil, time.Time{}
	r.cache.put(name, e)
}

// discover runs steps 3 to 6 for hostname, from the cache when fresh.
// Concurrent callers for one name share one discovery, which runs apart
// from any one caller's cancellation (bounded by the resolver's timeouts).
func (r *Resolver) discover(ctx context.Context, name, hostname string) ([]Target, error) {
	r.mu.Lock()
	prev, ok := r.cache.get(name)
	if ok && r.now().Before(prev.expires) {
		r.mu.Unlock()
		return slices.Clone(prev.targets), nil
	}
	c, running := r.inflight[name]
	if !running {
		c = &call{done: make(chan struct{})}
		r.inflight[name] = c
		go r.refresh(context.WithoutCancel(ctx), name, hostname, prev, c)
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return slices.Clone(c.targets), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("resolve: resolving %s: %w", name, ctx.Err())
	}
}

// refresh discovers name's targets, reusing prev's well-known answer while
// it is fresh, caches them and completes c.
func (r *Resolver) refresh(ctx context.Context, name, hostname string, prev entry, c *call) {
	now := r.now()
	wk := prev.wk
	if !now.Before(wk.expires) {
		wk = r.fetchWellKnown(ctx, hostname, prev.wk, now)
	}
	var ttl time.Duration
	if wk.delegated != "" {
		c.targets, ttl = r.delegatedTargets(ctx, wk.delegated, wk.parsed)
	} else {
		c.targets, ttl = r.srvTargets(ctx, hostname) // steps 4 to 6
	}
	e := entry{targets: c.targets, expires: now.Add(ttl), wk: wk}
	if wk.expires.Before(e.expires) {
		e.expires = wk.expires
	}
	r.mu.Lock()
	r.cache.put(name, e)
	delete(r.inflight, name)
	r.mu.Unlock()
	close(c.done)
}

// delegatedTargets runs steps 3.1 to 3.5 for a delegated server name,
// with how long to keep them.
func (r *Resolver) delegatedTargets(ctx context.Context, delegated string, sn serverName) ([]Target, time.Duration) {
	if sn.ip.IsValid() || sn.port != "" {
		return []Target{direct(delegated, sn)}, wellKnownMaxTTL // 3.1, 3.2: as long as the well-known
	}
	return r.srvTargets(ctx, sn.host) // 3.3 to 3.5
}

// srvTargets looks up SRV _matrix-fed._tcp.<hostname>, then the deprecated
// _matrix._tcp.<hostname>, and else falls back to <hostname>:8448 (steps
// 3.3 to 3.5, and 4 to 6). The Host header and TLS server name are
// hostname. Records are ordered by priority only: weights are ignored
// beyond the order the resolver returns records of equal priority in
// (Go's randomises it by weight). A record whose target is "." ("service
// decidedly not available", RFC 2782) is skipped, so a lookup with only
// such records counts as finding none.
func (r *Resolver) srvTargets(ctx context.Context, hostname string) ([]Target, time.Duration) {
	ttl := srvTTL
	for _, service := range []string{"matrix-fed", "matrix"} {
		lctx, cancel := context.WithTimeout(ctx, r.timeout)
		_, records, err := r.lookupSRV(lctx, service, "tcp", hostname)
		cancel()
		records = slices.DeleteFunc(records, func(s *net.SRV) bool {
			return s == nil || s.Port == 0 || strings.TrimSuffix(s.Target, ".") == ""
		})
		slices.SortStableFunc(records, func(a, b *net.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
		if len(records) > 0 { // Go may return some records with an error: use them
			targets := make([]Target, len(records))
			for i, s := range records {
				addr := net.JoinHostPort(strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Port)))
				targets[i] = Target{Addr: addr, Host: hostname, TLSServerName: hostname}
			}
			return targets, ttl
		}
		var dnsErr *net.DNSError
		if err != nil && (!errors.As(err, &dnsErr) || !dnsErr.IsNotFound) {
			ttl = srvErrorTTL
		}
	}
	return []Target{{Addr: net.JoinHostPort(hostname, defaultPort), Host: hostname, TLSServerName: hostname}}, ttl
}
