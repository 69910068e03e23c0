package internal

import (
	"errors"
	"io"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// pregenerate makes the configured thumbnail sizes of an upload in the
// background, once the upload is durable: its caller answers the client
// without waiting, and a failure is logged, never the upload's error.
// What is not an image is left alone; with too many uploads already
// waiting for a slot, this one's thumbnails are left to be made on demand.
func (m *Media) pregenerate(md *api.Metadata) {
	log := m.log.WithField("mxc", md.MXC().String())
	if m.thumbs.waiting.Add(1) > maxWaitingUploads {
		m.thumbs.waiting.Add(-1)
		log.Warn("too many uploads waiting for thumbnails; this one's are made when asked for")
		return
	}
	if !m.thumbs.tasks.start() {
		m.thumbs.waiting.Add(-1)
		return
	}
	go func() {
		defer m.thumbs.tasks.done()
		err := m.pregenerateNow(md)
		switch {
		case err == nil:
		case m.ctx.Err() != nil:
			log.WithError(err).Debug("shutting down: this upload's thumbnails are made when asked for")
		default:
			logThumbnailFailure(log, err)
		}
	}()
}

// logThumbnailFailure logs why an upload got no thumbnails: an image this
// server refuses (over the pixel limit, corrupt) is the uploader's doing
// and logged as information, anything else as a warning.
func logThumbnailFailure(log logrus.FieldLogger, err error) {
	if errors.Is(err, thumbnail.ErrTooLarge) || errors.Is(err, thumbnail.ErrCorrupt) {
		log.WithError(err).Info("no thumbnails for this upload")
		return
	}
	log.WithError(err).Warn("making an upload's thumbnails failed")
}

// pregenerateNow decodes md's content once, in a slot, and makes each
// configured size it does not fit within (for those the original is the
// answer) and that is not stored yet.
func (m *Media) pregenerateNow(md *api.Metadata) error {
	err := m.thumbs.acquire(m.ctx)
	m.thumbs.waiting.Add(-1)
	if err != nil {
		return errStopped
	}
	defer m.thumbs.release()
	img, err := m.decodeStored(md)
	if errors.Is(err, thumbnail.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, size := range m.thumbs.sizes {
		if img.Info().FitsWithin(size.Width, size.Height) {
			continue
		}
		if m.ctx.Err() != nil {
			return errStopped
		}
		spec := api.ThumbnailSpec{Width: size.Width, Height: size.Height, Method: api.ThumbnailMethod(size.Method)}
		if err := m.pregenerateSize(img, storage.ThumbnailKey{Origin: md.Origin, MediaID: md.MediaID, Spec: spec}); err != nil {
			return err
		}
	}
	return nil
}

// decodeStored decodes the stored file of md as a still image.
func (m *Media) decodeStored(md *api.Metadata) (*thumbnail.Image, error) {
	src, err := m.files.open(md.SHA256)
	if err != nil {
		return nil, err
	}
	defer func() { _ = src.Close() }()
	return thumbnail.Decode(src, m.thumbs.limits, false)
}

// pregenerateSize makes and stores the thumbnail of img key names, unless
// a request made it first.
func (m *Media) pregenerateSize(img *thumbnail.Image, key storage.ThumbnailKey) error {
	if _, err := m.store.Thumbnail(m.ctx, key); !errors.Is(err, api.ErrNotFound) {
		return err
	}
	r, contentType, err := m.encode(func(w io.Writer) (thumbnail.Result, error) {
		return img.Thumbnail(thumbnailSpec(key.Spec), w)
	})
	if err != nil {
		return err
	}
	m.metrics.thumbnailMade(sourceUpload)
	_, err = m.storeThumbnail(m.ctx, r, key, contentType)
	return err
}
