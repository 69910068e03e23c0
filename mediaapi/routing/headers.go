package routing

import (
	"io"
	"net/http"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// contentSecurityPolicy is the policy the spec recommends for served
// content (content repository), with media-src 'self' so that audio and
// video opened on their own still play.
const contentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
	"style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"

// Caching: a media ID's content never changes. Authenticated downloads may
// only be kept by the client's own cache; the unauthenticated ones by any.
// A day, so that media removed later stops being served within one.
const (
	cachePrivate = "private, max-age=86400, immutable"
	cachePublic  = "public, max-age=86400, immutable"
)

// serveContent answers with the file: its type, disposition, the spec's
// security headers, caching, and what http.ServeContent adds (ranges for
// audio and video, If-None-Match and If-Modified-Since, HEAD). Errors
// ServeContent finds (an unsatisfiable range) are Matrix errors.
func serveContent(w http.ResponseWriter, r *http.Request, md *api.Metadata, content api.Content, name string, public bool) {
	h := w.Header()
	// Set before ServeContent, which then neither sniffs nor replaces it.
	h.Set("Content-Type", md.ContentType)
	h.Set("Content-Disposition", api.ContentDisposition(md.ContentType, name))
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+md.SHA256+`"`)
	h.Set("Cache-Control", cachePrivate)
	if public {
		h.Set("Cache-Control", cachePublic)
	}
	http.ServeContent(&matrixErrorWriter{ResponseWriter: w}, r, "", time.UnixMilli(md.CreatedTS), content)
}

// matrixErrorWriter turns the plain-text errors http.ServeContent writes
// (416 for a range outside the file, 412 for a failed If-Match) into
// Matrix error bodies, keeping their status and headers (Content-Range).
type matrixErrorWriter struct {
	http.ResponseWriter
	failed bool
}

func (w *matrixErrorWriter) WriteHeader(status int) {
	if status < http.StatusBadRequest {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.failed = true
	w.Header().Del("Content-Disposition")
	errcode := "M_UNKNOWN"
	if status == http.StatusRequestedRangeNotSatisfiable {
		errcode = "M_INVALID_PARAM"
	}
	httputil.WriteJSON(w.ResponseWriter, status, (&httputil.MatrixError{ErrCode: errcode, Message: http.StatusText(status)}).Body())
}

func (w *matrixErrorWriter) Write(p []byte) (int, error) {
	if w.failed {
		return len(p), nil // ServeContent's text; the JSON is written
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom passes the file on to the writer's own ReadFrom, which sends it
// with sendfile(2) where the connection allows.
func (w *matrixErrorWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && !w.failed {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}
