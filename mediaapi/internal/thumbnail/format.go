package thumbnail

import (
	"bytes"
	"fmt"
)

// Format is an image format this package reads.
type Format string

// The formats that can be thumbnailed.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
)

// ContentType returns the format's MIME type.
func (f Format) ContentType() string {
	return "image/" + string(f)
}

// sniffLen is how many leading bytes sniff needs to tell the formats apart.
const sniffLen = 12

// sniff names the format from the file's first bytes (its magic number),
// not from a declared content type, which the uploader chose.
func sniff(head []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return JPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, nil
	}
	return "", fmt.Errorf("%w: unrecognised file signature", ErrUnsupported)
}
