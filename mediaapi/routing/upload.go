package routing

import (
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// POST /_matrix/media/v3/upload?filename=…: the body is the file, its
// Content-Type header the file's type (none: application/octet-stream).
func (rt *Routes) upload(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	md, err := rt.media.Upload(r.Context(), uploadOf(r, dev))
	if err != nil {
		return uploadError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"content_uri": md.MXC().String()})
	return nil
}

// POST /_matrix/media/v1/create: a media ID to upload to later (spec v1.7,
// asynchronous uploads), and when it expires.
func (rt *Routes) create(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	mxc, expires, err := rt.media.Create(r.Context(), dev.UserID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"content_uri": mxc.String(), "unused_expires_at": expires})
	return nil
}

// PUT /_matrix/media/v3/upload/{serverName}/{mediaId}: the content of a
// media ID the same user created. A media ID with content already is 409
// M_CANNOT_OVERWRITE_MEDIA, one never created (or of another server, or
// expired) 404, one another user created 403, all before the body is read.
func (rt *Routes) uploadTo(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	mxc, err := mxcFromPath(r)
	if err != nil {
		return err
	}
	if mxc.ServerName != rt.media.ServerName() {
		return api.ErrNotFound
	}
	up := uploadOf(r, dev)
	up.MediaID = mxc.MediaID
	if _, err := rt.media.Upload(r.Context(), up); err != nil {
		return uploadError(err)
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// uploadOf is the upload a request carries.
func uploadOf(r *http.Request, dev *userapi.Device) internal.Upload {
	return internal.Upload{
		Uploader:      dev.UserID,
		ContentType:   r.Header.Get("Content-Type"),
		UploadName:    r.URL.Query().Get("filename"),
		Body:          r.Body,
		ContentLength: r.ContentLength,
	}
}

// uploadError answers a body that could not be read as the sender's fault:
// over the request limit is 413 M_TOO_LARGE, anything else (a cut
// connection) 400.
func uploadError(err error) error {
	if !errors.Is(err, internal.ErrBody) {
		return err
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return api.ErrTooLarge
	}
	return httputil.BadRequestUnknown("Could not read the request body")
}
