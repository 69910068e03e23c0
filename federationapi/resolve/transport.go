package resolve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// transportKey picks a connection pool: one per TLS server name, and
// separate ones for Options.Hosts overrides, whose pools may dial private
// addresses, so that no other name ever reuses their connections.
type transportKey struct {
	tlsServerName string
	override      bool
}

// roundTripper is what Transport returns.
type roundTripper struct{ r *Resolver }

// Transport returns an http.RoundTripper for requests whose URL is
// matrix-federation://<server name>/path (the scheme of current
// gomatrixserverlib fclient), matrix://<server name>/path (the scheme of
// older fclient versions, such as the one this module requires) or
// https://<server name>/path. It resolves the server name, sends the
// request to https://<Addr>/path with the Target's Host header and TLS
// server name, and tries the targets in order until one answers (any HTTP
// status is an answer). When all fail it forgets the name's cached
// resolution (see Forget), unless the request's context ended. A request
// body is resent to later targets only if the request has GetBody (as
// http.NewRequest sets for in-memory bodies).
//
// Connections are pooled per TLS server name (keep-alive, HTTP/2 when the
// server offers it), trust Options.RootCAs, take at most 5 s to dial, use
// no proxy and are subject to the private-network check. The pools of the least
// recently used names beyond Options.CacheSize are closed.
func (r *Resolver) Transport() http.RoundTripper {
	return roundTripper{r}
}

// RoundTrip implements http.RoundTripper.
func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	switch req.URL.Scheme {
	case "matrix-federation", "matrix", "https":
	default:
		closeBody()
		return nil, fmt.Errorf("resolve: unsupported URL scheme %q", req.URL.Scheme)
	}
	ctx := req.Context()
	name := spec.ServerName(req.URL.Host)
	targets, err := t.r.Resolve(ctx, name)
	if err != nil {
		closeBody()
		return nil, err
	}
	_, override := t.r.hosts[string(name)]
	var errs []error
	for i, target := range targets {
		out := req.Clone(ctx)
		out.URL.Scheme, out.URL.Host, out.Host = "https", target.Addr, target.Host
		if i > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				errs = append(errs, errors.New("resolve: cannot resend the request body to the next target"))
				break
			}
			if out.Body, err = req.GetBody(); err != nil {
				errs = append(errs, fmt.Errorf("resolve: rewinding the request body: %w", err))
				break
			}
		}
		resp, err := t.r.transportFor(target.TLSServerName, override).RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", target.Addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() == nil {
		t.r.Forget(name)
	}
	return nil, fmt.Errorf("resolve: no target of %s answered: %w", name, errors.Join(errs...))
}

// CloseIdleConnections closes the idle connections of every pool, for
// http.Client.CloseIdleConnections.
func (t roundTripper) CloseIdleConnections() {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.r.transports.each(func(_ transportKey, tr *http.Transport) { tr.CloseIdleConnections() })
}

// transportFor returns the connection pool for a TLS server name.
func (r *Resolver) transportFor(tlsServerName string, override bool) *http.Transport {
	key := transportKey{tlsServerName, override}
	r.mu.Lock()
	defer r.mu.Unlock()
	if tr, ok := r.transports.get(key); ok {
		return tr
	}
	tr := &http.Transport{
		DialContext: r.dialer(r.allowPrivate || override),
		TLSClientConfig: &tls.Config{
			// An IP address here is verified against the certificate's IP
			// SANs and sent as no SNI, as the spec's "TLS" section asks.
			ServerName:         tlsServerName,
			RootCAs:            r.rootCAs,
			MinVersion:         tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(0),
		},
		ForceAttemptHTTP2: true,
		// A server that vanished without closing the connection (a network
		// cut) is noticed by the pings within seconds, not when the
		// request's 30 s timeout runs out.
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 5 * time.Second, PingTimeout: 3 * time.Second},
		TLSHandshakeTimeout:   10 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ExpectContinueTimeout: time.Second,
	}
	r.transports.put(key, tr)
	return tr
}
