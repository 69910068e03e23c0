package internal

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// storedOrMade returns the thumbnail stored under key, making it from md's
// content first when there is none.
func (m *Media) storedOrMade(ctx context.Context, md *api.Metadata, key storage.ThumbnailKey) (*storage.Thumbnail, error) {
	t, err := m.store.Thumbnail(ctx, key)
	if !errors.Is(err, api.ErrNotFound) {
		return t, err
	}
	return m.once(ctx, key, func(ctx context.Context) (*storage.Thumbnail, error) {
		return m.makeThumbnail(ctx, md, key)
	})
}

// once runs produce for key, unless a run for the same key is under way:
// then it waits for that one's result. The run belongs to the component,
// not to the request (a client that gives up does not stop it for the
// others); it looks at storage again first, in case a run that has just
// finished stored the thumbnail. A waiting request stops waiting when ctx
// ends.
func (m *Media) once(ctx context.Context, key storage.ThumbnailKey,
	produce func(context.Context) (*storage.Thumbnail, error),
) (*storage.Thumbnail, error) {
	flight := fmt.Sprintf("%s/%s/%dx%d/%s/%t", key.Origin, key.MediaID, key.Spec.Width, key.Spec.Height, key.Spec.Method, key.Spec.Animated)
	ch := m.thumbs.flights.DoChan(flight, func() (any, error) {
		if !m.thumbs.tasks.start() {
			return nil, errStopped
		}
		defer m.thumbs.tasks.done()
		t, err := m.store.Thumbnail(m.ctx, key)
		if errors.Is(err, api.ErrNotFound) {
			return produce(m.ctx)
		}
		return t, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*storage.Thumbnail), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("media: waiting for a thumbnail: %w", ctx.Err())
	}
}

// makeThumbnail makes the thumbnail key names from md's content, in a
// slot, and stores it.
func (m *Media) makeThumbnail(ctx context.Context, md *api.Metadata, key storage.ThumbnailKey) (*storage.Thumbnail, error) {
	if err := m.thumbs.acquire(ctx); err != nil {
		return nil, err
	}
	defer m.thumbs.release()
	src, err := m.files.open(md.SHA256)
	if err != nil {
		return nil, err
	}
	defer func() { _ = src.Close() }()
	r, contentType, err := m.encode(func(w io.Writer) (thumbnail.Result, error) {
		return thumbnail.Generate(src, thumbnailSpec(key.Spec), m.thumbs.limits, w)
	})
	if err != nil {
		return nil, thumbnailError(md.MXC(), err)
	}
	m.metrics.thumbnailMade(sourceRequest)
	return m.storeThumbnail(ctx, r, key, contentType)
}

// encode runs a thumbnail encoder into a temporary file of the store and
// seals it.
func (m *Media) encode(enc func(io.Writer) (thumbnail.Result, error)) (*received, string, error) {
	r, err := m.files.temp()
	if err != nil {
		return nil, "", err
	}
	res, err := enc(r)
	if err == nil {
		err = r.seal()
	}
	if err != nil {
		r.discard()
		return nil, "", err
	}
	return r, res.ContentType, nil
}

// storeThumbnail puts r (sealed) in the store, where a file of the same
// bytes may be already, and records it under key. When another run
// recorded the key first, that one is returned and r's file is kept only
// if something names it.
func (m *Media) storeThumbnail(ctx context.Context, r *received, key storage.ThumbnailKey, contentType string) (*storage.Thumbnail, error) {
	t := &storage.Thumbnail{ThumbnailKey: key, ContentType: contentType, Size: r.size, SHA256: r.sha256, CreatedTS: m.nowMs()}
	_, err := m.files.keep([]*received{r}, func() error { return m.store.InsertThumbnail(ctx, t) }, m.referenced(ctx))
	if errors.Is(err, storage.ErrThumbnailExists) {
		return m.store.Thumbnail(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openThumbnail opens a stored thumbnail of md.
func (m *Media) openThumbnail(md *api.Metadata, t *storage.Thumbnail) (*api.Metadata, api.Content, error) {
	f, err := m.files.open(t.SHA256)
	if err != nil {
		return nil, nil, fmt.Errorf("media: thumbnail of %s: %w", md.MXC(), err)
	}
	return asThumbnail(md, t.ContentType, t.Size, t.SHA256), f, nil
}
