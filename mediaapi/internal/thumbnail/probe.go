package thumbnail

import (
	"bufio"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
)

// Info is what an image's header says about it.
type Info struct {
	Format Format
	// Width and Height are as displayed: a JPEG's EXIF orientation is
	// applied, so a portrait photograph stored sideways is taller than wide.
	Width  int
	Height int
	// Frames is 1 except for a GIF: Probe counts every frame; Decode counts
	// the frames it read (1 for a still thumbnail, which reads only the
	// first).
	Frames int
}

// Animated reports whether the image has more than one frame.
func (i Info) Animated() bool {
	return i.Frames > 1
}

// FitsWithin reports whether the image is no larger than width × height:
// then the spec has the server return the original rather than a
// thumbnail (Client-Server API, "Thumbnails").
func (i Info) FitsWithin(width, height int) bool {
	return i.Width <= width && i.Height <= height
}

// ContentType returns the MIME type of the image's format.
func (i Info) ContentType() string {
	return i.Format.ContentType()
}

// Probe reads an image's header with the default limits; see Limits.Probe.
func Probe(r io.Reader) (Info, error) {
	return DefaultLimits().Probe(r)
}

// Probe reads an image's header, never its pixels: the format, the
// dimensions and, for a GIF, the frames (which reads the file through, at
// constant memory). It refuses what is not a JPEG, PNG, GIF or still WebP
// (ErrUnsupported), a header that breaks its format (ErrCorrupt) and an
// image over the pixel limit (ErrTooLarge, with the Info filled in).
func (l Limits) Probe(r io.Reader) (Info, error) {
	br := bufio.NewReader(r)
	format, err := sniffReader(br)
	if err != nil {
		return Info{}, err
	}
	h := newHeader(format, l.withDefaults(), gifCount)
	if err := h.readThrough(&guard{r: br, h: h}); err != nil {
		if !h.sized {
			return Info{}, err
		}
		return h.info(), err
	}
	if !h.sized {
		return Info{}, fmt.Errorf("%w: %s header is truncated", ErrCorrupt, format)
	}
	return h.info(), nil
}

// readThrough reads g until the header scan is done or the stream ends.
func (h *header) readThrough(g *guard) error {
	buf := make([]byte, 32<<10)
	for !h.scan.done {
		_, err := g.Read(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sniffReader names the format from the first bytes, leaving them unread.
func sniffReader(br *bufio.Reader) (Format, error) {
	head, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading image: %w", err)
	}
	return sniff(head)
}

// guard stands between the source and a decoder: the header scan sees each
// piece of the stream before the decoder does, and stops the stream with
// its error before the decoder gets the bytes that complete a refused
// header. When the scan cuts an animation, the guard ends the stream there
// with a GIF trailer, so the decoder stops cleanly after the frames allowed.
type guard struct {
	r   io.Reader
	h   *header
	err error
	end bool
}

// gifTrailer ends a GIF data stream (GIF89a §27).
const gifTrailer = 0x3b

// Read reads from the source through the header scan.
func (g *guard) Read(p []byte) (int, error) {
	if g.end {
		return 0, io.EOF
	}
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if n > 0 && !g.h.scan.done {
		used, serr := g.h.scan.feed(p[:n])
		if errors.Is(serr, errCut) {
			p[used-1] = gifTrailer
			g.end = true
			return used, nil
		}
		if serr != nil {
			g.err = serr
			return 0, serr
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		g.err = fmt.Errorf("reading image: %w", err)
		return n, g.err
	}
	return n, err
}

// explain turns a decoder's error into this package's: the guard's own
// error when it stopped the stream (the decoder may have flattened it into
// text), ErrUnsupported for a variant the decoder does not implement (an
// arithmetic-coded JPEG), else ErrCorrupt.
func (g *guard) explain(err error) error {
	var jpegUnsupported jpeg.UnsupportedError
	var pngUnsupported png.UnsupportedError
	switch {
	case g.err != nil:
		return g.err
	case errors.As(err, &jpegUnsupported), errors.As(err, &pngUnsupported):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}
