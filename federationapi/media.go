package federationapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
)

// errNoMedia answers the media endpoints when this process runs no media
// component.
var errNoMedia = httputil.NotFound("this server serves no media")

// mediaPollInterval is how often a federation download waiting for a
// created media ID's upload (timeout_ms) looks for it again.
const mediaPollInterval = 250 * time.Millisecond

// GET /_matrix/federation/v1/media/download/{mediaId} (spec v1.11,
// server-server API "Content Repository"): this server's media, as the
// spec's multipart/mixed answer.
func (f *FederationAPI) mediaDownload(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	return f.serveMedia(w, r, func(ctx context.Context, id mediaapi.MediaID) (*mediaapi.Metadata, mediaapi.Content, error) {
		return f.opts.Media.OpenLocal(ctx, id)
	})
}

// GET /_matrix/federation/v1/media/thumbnail/{mediaId}?width&height&method&animated
// (spec v1.11): a thumbnail of this server's media (client-server API,
// "Thumbnails"), answered like a download.
func (f *FederationAPI) mediaThumbnail(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	want, err := mediaapi.ParseThumbnailSpec(r.URL.Query())
	if err != nil {
		return err
	}
	return f.serveMedia(w, r, func(ctx context.Context, id mediaapi.MediaID) (*mediaapi.Metadata, mediaapi.Content, error) {
		return f.opts.Media.LocalThumbnail(ctx, id, want)
	})
}

// openFunc opens this server's media id (or a thumbnail of it).
type openFunc func(ctx context.Context, id mediaapi.MediaID) (*mediaapi.Metadata, mediaapi.Content, error)

// serveMedia answers a media request with what open gives for the path's
// {mediaId}, waiting up to timeout_ms for the upload to a created media
// ID.
func (f *FederationAPI) serveMedia(w http.ResponseWriter, r *http.Request, open openFunc) error {
	id, wait, err := mediaRequest(r)
	if err != nil {
		return err
	}
	if f.opts.Media == nil {
		return errNoMedia
	}
	md, content, err := waitForMedia(r.Context(), wait, func() (*mediaapi.Metadata, mediaapi.Content, error) {
		return open(r.Context(), id)
	})
	if err != nil {
		return err
	}
	defer func() { _ = content.Close() }()
	writeMediaAnswer(w, r, md, content)
	return nil
}

// mediaRequest reads the {mediaId} of the path, checked against the
// spec's grammar, and timeout_ms.
func mediaRequest(r *http.Request) (mediaapi.MediaID, time.Duration, error) {
	id, err := mediaapi.ParseMediaID(httputil.Vars(r)["mediaId"])
	if err != nil {
		return "", 0, err
	}
	wait, err := mediaapi.ParseTimeout(r.URL.Query().Get("timeout_ms"))
	return id, wait, err
}

// waitForMedia calls open until it stops answering
// mediaapi.ErrNotYetUploaded, for at most wait (the spec's timeout_ms:
// "the maximum number of milliseconds that the client is willing to wait
// to start receiving data, in the case that the content has not yet been
// uploaded").
func waitForMedia(
	ctx context.Context,
	wait time.Duration,
	open func() (*mediaapi.Metadata, mediaapi.Content, error),
) (*mediaapi.Metadata, mediaapi.Content, error) {
	deadline := time.Now().Add(wait)
	for {
		md, content, err := open()
		if !errors.Is(err, mediaapi.ErrNotYetUploaded) || time.Now().After(deadline) {
			return md, content, err
		}
		select {
		case <-time.After(min(mediaPollInterval, time.Until(deadline))):
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("federationapi: waiting for an upload: %w", ctx.Err())
		}
	}
}

// writeMediaAnswer streams content as the spec's answer: multipart/mixed
// with exactly two parts, the media's metadata (an empty JSON object) and
// the content with its Content-Type and Content-Disposition. Once the
// status is sent a failure can only cut the answer short, which the other
// server sees as a missing closing boundary.
func writeMediaAnswer(w http.ResponseWriter, r *http.Request, md *mediaapi.Metadata, content io.Reader) {
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	w.WriteHeader(http.StatusOK)
	if err := writeMediaParts(mw, md, content); err != nil {
		httputil.Logger(r.Context()).WithError(err).Debug("the media answer was cut short")
	}
}

// writeMediaParts writes the two parts and the closing boundary.
func writeMediaParts(mw *multipart.Writer, md *mediaapi.Metadata, content io.Reader) error {
	meta, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(meta, "{}"); err != nil {
		return err
	}
	part, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":        {md.ContentType},
		"Content-Disposition": {mediaapi.ContentDisposition(md.ContentType, md.UploadName)},
	})
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, content); err != nil {
		return err
	}
	return mw.Close()
}
