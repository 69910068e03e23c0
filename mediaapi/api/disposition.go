package api

import (
	"mime"
	"strings"
)

// inlineTypes are the types the spec lists as safe to serve with
// Content-Disposition: inline (client-server API, content repository,
// "Serving inline content"); everything else is an attachment. SVG and
// HTML, which can run scripts, are not among them.
var inlineTypes = map[string]bool{
	"text/css": true, "text/plain": true, "text/csv": true,
	"application/json": true, "application/ld+json": true,
	"image/jpeg": true, "image/gif": true, "image/png": true, "image/apng": true, "image/webp": true, "image/avif": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true, "audio/ogg": true,
	"audio/wave": true, "audio/wav": true, "audio/x-wav": true, "audio/x-pn-wav": true, "audio/flac": true, "audio/x-flac": true,
}

// ContentDisposition is the Content-Disposition media of contentType is
// served with, to clients and to other servers (the second part of a
// federation media answer): inline for the safe types and attachment for
// the rest (spec: download, Content-Disposition), with the file name when
// there is one: as a quoted string when it is printable ASCII, else
// encoded as RFC 8187 says (filename*=utf-8”…), as RFC 6266 asks for
// names outside ISO-8859-1.
func ContentDisposition(contentType, name string) string {
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

// DispositionFileName is the file name a Content-Disposition header gives
// (filename, or filename* decoded), "" when it gives none or does not
// parse. It is the name as sent, path separators included: callers check
// it (CheckUploadName) before keeping it.
func DispositionFileName(header string) string {
	if header == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(header)
	if err != nil {
		return ""
	}
	return params["filename"]
}
