package thumbnail

import "errors"

// The errors a caller tells apart: each one is wrapped with the detail of
// what was wrong, so compare with errors.Is.
var (
	// ErrUnsupported: the input is not a JPEG, PNG, GIF or still WebP.
	ErrUnsupported = errors.New("not an image that can be thumbnailed")
	// ErrTooLarge: the image claims more pixels than the limit allows.
	ErrTooLarge = errors.New("image too large to thumbnail")
	// ErrCorrupt: the image is of a supported type but cannot be decoded
	// (truncated, malformed, or hostile).
	ErrCorrupt = errors.New("image cannot be decoded")
	// ErrInvalidSpec: the requested width, height or method makes no sense.
	ErrInvalidSpec = errors.New("invalid thumbnail request")
)
