package resolve

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	maxWellKnownBody = 50 << 10 // bytes
	maxRedirects     = 5
)

// newHTTPSClient returns a client for plain HTTPS fetches (well-known,
// and what HTTPSClient is for): the resolver's CAs and private-network
// check, no proxy, and redirects followed (spec step 3: "30x redirects
// should be followed, however redirection loops should be avoided") up to
// maxRedirects, HTTPS only, never to a URL already visited. keepAlives
// pools connections.
func (r *Resolver) newHTTPSClient(keepAlives bool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         r.dialer(r.allowPrivate),
			TLSClientConfig:     &tls.Config{RootCAs: r.rootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: r.timeout,
			ForceAttemptHTTP2:   true,
			DisableKeepAlives:   !keepAlives,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: checkRedirect,
	}
}

// checkRedirect follows a redirect unless it is the (maxRedirects+1)th,
// not HTTPS, or back to a URL already visited.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("resolve: more than %d redirects", maxRedirects)
	}
	if req.URL.Scheme != "https" {
		return fmt.Errorf("resolve: redirect to non-HTTPS %s", req.URL.Redacted())
	}
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			return fmt.Errorf("resolve: redirect loop at %s", req.URL.Redacted())
		}
	}
	return nil
}

// fetchWellKnown runs step 3's request for hostname and says how long its
// outcome holds: a valid answer per cacheTTL; a failure 5 minutes, doubled
// for each consecutive failure (prev) up to an hour.
func (r *Resolver) fetchWellKnown(ctx context.Context, hostname string, prev wellKnown, now time.Time) wellKnown {
	delegated, parsed, ttl, err := r.getWellKnown(ctx, hostname)
	if err == nil {
		return wellKnown{delegated: delegated, parsed: parsed, expires: now.Add(ttl)}
	}
	failures := 1
	if prev.delegated == "" {
		failures = min(prev.failures+1, 16) // 16 bounds the shift below
	}
	ttl = min(wellKnownMinTTL<<(failures-1), failureMaxTTL)
	return wellKnown{failures: failures, expires: now.Add(ttl)}
}

// getWellKnown fetches https://<hostname>/.well-known/matrix/server and
// returns its valid m.server, parsed too, with how long to cache it. Any failure is an
// error: transport, non-200, body over 50 KiB, bad JSON (whatever the
// Content-Type, which the spec says to ignore), m.server missing, not a
// string, or not a valid server name.
func (r *Resolver) getWellKnown(ctx context.Context, hostname string) (string, serverName, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostname+"/.well-known/matrix/server", nil)
	if err != nil {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: %w", hostname, err)
	}
	resp, err := r.wellKnown.Do(req)
	if err != nil {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: %w", hostname, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: status %s", hostname, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWellKnownBody+1))
	if err != nil {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: reading: %w", hostname, err)
	}
	if len(body) > maxWellKnownBody {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: body over %d bytes", hostname, maxWellKnownBody)
	}
	var doc struct {
		Server *string `json:"m.server"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: %w", hostname, err)
	}
	if doc.Server == nil {
		return "", serverName{}, 0, fmt.Errorf("resolve: well-known of %s: no m.server", hostname)
	}
	sn, err := parseServerName(*doc.Server)
	if err != nil {
		return "", sn, 0, fmt.Errorf("resolve: well-known of %s: m.server: %w", hostname, err)
	}
	return *doc.Server, sn, cacheTTL(resp.Header), nil
}

// cacheTTL is how long to keep a valid well-known answer: its
// Cache-Control max-age, or 24 hours without one, within 5 minutes and
// 48 hours; "no-store" and "no-cache" mean the 5 minute floor. Expires is
// not read.
func cacheTTL(h http.Header) time.Duration {
	ttl := wellKnownDefaultTTL
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return wellKnownMinTTL
			case "max-age":
				val = strings.Trim(val, `"`)
				if val == "" || strings.Trim(val, "0123456789") != "" {
					continue // not delta-seconds: ignored
				}
				// Too large to parse counts as very large (RFC 9111, 1.2.2).
				n, err := strconv.ParseUint(val, 10, 64)
				if err != nil || n > uint64(wellKnownMaxTTL/time.Second) {
					n = uint64(wellKnownMaxTTL / time.Second)
				}
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(ttl, wellKnownMinTTL), wellKnownMaxTTL)
}
