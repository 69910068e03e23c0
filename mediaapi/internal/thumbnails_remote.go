package internal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// remoteThumbnail answers a thumbnail of another server's media: one
// stored before; else the thumbnail that server makes (Options.Remote),
// stored under its origin; else one made here of the original, which Open
// fetches as a download does. Without Options.Remote only media fetched
// before can be thumbnailed, and the rest is api.ErrNotFound, as for
// downloads.
func (m *Media) remoteThumbnail(ctx context.Context, mxc api.MXC, want api.ThumbnailSpec,
	wait time.Duration,
) (*api.Metadata, api.Content, error) {
	want, err := checkSpec(want)
	if err != nil {
		return nil, nil, err
	}
	key := storage.ThumbnailKey{Origin: mxc.ServerName, MediaID: mxc.MediaID, Spec: want}
	t, err := m.store.Thumbnail(ctx, key)
	if err == nil {
		return m.openThumbnail(fetchedMetadata(t), t)
	}
	if !errors.Is(err, api.ErrNotFound) {
		return nil, nil, err
	}
	if m.opts.Remote != nil {
		t, err := m.once(ctx, key, func(ctx context.Context) (*storage.Thumbnail, error) { return m.fetchThumbnail(ctx, mxc, key) })
		if err == nil {
			return m.openThumbnail(fetchedMetadata(t), t)
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		m.log.WithError(err).WithField("mxc", mxc.String()).Debug("no thumbnail from the media's server; making one of the original")
	}
	md, content, err := m.Open(ctx, mxc, wait)
	if err != nil {
		return nil, nil, err
	}
	return m.thumbnailOf(ctx, md, content, want)
}

// remoteThumbnailTimeout bounds asking another server for a thumbnail, its
// body included: the run outlives the request that started it.
const remoteThumbnailTimeout = time.Minute

// fetchedMetadata describes a thumbnail fetched from the media's server:
// its time is when it was fetched (for the freeze, "newly-uploaded" remote
// media is what was cached since).
func fetchedMetadata(t *storage.Thumbnail) *api.Metadata {
	return &api.Metadata{
		Origin:      t.Origin,
		MediaID:     t.MediaID,
		ContentType: t.ContentType,
		Size:        t.Size,
		SHA256:      t.SHA256,
		CreatedTS:   t.CreatedTS,
	}
}

// fetchThumbnail asks mxc's server for the thumbnail key names and stores
// it. An answer that is not an image this server recognises, or that is
// animated when a still one was asked for, is refused
// (api.ErrCannotThumbnail): the spec has no room for either in a
// thumbnail response.
func (m *Media) fetchThumbnail(ctx context.Context, mxc api.MXC, key storage.ThumbnailKey) (*storage.Thumbnail, error) {
	fetchCtx, cancel := context.WithTimeout(ctx, remoteThumbnailTimeout)
	defer cancel()
	res, err := m.opts.Remote.FetchThumbnail(fetchCtx, mxc, key.Spec)
	if err != nil {
		return nil, fmt.Errorf("media: fetching a thumbnail of %s: %w", mxc, err)
	}
	defer func() { _ = res.Body.Close() }()
	r, err := m.files.receive(res.Body, m.opts.MaxUploadBytes, api.ErrTooLarge) // read within fetchCtx
	if err != nil {
		return nil, fmt.Errorf("media: fetching a thumbnail of %s: %w", mxc, err)
	}
	contentType, err := m.checkFetched(r, key.Spec)
	if err != nil {
		r.discard()
		return nil, fmt.Errorf("media: the thumbnail %s sent: %w", mxc.ServerName, err)
	}
	m.metrics.thumbnailMade(sourceRemote)
	return m.storeThumbnail(ctx, r, key, contentType)
}

// checkFetched reads a fetched thumbnail's header: its type, from its
// bytes.
func (m *Media) checkFetched(r *received, want api.ThumbnailSpec) (string, error) {
	if _, err := r.tmp.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("media: rewinding a temporary file: %w", err)
	}
	info, err := m.thumbs.limits.Probe(r.tmp)
	if err != nil {
		return "", fmt.Errorf("%w: %w", api.ErrCannotThumbnail, err)
	}
	if info.Animated() && !want.Animated {
		return "", fmt.Errorf("%w: an animation, for a still thumbnail", api.ErrCannotThumbnail)
	}
	return info.ContentType(), nil
}
