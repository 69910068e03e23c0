package internal

import (
	"context"
	"errors"
	"io"
	"math"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// DefaultContentType is the type of content uploaded without one (spec:
// POST /_matrix/media/v3/upload, and the download's Content-Type).
const DefaultContentType = "application/octet-stream"

// maxUploadName bounds a file name, in bytes.
const maxUploadName = 255

// Upload is a file to store.
type Upload struct {
	// Uploader is the local user ID the file is stored for (and counted
	// against); "" stores it for no one and against no quota (a URL
	// preview's image, fetched by the server).
	Uploader string
	// ContentType is the declared type; "" or one that does not parse as
	// a media type is stored as application/octet-stream.
	ContentType string
	// UploadName is the file name, "" for none.
	UploadName string
	// Body is the content, read to its end.
	Body io.Reader
	// ContentLength is the announced size, -1 when unknown; a body that
	// turns out longer is refused all the same.
	ContentLength int64
	// MediaID, when set, is a media ID Create made for Uploader, which this
	// upload gives its content (PUT /_matrix/media/v3/upload/…).
	MediaID api.MediaID
}

// Upload stores a file: streamed to disk while hashed, limited to
// MaxUploadBytes (api.ErrTooLarge) and to what is left of the uploader's
// quota (api.ErrQuotaExceeded), fsynced, moved into place (or dropped when
// the same bytes are stored already) and recorded; it returns once both
// file and record are durable. For a MediaID, the errors of
// CheckPendingUpload come before the body is read. An image's thumbnails
// are made afterwards, in the background (pregenerate).
func (m *Media) Upload(ctx context.Context, up Upload) (*api.Metadata, error) {
	if err := CheckUploadName(up.UploadName); err != nil {
		return nil, err
	}
	if up.MediaID != "" {
		if err := m.CheckPendingUpload(ctx, up.MediaID, up.Uploader); err != nil {
			return nil, err
		}
	}
	limit, err := m.uploadLimit(ctx, up.Uploader, up.ContentLength)
	if err != nil {
		return nil, err
	}
	md := &api.Metadata{
		Origin:      m.opts.ServerName,
		MediaID:     up.MediaID,
		ContentType: NormalizeContentType(up.ContentType),
		UploadName:  up.UploadName,
		Uploader:    up.Uploader,
	}
	added, err := m.keepContent(ctx, up.Body, limit, md, m.commitUpload(ctx, md))
	if err != nil {
		return nil, err
	}
	m.metrics.uploaded(added, md.Size)
	if up.MediaID != "" {
		m.uploads.notify() // wake the downloads waiting for it
	}
	m.pregenerate(md)
	return md, nil
}

// limit is how many bytes an upload may have, and the error for one that
// has more.
type limit struct {
	bytes int64
	err   error
}

// tighter is l, or bytes with err when that is less.
func (l limit) tighter(bytes int64, err error) limit {
	if bytes < l.bytes {
		return limit{max(bytes, 0), err}
	}
	return l
}

// uploadLimit is the size limit, or what is left of the uploader's quota
// when that is less. A declared length over it is refused before reading.
func (m *Media) uploadLimit(ctx context.Context, uploader string, declared int64) (limit, error) {
	l := limit{m.opts.MaxUploadBytes, api.ErrTooLarge}
	if declared > l.bytes {
		return l, api.ErrTooLarge
	}
	left, err := m.quotaLeft(ctx, uploader)
	if err != nil {
		return l, err
	}
	l = l.tighter(left, api.ErrQuotaExceeded)
	if declared > l.bytes {
		return l, l.err
	}
	return l, nil
}

// quotaLeft is how many more bytes uploader may upload (math.MaxInt64
// without a quota, or for media stored for no one: preview images).
func (m *Media) quotaLeft(ctx context.Context, uploader string) (int64, error) {
	if m.opts.UserQuotaBytes <= 0 || uploader == "" {
		return math.MaxInt64, nil
	}
	used, err := m.store.Usage(ctx, uploader)
	if err != nil {
		return 0, err
	}
	return m.opts.UserQuotaBytes - used, nil
}

// keepContent streams body into the store as md's content, filling in
// its Size, SHA256 and CreatedTS, and records it with commit: at most l
// bytes (else l.err), fsynced, moved into place (or dropped when the same
// bytes are stored already), and kept only if commit succeeds. It says
// whether the file was new. Uploads and copies of other servers' media
// are stored through it alike.
func (m *Media) keepContent(ctx context.Context, body io.Reader, l limit, md *api.Metadata, commit func() error) (bool, error) {
	r, err := m.files.receive(body, l.bytes, l.err)
	if err != nil {
		return false, err
	}
	md.Size, md.SHA256, md.CreatedTS = r.size, r.sha256, m.nowMs()
	added, err := m.files.keep([]*received{r}, commit, m.referenced(ctx))
	if err != nil {
		return false, err
	}
	return added[0], nil
}

// commitUpload is the commit of an upload's metadata md: the pending
// media ID md names, or a fresh one.
func (m *Media) commitUpload(ctx context.Context, md *api.Metadata) func() error {
	if md.MediaID != "" {
		return func() error { return m.store.CompletePending(ctx, md, m.opts.UserQuotaBytes) }
	}
	return func() error {
		// A fresh random ID that is taken (2^-144) is drawn again.
		for {
			md.MediaID = newMediaID()
			err := m.store.InsertMedia(ctx, md, m.opts.UserQuotaBytes)
			if !errors.Is(err, api.ErrCannotOverwrite) {
				return err
			}
		}
	}
}

// referenced is what keep asks before it removes a file whose metadata
// failed to commit: whether some row names it. It asks even when ctx is
// cancelled, so that a request cut short cleans up after itself.
func (m *Media) referenced(ctx context.Context) func(sum string) (bool, error) {
	return func(sum string) (bool, error) { return m.store.FileReferenced(context.WithoutCancel(ctx), sum) }
}

// CheckPendingUpload says whether uploader may upload to id now:
// api.ErrCannotOverwrite when it has content, api.ErrNotFound when it was
// never created or has expired, api.ErrNotUploader when another user
// created it.
func (m *Media) CheckPendingUpload(ctx context.Context, id api.MediaID, uploader string) error {
	if _, err := m.store.Media(ctx, m.opts.ServerName, id); err == nil {
		return api.ErrCannotOverwrite
	} else if !errors.Is(err, api.ErrNotFound) {
		return err
	}
	p, err := m.store.Pending(ctx, id, m.nowMs())
	if err != nil {
		return err
	}
	if p.Uploader != uploader {
		return api.ErrNotUploader
	}
	return nil
}

// NormalizeContentType is the type stored for a declared Content-Type: as
// declared when it parses as a media type (spec: the download answers with
// "exactly the same as the original upload"), else
// application/octet-stream (the spec's answer for a type that is unknown
// or obviously wrong).
func NormalizeContentType(declared string) string {
	ct := strings.TrimSpace(declared)
	if ct == "" || len(ct) > 255 {
		return DefaultContentType
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return DefaultContentType
	}
	return ct
}

// CheckUploadName refuses file names that could not be given back in a
// Content-Disposition header: not UTF-8, with control characters, or
// longer than 255 bytes.
func CheckUploadName(name string) error {
	switch {
	case len(name) > maxUploadName:
		return api.InvalidParam("the file name is longer than %d bytes", maxUploadName)
	case !utf8.ValidString(name):
		return api.InvalidParam("the file name is not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return api.InvalidParam("the file name contains control characters")
	}
	return nil
}
