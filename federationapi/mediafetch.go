package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
)

// The time a fetch of remote media may take: each answer (the federation
// endpoint's, the deprecated endpoint's, a redirect's) must begin within
// mediaAnswerTimeout, and the whole fetch, content included, end within
// mediaFetchTimeout.
const (
	mediaAnswerTimeout = 30 * time.Second
	mediaFetchTimeout  = 5 * time.Minute
	// maxMediaMetadata bounds the JSON part of a federation media answer.
	maxMediaMetadata = 64 << 10
)

// The causes that end a fetch early; both are timeouts.
var (
	errNoAnswer = fmt.Errorf("no answer within %s: %w", mediaAnswerTimeout, context.DeadlineExceeded)
	errTooSlow  = fmt.Errorf("the media did not arrive within %s: %w", mediaFetchTimeout, context.DeadlineExceeded)
)

var _ mediaapi.RemoteFetcher = (*FederationAPI)(nil)

// FetchMedia implements mediaapi/api.RemoteFetcher: GET
// /_matrix/federation/v1/media/download/{mediaId} on the media's server
// (spec v1.11, server-server API "Content Repository"), or the deprecated
// download for a server that predates it.
func (f *FederationAPI) FetchMedia(ctx context.Context, m mediaapi.MXC) (*mediaapi.RemoteMedia, error) {
	return f.fetchMedia(ctx, m, mediaPaths{
		federation: "/_matrix/federation/v1/media/download/" + string(m.MediaID),
		legacy:     "/_matrix/media/v3/download/" + url.PathEscape(m.ServerName) + "/" + string(m.MediaID) + "?allow_remote=false",
	})
}

// FetchThumbnail implements mediaapi/api.RemoteFetcher: GET
// /_matrix/federation/v1/media/thumbnail/{mediaId} on the media's server,
// or the deprecated thumbnail endpoint for a server that predates it.
func (f *FederationAPI) FetchThumbnail(ctx context.Context, m mediaapi.MXC, want mediaapi.ThumbnailSpec) (*mediaapi.RemoteMedia, error) {
	legacy := want.Query()
	legacy.Set("allow_remote", "false")
	return f.fetchMedia(ctx, m, mediaPaths{
		federation: "/_matrix/federation/v1/media/thumbnail/" + string(m.MediaID) + "?" + want.Query().Encode(),
		legacy:     "/_matrix/media/v3/thumbnail/" + url.PathEscape(m.ServerName) + "/" + string(m.MediaID) + "?" + legacy.Encode(),
	})
}

// mediaPaths are where media is asked for: the federation endpoint, and
// the deprecated client-server one.
type mediaPaths struct{ federation, legacy string }

// fetchMedia asks m's server for the media at paths.federation and, when
// the server predates that endpoint, at paths.legacy (spec: "servers MUST
// try the endpoints described below before falling back to the deprecated
// /_matrix/media/* endpoints when they receive a 404 M_UNRECOGNIZED error.
// When falling back, servers MUST be sure to set allow_remote to false").
// The content is bounded in size (Options.MaxMediaBytes) and the fetch in
// time; closing the content ends the fetch.
func (f *FederationAPI) fetchMedia(ctx context.Context, m mediaapi.MXC, paths mediaPaths) (*mediaapi.RemoteMedia, error) {
	fetch := newMediaFetch(ctx, spec.ServerName(m.ServerName))
	rm, err := f.fetchFederationMedia(fetch, paths.federation)
	if predatesMediaEndpoints(err) {
		rm, err = f.fetchLegacyMedia(fetch, paths.legacy)
	}
	if err == nil && rm.Size > f.opts.MaxMediaBytes {
		_ = rm.Body.Close()
		err = fmt.Errorf("%w: %s announces %d bytes", mediaapi.ErrRemoteTooLarge, m.ServerName, rm.Size)
	}
	if err != nil {
		err = fetch.failure(err)
		fetch.end()
		return nil, err
	}
	rm.Body = &mediaBody{body: rm.Body, max: f.opts.MaxMediaBytes, left: f.opts.MaxMediaBytes, fetch: fetch}
	return rm, nil
}

