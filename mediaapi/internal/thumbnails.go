package internal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// DefaultThumbnailConcurrency is how many thumbnails are made at once when
// Options.ThumbnailConcurrency is 0: each holds a decoded image (up to four
// bytes a pixel of max_thumbnail_pixels, 128 MiB at the default), and the
// work is CPU-bound.
const DefaultThumbnailConcurrency = 2

// maxWaitingUploads bounds the uploads waiting for their thumbnails to be
// pre-generated; past it an upload gets none in advance (they are made on
// demand).
const maxWaitingUploads = 1000

// thumbnails is the media component's thumbnail state: what to make, the
// limits, and the bounds on the work.
type thumbnails struct {
	sizes  thumbnail.Sizes
	limits thumbnail.Limits
	// slots bounds the thumbnails made at once, pre-generated or on
	// demand (a semaphore).
	slots chan struct{}
	// flights makes one thumbnail once however many requests want it at
	// the same time.
	flights singleflight.Group
	// waiting counts the uploads waiting for a slot to pre-generate.
	waiting atomic.Int64
	tasks   tasks
}

// newThumbnails takes the thumbnail options, with their defaults.
func newThumbnails(opts Options) *thumbnails {
	sizes := opts.ThumbnailSizes
	if len(sizes) == 0 {
		sizes = thumbnail.DefaultSizes()
	}
	n := opts.ThumbnailConcurrency
	if n <= 0 {
		n = DefaultThumbnailConcurrency
	}
	return &thumbnails{sizes: sizes, limits: opts.ThumbnailLimits, slots: make(chan struct{}, n)}
}

// acquire takes a slot to make thumbnails in, waiting for one unless ctx
// ends first.
func (t *thumbnails) acquire(ctx context.Context) error {
	select {
	case t.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("media: waiting to make a thumbnail: %w", ctx.Err())
	}
}

// release gives a slot back.
func (t *thumbnails) release() { <-t.slots }

// tasks tracks the work that outlives a request (pre-generation, a
// thumbnail being made for requests that may have gone), so Close can wait
// for it before the database closes.
type tasks struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// start counts a task in; false once closed.
func (t *tasks) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

// done counts a task out.
func (t *tasks) done() { t.wg.Done() }

// close refuses new tasks and waits for the running ones.
func (t *tasks) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

