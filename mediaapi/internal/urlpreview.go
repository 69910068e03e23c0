package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/preview"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// DefaultPreviewsPerUser is how many previews one user may have fetched at
// once when PreviewOptions leave it unset: a timeline shows a few links at
// a time, and a user asking for many more is hammering other sites through
// this server.
const DefaultPreviewsPerUser = 4

// PreviewOptions configure URL previews.
type PreviewOptions struct {
	// Fetch is what the fetcher may reach and read.
	Fetch preview.Config
	// CacheTTL is how long an answer is reused; 0 stores none.
	CacheTTL time.Duration
	// PerUser bounds the previews one user has fetched at once (0:
	// DefaultPreviewsPerUser); more wait for one of them to end, for up to
	// the fetch timeout, then get api.ErrTooManyPreviews.
	PerUser int
}

// URLPreviews answers GET /_matrix/client/v1/media/preview_url: the page's
// OpenGraph data with its image stored as media, answers cached per URL
// for CacheTTL, one fetch per URL at a time however many users ask for it.
type URLPreviews struct {
	media   *Media
	fetcher *preview.Fetcher
	ttl     time.Duration
	slots   *userSlots
	wait    time.Duration
	flight  singleflight.Group
}

// NewURLPreviews returns the previews of m's server; it fails on a range
// or limit of opts.Fetch the fetcher cannot work with.
func NewURLPreviews(m *Media, opts PreviewOptions) (*URLPreviews, error) {
	f, err := preview.New(opts.Fetch)
	if err != nil {
		return nil, fmt.Errorf("media: URL previews: %w", err)
	}
	if opts.PerUser <= 0 {
		opts.PerUser = DefaultPreviewsPerUser
	}
	wait := opts.Fetch.Timeout
	if wait <= 0 {
		wait = preview.DefaultTimeout
	}
	return &URLPreviews{media: m, fetcher: f, ttl: opts.CacheTTL, slots: newUserSlots(opts.PerUser), wait: wait}, nil
}

// Close closes the fetcher's idle connections.
func (p *URLPreviews) Close() { p.fetcher.Close() }

// Preview is the preview of rawURL for user, as a JSON object: the cached
// answer while it lasts, else the page fetched now. The errors are the
// preview package's (bad URL, forbidden address, fetch failures), and
// api.ErrTooManyPreviews.
func (p *URLPreviews) Preview(ctx context.Context, user, rawURL string) (json.RawMessage, error) {
	url, err := preview.CanonicalURL(rawURL)
	if err != nil {
		return nil, err
	}
	if answer, ok, err := p.cached(ctx, url); err != nil || ok {
		return answer, err
	}
	release, err := p.slots.acquire(ctx, user, p.wait)
	if err != nil {
		return nil, err
	}
	defer release()
	// The fetch outlives a caller who gives up: others may wait for it,
	// and its answer is cached. The fetcher's time limits bound it.
	ch := p.flight.DoChan(url, func() (any, error) { return p.fetch(context.WithoutCancel(ctx), url) })
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(json.RawMessage), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("media: waiting for the preview of %s: %w", url, ctx.Err())
	}
}

// cached is the stored answer for url, unexpired.
func (p *URLPreviews) cached(ctx context.Context, url string) (json.RawMessage, bool, error) {
	answer, ok, err := p.media.store.URLPreview(ctx, url, p.media.nowMs())
	return answer, ok, err
}

// fetch previews url: its page, then its image, stored as media; the answer
// is cached. A fetch that another one just finished before it began finds
// that one's answer instead.
func (p *URLPreviews) fetch(ctx context.Context, url string) (json.RawMessage, error) {
	if answer, ok, err := p.cached(ctx, url); err != nil || ok {
		return answer, err
	}
	fetched := p.media.nowMs()
	page, err := p.fetcher.Preview(ctx, url)
	if err != nil {
		return nil, err
	}
	var img *preview.Image
	if page.ImageURL != "" {
		img, err = p.storeImage(ctx, page.ImageURL)
		if err != nil {
			// The text of the page is still worth showing.
			httputil.Logger(ctx).WithError(err).Info("URL preview: leaving the image out")
		}
	}
	answer, err := json.Marshal(page.Response(img))
	if err != nil {
		return nil, fmt.Errorf("media: encoding the preview of %s: %w", url, err)
	}
	p.remember(ctx, url, answer, fetched)
	return answer, nil
}

// remember caches answer for url, fetched at fetched (ms). A failure only
// costs a fetch later, so it is logged, not returned.
func (p *URLPreviews) remember(ctx context.Context, url string, answer []byte, fetched int64) {
	if p.ttl <= 0 {
		return
	}
	err := p.media.store.PutURLPreview(ctx, storage.URLPreview{
		URL:       url,
		Response:  answer,
		FetchedTS: fetched,
		ExpiresTS: fetched + p.ttl.Milliseconds(),
	})
	if err != nil {
		httputil.Logger(ctx).WithError(err).Warn("URL preview: caching the answer failed")
	}
}

// storeImage fetches a preview's image and stores it as media for no user:
// the server chose to fetch it, and the same answer goes to everyone who
// asks for the URL, so it counts against no one's quota.
func (p *URLPreviews) storeImage(ctx context.Context, imageURL string) (*preview.Image, error) {
	body, contentType, err := p.fetcher.FetchImage(ctx, imageURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	md, err := p.media.Upload(ctx, Upload{ContentType: contentType, Body: body, ContentLength: -1})
	if err != nil {
		return nil, fmt.Errorf("media: storing the preview image %s: %w", imageURL, err)
	}
	width, height := p.dimensions(ctx, md)
	return &preview.Image{
		MXC:         md.MXC().String(),
		ContentType: md.ContentType,
		Size:        md.Size,
		Width:       width,
		Height:      height,
	}, nil
}

// dimensions reads a stored image's size in pixels from its header, 0 × 0
// when it cannot be read (a format the thumbnailer does not know): then
// the page's og:image:width and height are answered, if it gives them.
func (p *URLPreviews) dimensions(ctx context.Context, md *api.Metadata) (width, height int) {
	_, content, err := p.media.openContent(md)
	if err != nil {
		httputil.Logger(ctx).WithError(err).Warn("URL preview: reopening the stored image failed")
		return 0, 0
	}
	defer func() { _ = content.Close() }()
	// Past the pixel limit Probe still says the size; a format it does
	// not read leaves Info empty.
	info, _ := thumbnail.Probe(content)
	return info.Width, info.Height
}