// fetchFederationMedia asks at a federation media endpoint, signed, and
// reads the answer.
func (f *FederationAPI) fetchFederationMedia(fetch *mediaFetch, path string) (*mediaapi.RemoteMedia, error) {
	req, err := f.signedRequest(http.MethodGet, fetch.server, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := fetch.do(f.mediaClient, f.withUserAgent(req))
	if err != nil {
		return nil, remoteError(fetch.server, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(fetch.server, resp)
	}
	return f.readMediaAnswer(fetch, resp)
}

// fetchLegacyMedia asks at a deprecated media endpoint, through the same
// discovery and transport as federation requests (where servers have
// always fetched media from each other), unsigned: the endpoint is public.
func (f *FederationAPI) fetchLegacyMedia(fetch *mediaFetch, path string) (*mediaapi.RemoteMedia, error) {
	req, err := http.NewRequest(http.MethodGet, "matrix://"+string(fetch.server)+path, nil)
	if err != nil {
		return nil, fmt.Errorf("federationapi: a media request to %s: %w", fetch.server, err)
	}
	resp, err := fetch.do(f.mediaClient, f.withUserAgent(req))
	if err != nil {
		return nil, remoteError(fetch.server, err)
	}
	return plainMedia(fetch.server, resp)
}

// predatesMediaEndpoints says whether err is the answer of a server older
// than the federation media endpoints: 404 M_UNRECOGNIZED, as the spec
// says, and also what servers and proxies answer a path they do not know:
// 405, or a 404 or 400 that is no Matrix error (Complement's stand-in
// servers answer 400). A Matrix error other than M_UNRECOGNIZED comes
// from a server that knows the endpoint: it is its answer.
func predatesMediaEndpoints(err error) bool {
	var re *fedapi.RemoteError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Status {
	case http.StatusMethodNotAllowed:
		return true
	case http.StatusBadRequest, http.StatusNotFound:
		return re.ErrCode == "" || re.ErrCode == "M_UNRECOGNIZED"
	}
	return false
}

// readMediaAnswer reads a federation media answer: multipart/mixed with
// two parts, the media's metadata (a JSON object), then the content or,
// in a Location header, where to fetch it from.
func (f *FederationAPI) readMediaAnswer(fetch *mediaFetch, resp *http.Response) (*mediaapi.RemoteMedia, error) {
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		_ = resp.Body.Close()
		return nil, unusableAnswer(fetch.server, resp.StatusCode, "the media answer is not multipart/mixed", err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	if err := readMediaMetadata(mr); err != nil {
		_ = resp.Body.Close()
		return nil, unusableAnswer(fetch.server, resp.StatusCode, "the media answer has no JSON metadata part", err)
	}
	content, err := mr.NextPart()
	if err != nil {
		_ = resp.Body.Close()
		return nil, unusableAnswer(fetch.server, resp.StatusCode, "the media answer has no content part", err)
	}
	if location := content.Header.Get("Location"); location != "" {
		_ = resp.Body.Close()
		return f.followLocation(fetch, location)
	}
	return &mediaapi.RemoteMedia{
		ContentType: content.Header.Get("Content-Type"),
		UploadName:  mediaapi.DispositionFileName(content.Header.Get("Content-Disposition")),
		Size:        announcedSize(content.Header),
		Body: struct {
			io.Reader
			io.Closer
		}{content, resp.Body},
	}, nil
}

// readMediaMetadata reads the first part of a media answer, which must be
// a JSON object (the spec has it empty for now; what it holds is unused).
func readMediaMetadata(mr *multipart.Reader) error {
	part, err := mr.NextPart()
	if err != nil {
		return err
	}
	var meta map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(part, maxMediaMetadata)).Decode(&meta); err != nil {
		return err
	}
	if meta == nil {
		return errors.New("not an object")
	}
	return nil
}

// announcedSize is a part's Content-Length, -1 when it has none.
func announcedSize(h textproto.MIMEHeader) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// followLocation fetches media from where its server's answer points (the
// second part's Location): a plain HTTPS GET, unsigned (the URL is for
// whoever holds it), through the resolver's HTTPS client, which refuses
// private addresses as federation does and follows a bounded number of
// redirects. The URL is used once, never kept (spec: "servers SHOULD NOT
// cache the URL").
func (f *FederationAPI) followLocation(fetch *mediaFetch, location string) (*mediaapi.RemoteMedia, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, unusableAnswer(fetch.server, http.StatusOK, "the media answer points to a URL that is not HTTPS", err)
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, unusableAnswer(fetch.server, http.StatusOK, "the media answer points to an unusable URL", err)
	}
	resp, err := fetch.do(f.resolver.HTTPSClient(), f.withUserAgent(req))
	if err != nil {
		return nil, fmt.Errorf("federationapi: following %s's media to %s: %w", fetch.server, u.Redacted(), remoteError(fetch.server, err))
	}
	return plainMedia(fetch.server, resp)
}

// plainMedia reads an answer that is the media itself (the deprecated
// endpoints', a redirect's): its Content-Type, the file name of its
// Content-Disposition, its Content-Length.
func plainMedia(server spec.ServerName, resp *http.Response) (*mediaapi.RemoteMedia, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(server, resp)
	}
	return &mediaapi.RemoteMedia{
		ContentType: resp.Header.Get("Content-Type"),
		UploadName:  mediaapi.DispositionFileName(resp.Header.Get("Content-Disposition")),
		Size:        resp.ContentLength,
		Body:        resp.Body,
	}, nil
}

