package thumbnail

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Image is a decoded image, ready to be thumbnailed at several sizes (as on
// upload) without decoding it again.
type Image struct {
	info        Info
	orientation int
	// still is the image, or a GIF's first frame on its logical screen.
	still image.Image
	// anim holds every frame of an animated GIF decoded for animation, nil
	// otherwise (and when the GIF was over the animation limits).
	anim *gif.GIF
}

// Info returns what the header said, with Frames as decoded.
func (m *Image) Info() Info {
	return m.info
}

// Generate thumbnails one image: Decode, then Image.Thumbnail.
func Generate(src io.Reader, want Spec, lim Limits, dst io.Writer) (Result, error) {
	if err := want.validate(); err != nil {
		return Result{}, err
	}
	img, err := Decode(src, lim, want.Animated)
	if err != nil {
		return Result{}, err
	}
	return img.Thumbnail(want, dst)
}

// Decode reads and decodes an image in one pass over src, refusing it as
// Probe does before any pixel is decoded. With animated set, a GIF's frames
// are all decoded, up to the animation limits (past them only the first
// frame is kept, for a still thumbnail); without it only the first frame is
// read.
func Decode(src io.Reader, lim Limits, animated bool) (img *Image, err error) {
	defer recoverDecoder(&err)
	lim = lim.withDefaults()
	br := bufio.NewReader(src)
	format, err := sniffReader(br)
	if err != nil {
		return nil, err
	}
	scan := gifScreen
	if animated && format == GIF {
		scan = gifAnimation
	}
	g := &guard{r: br, h: newHeader(format, lim, scan)}
	img = &Image{}
	if scan == gifAnimation {
		err = img.decodeAnimation(g)
	} else {
		img.still, err = decodeStill(format, g)
	}
	if err != nil {
		return nil, g.explain(err)
	}
	if err := checkDecoded(img.still.Bounds(), lim); err != nil {
		return nil, err
	}
	img.info, img.orientation = g.h.info(), g.h.orientation
	return img, nil
}

// decodeStill decodes an image, or a GIF's first frame on its screen.
func decodeStill(format Format, g *guard) (image.Image, error) {
	switch format {
	case JPEG:
		return jpeg.Decode(g)
	case PNG:
		return png.Decode(g)
	case WebP:
		return webp.Decode(g)
	}
	frame, err := gif.Decode(g)
	if err != nil {
		return nil, err
	}
	return onScreen(frame.(*image.Paletted), int(g.h.width), int(g.h.height)), nil
}

// checkDecoded re-checks the decoded size against the limit, in case a
// decoder read a size the header scan did not.
func checkDecoded(b image.Rectangle, lim Limits) error {
	if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
		return fmt.Errorf("%w: decoded %d×%d is over the limit of %d pixels", ErrTooLarge, b.Dx(), b.Dy(), lim.MaxPixels)
	}
	return nil
}

// errPanicked marks an error recovered from a panic, so that the fuzz
// test can tell a crash from an ordinary refusal.
var errPanicked = errors.New("decoder panicked")

// recoverDecoder turns a panic in a decoder (or in drawing what it
// returned) on hostile input into ErrCorrupt.
func recoverDecoder(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %w: %v", ErrCorrupt, errPanicked, r)
	}
}

// onScreen places a GIF frame on its logical screen (transparent where the
// frame does not reach), as a viewer shows it.
func onScreen(frame *image.Paletted, w, h int) image.Image {
	screen := image.Rect(0, 0, w, h)
	if frame.Rect == screen {
		return frame
	}
	canvas := image.NewRGBA(screen)
	draw.Draw(canvas, frame.Rect, frame, frame.Rect.Min, draw.Src)
	return canvas
}
