package api

import (
	"fmt"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Errors of the media component, each with the answer the spec gives it
// (client-server API, content repository; internal/coded, compared with
// errors.Is).
var (
	ErrNotFound = coded.New("media not found", http.StatusNotFound, "M_NOT_FOUND")
	// ErrTooLarge: an upload over media_api.max_upload_bytes.
	ErrTooLarge = coded.New("the file is larger than this server accepts", http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	// ErrBatchTooLarge: a batch upload whose files together pass its limit
	// (ten times media_api.max_upload_bytes).
	ErrBatchTooLarge = coded.New("the files of this batch together are larger than this server accepts in one request",
		http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	// ErrCannotOverwrite: PUT /upload/{serverName}/{mediaId} for an ID
	// that already has content.
	ErrCannotOverwrite = coded.New("media already uploaded", http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")
	// ErrNotYetUploaded: a download of a created ID whose content did not
	// arrive within timeout_ms.
	ErrNotYetUploaded = coded.New("the content has not been uploaded yet", http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
	// ErrTooManyPending: POST /create by a user already holding
	// media_api.max_pending_uploads created IDs without content.
	ErrTooManyPending = coded.New("too many media IDs waiting for their upload; upload to them or wait for them to expire",
		http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	// ErrQuotaExceeded: an upload that would take its uploader past
	// media_api.user_quota_bytes. The upload endpoints answer a reached
	// quota with 403 M_FORBIDDEN (content-repo.yaml, POST /upload);
	// M_USER_LIMIT_EXCEEDED (v1.18) also needs an info_uri this server
	// does not have.
	ErrQuotaExceeded = coded.New("this upload would exceed your storage quota", http.StatusForbidden, "M_FORBIDDEN")
	// ErrTooManyPreviews: a user already waits for as many URL previews
	// being fetched as one user may (spec: 429 is preview_url's one listed
	// error).
	ErrTooManyPreviews = coded.New("too many URL previews are being fetched for you at once; try again shortly",
		http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	// ErrNotUploader: PUT /upload/{serverName}/{mediaId} by another user
	// than the one who created the ID.
	ErrNotUploader = coded.New("only the user who created this media ID may upload to it", http.StatusForbidden, "M_FORBIDDEN")
	// ErrCannotThumbnail: the content is not an image this server
	// thumbnails (authed-content-repo.yaml, thumbnail: 400, the example's
	// M_UNKNOWN).
	ErrCannotThumbnail = coded.New("cannot generate thumbnails for the requested content", http.StatusBadRequest, "M_UNKNOWN")
	// ErrTooLargeToThumbnail: an image over media_api.max_thumbnail_pixels
	// (thumbnail: 413).
	ErrTooLargeToThumbnail = coded.New("the image is too large to thumbnail", http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	// ErrRemoteTooLarge: another server's media larger than
	// media_api.max_upload_bytes, which this server neither fetches nor
	// serves (content repository, "Security considerations": 502
	// M_TOO_LARGE).
	ErrRemoteTooLarge = coded.New("the media on its server is larger than this server fetches", http.StatusBadGateway, "M_TOO_LARGE")
	// ErrRemoteTooLargeToThumbnail: another server's image over
	// media_api.max_thumbnail_pixels (thumbnail: 502 M_TOO_LARGE for remote
	// content, where local content is 413).
	ErrRemoteTooLargeToThumbnail = coded.New("the remote image is too large to thumbnail", http.StatusBadGateway, "M_TOO_LARGE")
	// ErrRemoteTimeout: another server did not send its media in time.
	// 504 with M_NOT_YET_UPLOADED, the download endpoints' only 504: the
	// content is not available here yet, and a client may ask again.
	ErrRemoteTimeout = coded.New("the media's server did not send it in time", http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
)

// InvalidParamError is a malformed media ID, server name, file name or
// query parameter: 400 M_INVALID_PARAM, Reason saying what is wrong.
type InvalidParamError struct {
	Reason string
	err    error // what it wraps, if anything (ErrInvalidMXC)
}

func (e *InvalidParamError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidMXC) hold for a bad mxc:// URI.
func (e *InvalidParamError) Unwrap() error { return e.err }

// MatrixCode is 400 M_INVALID_PARAM.
func (e *InvalidParamError) MatrixCode() (status int, errcode string) {
	return http.StatusBadRequest, "M_INVALID_PARAM"
}

// MissingParamError is a required parameter a request lacks: 400
// M_MISSING_PARAM, Reason naming it.
type MissingParamError struct {
	Reason string
}

func (e *MissingParamError) Error() string { return e.Reason }

// MatrixCode is 400 M_MISSING_PARAM.
func (e *MissingParamError) MatrixCode() (status int, errcode string) {
	return http.StatusBadRequest, "M_MISSING_PARAM"
}

// InvalidParam returns an InvalidParamError.
func InvalidParam(format string, args ...any) error {
	return &InvalidParamError{Reason: fmt.Sprintf(format, args...)}
}

// invalidMXC is an InvalidParamError for a bad mxc:// URI or part of one.
func invalidMXC(format string, args ...any) error {
	return &InvalidParamError{Reason: "invalid mxc:// URI: " + fmt.Sprintf(format, args...), err: ErrInvalidMXC}
}