// withUserAgent names this software on a request.
func (f *FederationAPI) withUserAgent(req *http.Request) *http.Request {
	req.Header.Set("User-Agent", "Myelin/"+f.opts.Version)
	return req
}

// mediaFetch is one fetch of remote media from server: the context its
// requests and reading run in, which a timeout (errNoAnswer, errTooSlow)
// or end cancels.
type mediaFetch struct {
	server spec.ServerName
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.CancelFunc
}

// newMediaFetch starts a fetch from server within parent, bounded by
// mediaFetchTimeout.
func newMediaFetch(parent context.Context, server spec.ServerName) *mediaFetch {
	ctx, cancel := context.WithCancelCause(parent)
	ctx, stop := context.WithTimeoutCause(ctx, mediaFetchTimeout, errTooSlow)
	return &mediaFetch{server: server, ctx: ctx, cancel: cancel, stop: stop}
}

// end releases the fetch's context.
func (mf *mediaFetch) end() {
	mf.stop()
	mf.cancel(context.Canceled)
}

// do sends req within the fetch, ending the fetch (errNoAnswer) when no
// answer has begun within mediaAnswerTimeout.
func (mf *mediaFetch) do(client *http.Client, req *http.Request) (*http.Response, error) {
	timer := time.AfterFunc(mediaAnswerTimeout, func() { mf.cancel(errNoAnswer) })
	resp, err := client.Do(req.WithContext(mf.ctx))
	if !timer.Stop() && err == nil { // the answer began just as the time ran out
		_ = resp.Body.Close()
		return nil, errNoAnswer
	}
	return resp, err
}

// failure gives a failed fetch its meaning for the media component
// (mediaapi/api.RemoteFetcher): a timeout, the server's "not found", "not
// yet uploaded" and "too large", or else the server's failure as it is.
func (mf *mediaFetch) failure(err error) error {
	if cause := context.Cause(mf.ctx); errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", mediaapi.ErrRemoteTimeout, mf.server, cause)
	}
	var re *fedapi.RemoteError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case re.Status == http.StatusNotFound:
		return fmt.Errorf("%w: %w", mediaapi.ErrNotFound, err)
	case re.ErrCode == "M_NOT_YET_UPLOADED":
		return fmt.Errorf("%w: %w", mediaapi.ErrNotYetUploaded, err)
	case re.ErrCode == "M_TOO_LARGE":
		return fmt.Errorf("%w: %w", mediaapi.ErrRemoteTooLarge, err)
	}
	return err
}

// mediaBody is the content of a remote media answer: at most max bytes
// (left still allowed) (then mediaapi.ErrRemoteTooLarge), a failed read the server's
// failure (or a timeout); Close ends the fetch.
type mediaBody struct {
	body  io.ReadCloser
	max   int64
	left  int64
	fetch *mediaFetch
}

// Read implements io.Reader.
func (b *mediaBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		var probe [1]byte
		if n, err := io.ReadFull(b.body, probe[:]); n > 0 {
			return 0, fmt.Errorf("%w: %s sent more than %d bytes", mediaapi.ErrRemoteTooLarge, b.fetch.server, b.max)
		} else if !errors.Is(err, io.EOF) {
			return 0, b.readFailure(err)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, b.readFailure(err)
	}
	return n, err
}

// readFailure is a failed read of the content.
func (b *mediaBody) readFailure(err error) error {
	return b.fetch.failure(unusableAnswer(b.fetch.server, http.StatusOK, "the media was cut short", err))
}

// Close implements io.Closer.
func (b *mediaBody) Close() error {
	err := b.body.Close()
	b.fetch.end()
	return err
}
