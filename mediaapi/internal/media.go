// Package internal is the media component's implementation: the
// content-addressed file store, uploads (streamed to disk while hashed,
// size- and quota-limited, acknowledged once file and metadata are
// durable), media IDs created for later uploads and their expiry, and
// reading media back.
//
// Thumbnails (thumbnails*.go): an uploaded JPEG, PNG, GIF or WebP gets the
// configured sizes made in the background once the upload is durable;
// other sizes, animated ones and thumbnails of remote media are made (or
// fetched from the media's server) when first asked for, once however many
// ask at the same time, and stored like files (content-addressed) with a
// row each in the thumbnails table. A bounded number are made at once.
//
// The parts that come later (URL previews, transcription, batch transfer,
// remote media) build on these operations of Media:
//
//   - Upload stores a file from an io.Reader as a given user, with its
//     content type and file name (a preview's image, each part of a batch);
//   - Open finds media by mxc:// URI, waiting a bounded time for a pending
//     upload, and opens its content with its metadata (thumbnailing,
//     transcribing, batch download); OpenLocal does the same for this
//     server's media only (the federation media endpoints);
//   - CheckDownload says whether a user may download a given mxc:// URI
//     (transcription only works on audio its caller may download);
//   - FilePath is where a stored file lies on disk, derived from its hash,
//     for programs that read files (the Transcriber's ffmpeg).
//
// Remote media reaches Open through Options.Remote, an api.RemoteFetcher
// that federation provides (remote.go): the first request for another
// server's media fetches it from its origin and keeps a copy, which later
// requests are served from; while Remote is nil, other servers' media is
// not found.
package internal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// Options configure the media component.
type Options struct {
	// ServerName is this server's name: the origin of local media.
	ServerName string
	// BasePath is the directory of the file store.
	BasePath string
	// MaxUploadBytes bounds one file.
	MaxUploadBytes int64
	// UserQuotaBytes bounds what one user uploads in total; 0 is no quota.
	UserQuotaBytes int64
	// UnusedUploadExpiry is how long a created media ID waits for content.
	UnusedUploadExpiry time.Duration
	// MaxPendingUploads bounds a user's created IDs waiting for content.
	MaxPendingUploads int
	// SweepInterval is how often expired media IDs are removed (0: a
	// minute).
	SweepInterval time.Duration
	// Remote fetches other servers' media (the federation component); nil
	// in a process without federation: their media is then not found
	// unless a copy is kept.
	Remote api.RemoteFetcher
	// ThumbnailSizes are made of every uploaded image (nil:
	// thumbnail.DefaultSizes()).
	ThumbnailSizes thumbnail.Sizes
	// ThumbnailLimits bound the images thumbnailed (zero fields: the
	// thumbnail package's defaults).
	ThumbnailLimits thumbnail.Limits
	// ThumbnailConcurrency bounds the thumbnails made at once (0:
	// DefaultThumbnailConcurrency).
	ThumbnailConcurrency int
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
}

// Media is the media component.
type Media struct {
	opts    Options
	store   *storage.Storage
	files   *files
	log     logrus.FieldLogger
	uploads signal
	metrics *metrics
	thumbs  *thumbnails
	// fetches shares a fetch of remote media among the requests for it.
	fetches singleflight.Group

	// ctx is the component's lifetime, for the work that outlives a
	// request (thumbnails, fetches of remote media); Close cancels it.
	ctx      context.Context
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	swept    sync.WaitGroup
}

var _ api.MediaAPI = (*Media)(nil)

// New opens the file store under opts.BasePath and starts the sweep of
// expired media IDs; Close stops it.
func New(opts Options, store *storage.Storage, log logrus.FieldLogger, reg prometheus.Registerer) (*Media, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	f, err := openFiles(opts.BasePath)
	if err != nil {
		return nil, err
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	m := &Media{opts: opts, store: store, files: f, log: log, metrics: met, thumbs: newThumbnails(opts), stop: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.uploads.init()
	m.swept.Add(1)
	go m.sweepLoop()
	return m, nil
}

// Close stops the sweep, the thumbnail work (a thumbnail being encoded is
// finished first) and the fetches of remote media.
func (m *Media) Close() error {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.cancel()
	})
	m.swept.Wait()
	m.thumbs.tasks.close()
	return nil
}

// ServerName is the origin of local media.
func (m *Media) ServerName() string { return m.opts.ServerName }

// MaxUploadBytes is the largest file accepted (m.upload.size).
func (m *Media) MaxUploadBytes() int64 { return m.opts.MaxUploadBytes }

// nowMs is the clock in milliseconds since the epoch.
func (m *Media) nowMs() int64 { return m.opts.Now().UnixMilli() }

// newMediaID returns a fresh media ID: 144 random bits in URL-safe base64
// (24 characters of [A-Za-z0-9_-], the spec's grammar).
func newMediaID() api.MediaID {
	var b [18]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return api.MediaID(base64.RawURLEncoding.EncodeToString(b[:]))
}

// Create makes a media ID for uploader to upload to later (POST
// /_matrix/media/v1/create) and says when it expires (ms since the epoch).
func (m *Media) Create(ctx context.Context, uploader string) (api.MXC, int64, error) {
	now := m.nowMs()
	p := storage.Pending{
		MediaID:   newMediaID(),
		Uploader:  uploader,
		CreatedTS: now,
		ExpiresTS: now + m.opts.UnusedUploadExpiry.Milliseconds(),
	}
	if err := m.store.CreatePending(ctx, p, m.opts.MaxPendingUploads); err != nil {
		return api.MXC{}, 0, err
	}
	return api.MXC{ServerName: m.opts.ServerName, MediaID: p.MediaID}, p.ExpiresTS, nil
}

// SweepExpired removes the media IDs whose time to be uploaded to has
// passed.
func (m *Media) SweepExpired(ctx context.Context) (int64, error) {
	return m.store.DeleteExpiredPending(ctx, m.nowMs())
}

// sweepLoop runs SweepExpired every SweepInterval until Close.
func (m *Media) sweepLoop() {
	defer m.swept.Done()
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			n, err := m.SweepExpired(context.Background())
			if err != nil {
				m.log.WithError(err).Warn("removing expired media IDs failed")
			} else if n > 0 {
				m.log.WithField("count", n).Debug("removed expired media IDs")
			}
		}
	}
}

// signal wakes downloads waiting for pending uploads: each completed upload
// closes the current channel and opens the next; a waiter takes the channel
// before it looks at the database, so it cannot miss the upload it waits
// for.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) init() { s.ch = make(chan struct{}) }

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// errStopped is what a wait gets when the component closes.
var errStopped = errors.New("media: stopped")

// waitTick bounds how long a waiting download goes without looking at the
// database, for uploads another process completes.
const waitTick = time.Second

// waitForUpload waits until lookup stops answering api.ErrNotYetUploaded,
// for at most wait: then it answers api.ErrNotYetUploaded.
func (m *Media) waitForUpload(ctx context.Context, wait time.Duration, lookup func() (*api.Metadata, error)) (*api.Metadata, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(waitTick)
	defer tick.Stop()
	for {
		woken := m.uploads.wait()
		md, err := lookup()
		if !errors.Is(err, api.ErrNotYetUploaded) {
			return md, err
		}
		select {
		case <-woken:
		case <-tick.C:
		case <-deadline.C:
			return nil, api.ErrNotYetUploaded
		case <-ctx.Done():
			return nil, fmt.Errorf("media: waiting for an upload: %w", ctx.Err())
		case <-m.stop:
			return nil, errStopped
		}
	}
}
