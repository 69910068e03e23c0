package routing

import (
	"io"
	"mime"
	"net/http"
	"strings"
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

// inlineTypes are the types the spec lists as safe to serve with
// Content-Disposition: inline ("Serving inline content"); everything else
// is an attachment. SVG and HTML, which can run scripts, are not among
// them.
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true, "image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true, "audio/ogg": true,
	"audio/wave": true, "audio/wav": true, "audio/x-wav": true, "audio/x-pn-wav": true, "audio/flac": true, "audio/x-flac": true,
}

// serveContent answers with the file: its type, disposition, the spec's
// security headers, caching, and what http.ServeContent adds (ranges for
// audio and video, If-None-Match and If-Modified-Since, HEAD). Errors
// ServeContent finds (an unsatisfiable range) are Matrix errors.
func serveContent(w http.ResponseWriter, r *http.Request, md *api.Metadata, content api.Content, name string, public bool) {
	h := w.Header()
	// Set before ServeContent, which then neither sniffs nor replaces it.
	h.Set("Content-Type", md.ContentType)
	h.Set("Content-Disposition", contentDisposition(md.ContentType, name))
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

// contentDisposition is inline for the safe types and attachment for the
// rest (spec: download, Content-Disposition), with the file name when
// there is one: as a quoted string when it is printable ASCII, else
// encoded as RFC 8187 says (filename*=utf-8”…), as RFC 6266 asks for
// names outside ISO-8859-1.
func contentDisposition(contentType, name string) string {
	disposition := "attachment"
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && inlineTypes[mt] {
		disposition = "inline"
	}
	switch {
	case name == "":
		return disposition
	case isPrintableASCII(name):
		return disposition + `; filename="` + quoteEscaper.Replace(name) + `"`
	default:
		return disposition + "; filename*=utf-8''" + encodeRFC8187(name)
	}
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// encodeRFC8187 percent-encodes the UTF-8 bytes of s that are not
// attr-char (RFC 8187, section 3.2.1).
func encodeRFC8187(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
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