// LocalThumbnail implements api.MediaAPI (the federation thumbnail
// endpoint): OpenLocal, then thumbnailOf.
func (m *Media) LocalThumbnail(ctx context.Context, id api.MediaID, want api.ThumbnailSpec) (*api.Metadata, api.Content, error) {
	md, content, err := m.OpenLocal(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return m.thumbnailOf(ctx, md, content, want)
}

// Thumbnail answers the client thumbnail endpoints: for this server's
// media, Open (waiting up to wait for a created ID's upload), then
// thumbnailOf; for other servers' media, remoteThumbnail.
func (m *Media) Thumbnail(ctx context.Context, mxc api.MXC, want api.ThumbnailSpec,
	wait time.Duration,
) (*api.Metadata, api.Content, error) {
	if mxc.ServerName != m.opts.ServerName {
		if err := m.checkQuarantine(ctx, mxc); err != nil {
			return nil, nil, err
		}
		return m.remoteThumbnail(ctx, mxc, want, wait)
	}
	md, content, err := m.Open(ctx, mxc, wait)
	if err != nil {
		return nil, nil, err
	}
	return m.thumbnailOf(ctx, md, content, want)
}

// thumbnailOf answers want from md and its content, which it consumes
// (spec: client-server API, "Thumbnails"): the original itself when it is
// no larger than asked and not an animation the request did not ask for;
// else the stored thumbnail that answers the request, made now if there is
// none. api.ErrCannotThumbnail for what is not a JPEG, PNG, GIF or WebP
// this server can decode, api.ErrTooLargeToThumbnail over the pixel limit.
func (m *Media) thumbnailOf(ctx context.Context, md *api.Metadata, content api.Content,
	want api.ThumbnailSpec,
) (*api.Metadata, api.Content, error) {
	want, err := checkSpec(want)
	if err != nil {
		_ = content.Close()
		return nil, nil, err
	}
	info, err := m.thumbs.limits.Probe(content)
	if err != nil {
		_ = content.Close()
		return nil, nil, thumbnailError(md.MXC(), err)
	}
	if info.FitsWithin(want.Width, want.Height) && (want.Animated || !info.Animated()) {
		return original(md, content, info)
	}
	_ = content.Close()
	key := storage.ThumbnailKey{Origin: md.Origin, MediaID: md.MediaID, Spec: m.thumbs.target(want, info)}
	t, err := m.storedOrMade(ctx, md, key)
	if err != nil {
		return nil, nil, err
	}
	return m.openThumbnail(md, t)
}

// original serves the original as its own thumbnail (spec: "When the
// content is smaller than the requested dimensions, servers should return
// the original content"), typed by what its bytes are, not by what the
// uploader declared.
func original(md *api.Metadata, content api.Content, info thumbnail.Info) (*api.Metadata, api.Content, error) {
	if _, err := content.Seek(0, io.SeekStart); err != nil {
		_ = content.Close()
		return nil, nil, fmt.Errorf("media: rewinding %s: %w", md.MXC(), err)
	}
	return asThumbnail(md, info.ContentType(), md.Size, md.SHA256), content, nil
}

// asThumbnail is md describing a thumbnail of it: the thumbnail's type,
// size and file, no upload name, md's time (the freeze of the
// unauthenticated paths goes by when the media was stored).
func asThumbnail(md *api.Metadata, contentType string, size int64, sha256 string) *api.Metadata {
	t := *md
	t.ContentType, t.Size, t.SHA256, t.UploadName = contentType, size, sha256, ""
	return &t
}

// target is the request box whose stored thumbnail answers want for an
// image of info: a pre-generated size of the same method that is at least
// as large and that this image gets pre-generated (it does not fit within
// it), for crop also of the same shape; else want's own box. Animated only
// when asked for and the image is animated (the spec has such a request
// behave as a still one otherwise).
func (t *thumbnails) target(want api.ThumbnailSpec, info thumbnail.Info) api.ThumbnailSpec {
	want.Animated = want.Animated && info.Animated()
	size, covers := t.sizes.Pick(want.Width, want.Height, thumbnail.Method(want.Method))
	if !covers || string(size.Method) != string(want.Method) || info.FitsWithin(size.Width, size.Height) {
		return want
	}
	if size.Method == thumbnail.Crop && !sameShape(size.Width, size.Height, want.Width, want.Height) {
		return want
	}
	return api.ThumbnailSpec{Width: size.Width, Height: size.Height, Method: want.Method, Animated: want.Animated}
}

// sameShape says whether w1 × h1 and w2 × h2 have the same aspect ratio,
// within 2%: a crop of one serves for the other ("crop" keeps the aspect
// ratio of the request).
func sameShape(w1, h1, w2, h2 int) bool {
	a, b := int64(w1)*int64(h2), int64(w2)*int64(h1)
	return 50*abs(a-b) <= max(a, b)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// checkSpec refuses a request without a positive box or with a method
// other than crop and scale (400 M_INVALID_PARAM); no method is scale (the
// spec names none; Synapse's default).
func checkSpec(want api.ThumbnailSpec) (api.ThumbnailSpec, error) {
	if want.Method == "" {
		want.Method = api.ThumbnailScale
	}
	if want.Width < 1 || want.Height < 1 {
		return want, api.InvalidParam("width and height must be positive whole numbers")
	}
	if want.Method != api.ThumbnailCrop && want.Method != api.ThumbnailScale {
		return want, api.InvalidParam("method must be crop or scale")
	}
	return want, nil
}

// thumbnailSpec is a request in the thumbnail package's terms.
func thumbnailSpec(s api.ThumbnailSpec) thumbnail.Spec {
	return thumbnail.Spec{Width: s.Width, Height: s.Height, Method: thumbnail.Method(s.Method), Animated: s.Animated}
}

// thumbnailError gives the thumbnail package's refusals their meaning for
// clients: not an image this server decodes is api.ErrCannotThumbnail,
// over the pixel limit api.ErrTooLargeToThumbnail.
func thumbnailError(mxc api.MXC, err error) error {
	switch {
	case errors.Is(err, thumbnail.ErrTooLarge):
		return fmt.Errorf("media: thumbnailing %s: %w: %w", mxc, api.ErrTooLargeToThumbnail, err)
	case errors.Is(err, thumbnail.ErrUnsupported), errors.Is(err, thumbnail.ErrCorrupt):
		return fmt.Errorf("media: thumbnailing %s: %w: %w", mxc, api.ErrCannotThumbnail, err)
	case errors.Is(err, thumbnail.ErrInvalidSpec):
		return api.InvalidParam("%v", err)
	}
	return fmt.Errorf("media: thumbnailing %s: %w", mxc, err)
}
