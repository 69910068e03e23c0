package preview

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Errors of the package, each a sentinel with its Matrix meaning
// (internal/coded: a handler returns it as it is); the errors the package
// returns wrap exactly one of them (compare with errors.Is) after the step
// that failed.
//
// The spec lists no error responses for preview_url besides 429; these
// follow the content repository's security considerations (a remote file
// that is too large: 502 M_TOO_LARGE) and HTTP's meaning of the statuses.
var (
	// ErrInvalidURL: the URL does not parse, is not absolute or names no
	// host. The client's request is wrong: 400 M_INVALID_PARAM.
	ErrInvalidURL = coded.New("the URL cannot be previewed: it is not an absolute URL with a host",
		http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrUnsupportedScheme: a scheme other than http or https, asked for
	// or redirected to (file:, ftp:, gopher:, data:, ...): 400
	// M_INVALID_PARAM.
	ErrUnsupportedScheme = coded.New("only http and https URLs can be previewed", http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrForbiddenAddress: the host (or a redirect's) resolves to an
	// address the server may not reach: loopback, private, link-local,
	// reserved, or blacklisted, and not whitelisted. 403 M_FORBIDDEN tells
	// the user that policy, not the network, refused it.
	ErrForbiddenAddress = coded.New("the URL points to an address this server does not fetch from",
		http.StatusForbidden, "M_FORBIDDEN")
	// ErrTooLarge: a preview image longer than Config.MaxBytes (an HTML
	// page is read up to it instead). Spec, content repository security
	// considerations: large remote files are refused with 502
	// M_TOO_LARGE.
	ErrTooLarge = coded.New("the remote content is too large to preview", http.StatusBadGateway, "M_TOO_LARGE")
	// ErrTimeout: the fetch did not finish within Config.Timeout (dialling,
	// headers and body together): 504 M_UNKNOWN.
	ErrTimeout = coded.New("the remote server took too long to answer", http.StatusGatewayTimeout, "M_UNKNOWN")
	// ErrNotFound: the remote server answered 404 or 410: 404 M_NOT_FOUND.
	ErrNotFound = coded.New("the remote server has no such page", http.StatusNotFound, "M_NOT_FOUND")
	// ErrUpstream: any other failure to get the content: DNS, connection,
	// TLS, a non-2xx status, too many redirects: 502 M_UNKNOWN.
	ErrUpstream = coded.New("the remote content could not be fetched", http.StatusBadGateway, "M_UNKNOWN")
	// ErrNotImage: FetchImage got something that is not a previewable
	// image: 502 M_UNKNOWN (the caller usually just omits og:image).
	ErrNotImage = coded.New("the preview image is not an image", http.StatusBadGateway, "M_UNKNOWN")
)

// errTimeoutCause is the cause of the context a fetch runs under, so that
// its own deadline is told apart from the caller's.
var errTimeoutCause = errors.New("preview: fetch timeout")

// classify wraps err, a failure of step while fetching under ctx, with
// the one sentinel that gives its meaning. A cancellation by the caller's
// own context is returned as the context's error, not as a preview error.
func classify(ctx context.Context, step string, err error) error {
	var pe *coded.Error
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("preview: %s: %w", step, err)
	case ctx.Err() != nil && !errors.Is(context.Cause(ctx), errTimeoutCause):
		return fmt.Errorf("preview: %s: %w", step, ctx.Err())
	case ctx.Err() != nil || isNetTimeout(err):
		return fmt.Errorf("preview: %s: %w (%w)", step, ErrTimeout, err)
	default:
		return fmt.Errorf("preview: %s: %w (%w)", step, ErrUpstream, err)
	}
}

// isNetTimeout reports whether err is a network operation that timed out.
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
