package preview

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxURLLength bounds the URLs the fetcher takes, asked for or found in a
// page; browsers and servers rarely accept more.
const maxURLLength = 4096

// sniffLen is how much of a body net/http's content sniffing looks at.
const sniffLen = 512

// Fetcher fetches URLs for previews with the protections described in the
// package documentation. It is safe for concurrent use.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// New returns a Fetcher for cfg, its zero fields set to the defaults. It
// fails if a range does not parse or a limit is negative.
func New(cfg Config) (*Fetcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.verify(); err != nil {
		return nil, err
	}
	policy, err := newAddressPolicy(cfg.IPRangeWhitelist, cfg.IPRangeBlacklist)
	if err != nil {
		return nil, err
	}
	f := &Fetcher{cfg: cfg}
	f.client = &http.Client{Transport: newTransport(policy, cfg.Timeout), CheckRedirect: f.checkRedirect}
	return f, nil
}

// Close closes the fetcher's idle connections.
func (f *Fetcher) Close() { f.client.CloseIdleConnections() }

// newTransport is the fetcher's connection pool: every socket passes the
// address policy just before it connects, and no proxy is taken from the
// environment (a proxy would connect on our behalf, past the policy).
func newTransport(policy addressPolicy, timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: timeout, ControlContext: policy.control}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    timeout,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// checkRedirect is the client's CheckRedirect: a redirect must stay within
// the redirect budget and lead to an http or https URL. (Its address is
// checked when it is dialled, like the first one's.)
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.cfg.MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrUpstream, f.cfg.MaxRedirects)
	}
	return checkURL(req.URL)
}

// parseURL reads a URL to fetch: absolute, http or https, with a host.
func parseURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// CanonicalURL is rawURL as a fetch would request it (its fragment, which
// never reaches the remote server, dropped), or the error Preview would fail
// with before connecting: the key a caller caches previews under, so that
// links differing only after '#' share one.
func CanonicalURL(rawURL string) (string, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return "", fmt.Errorf("preview: reading the URL: %w", err)
	}
	return u.String(), nil
}

// checkURL refuses URLs without a scheme and host, or with a scheme other
// than http and https.
func checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "":
		return fmt.Errorf("%w: no scheme", ErrInvalidURL)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme+":")
	case u.Hostname() == "":
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	return nil
}

// response is a fetched response whose body has not been read yet.
type response struct {
	url         *url.URL // after redirects
	contentType string   // the Content-Type header as sent
	mediaType   string   // lower case, without parameters; sniffed if the header has none
	length      int64    // Content-Length, -1 if unknown
	body        *body
}

// get sends a GET for raw and returns the response once its headers are
// in, with a 2xx status. The body must be closed; until then the fetch's
// time limit runs.
func (f *Fetcher) get(ctx context.Context, raw string) (*response, error) {
	u, err := parseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("preview: reading the URL: %w", err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.cfg.Timeout, errTimeoutCause)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("preview: building the request: %w: %w", ErrInvalidURL, err)
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		err = classify(ctx, "fetching "+u.Host, err) // before cancel, which would look like the caller's
		cancel()
		return nil, err
	}
	if err := checkStatus(resp.StatusCode); err != nil {
		_ = resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("preview: fetching %s: %w", u.Host, err)
	}
	b := &body{ctx: ctx, cancel: cancel, raw: resp.Body, r: bufio.NewReader(resp.Body), max: f.cfg.MaxBytes}
	return &response{
		url:         resp.Request.URL,
		contentType: resp.Header.Get("Content-Type"),
		mediaType:   mediaType(resp.Header.Get("Content-Type"), b),
		length:      resp.ContentLength,
		body:        b,
	}, nil
}

// checkStatus turns a remote status other than 2xx into its error.
func checkStatus(status int) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return fmt.Errorf("%w: the server answered %d", ErrNotFound, status)
	default:
		return fmt.Errorf("%w: the server answered %d", ErrUpstream, status)
	}
}

// mediaType is the lower-case media type of a response: its Content-Type
// header's, or, when that is missing, unparsable or only says
// application/octet-stream, what the first bytes of the body look like.
func mediaType(header string, b *body) string {
	mt, _, err := mime.ParseMediaType(header)
	if err == nil && mt != "application/octet-stream" {
		return strings.ToLower(mt)
	}
	head, _ := b.r.Peek(sniffLen) // a short or failed peek sniffs what it has; Read reports the error
	mt, _, _ = mime.ParseMediaType(http.DetectContentType(head))
	return mt
}

// body is a response body bounded by the fetcher's MaxBytes: past it,
// reading ends (truncate, for HTML) or fails with ErrTooLarge. Read errors
// are classified like the fetch's. Close ends the fetch and its timer.
type body struct {
	ctx      context.Context
	cancel   context.CancelFunc
	raw      io.Closer
	r        *bufio.Reader
	max      int64
	n        int64
	truncate bool
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.n >= b.max {
		return 0, b.atLimit()
	}
	if int64(len(p)) > b.max-b.n {
		p = p[:b.max-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		err = classify(b.ctx, "reading the body", err)
	}
	return n, err
}

// atLimit is what reading returns once MaxBytes are read: the end when
// truncating or when the body ends there, else ErrTooLarge.
func (b *body) atLimit() error {
	if b.truncate {
		return io.EOF
	}
	_, err := b.r.Peek(1)
	switch {
	case err == nil:
		return fmt.Errorf("preview: reading the body: %w: more than %d bytes", ErrTooLarge, b.max)
	case errors.Is(err, io.EOF):
		return io.EOF
	default:
		return classify(b.ctx, "reading the body", err)
	}
}

// Close implements io.Closer.
func (b *body) Close() error {
	err := b.raw.Close()
	b.cancel()
	return err
}
