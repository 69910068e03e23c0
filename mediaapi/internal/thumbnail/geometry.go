package thumbnail

import (
	"fmt"
	"image"
)

// Method is how a thumbnail meets the requested size (Client-Server API,
// "Thumbnails").
type Method string

const (
	// Crop fills width × height exactly, in the request's aspect ratio,
	// cutting off what falls outside the centre.
	Crop Method = "crop"
	// Scale keeps the whole image and its aspect ratio, within width ×
	// height.
	Scale Method = "scale"
)

// Spec is one thumbnail request.
type Spec struct {
	Width    int
	Height   int
	Method   Method
	Animated bool // an animated GIF gets an animated thumbnail
}

// validate refuses sizes and methods that make no sense.
func (s Spec) validate() error {
	if s.Width < 1 || s.Height < 1 {
		return fmt.Errorf("%w: %d×%d: width and height must be positive", ErrInvalidSpec, s.Width, s.Height)
	}
	if s.Method != Crop && s.Method != Scale {
		return fmt.Errorf("%w: method %q is neither crop nor scale", ErrInvalidSpec, s.Method)
	}
	return nil
}

// plan is which part of the source becomes the thumbnail, and at what size.
type plan struct {
	src  image.Rectangle // from (0, 0); the caller moves it to the source's bounds
	w, h int
}

// maxRequestSide bounds a requested side so that the products below stay
// within int64; no image this package decodes comes near it.
const maxRequestSide = 1 << 24

// planFor lays out a thumbnail of a sw × sh source. The spec forbids
// upscaling, so a source smaller than asked keeps its size.
func planFor(sw, sh, w, h int, m Method) plan {
	w, h = min(w, maxRequestSide), min(h, maxRequestSide)
	if m == Crop {
		return cropPlan(int64(sw), int64(sh), int64(w), int64(h))
	}
	return scalePlan(int64(sw), int64(sh), int64(w), int64(h))
}

// scalePlan fits the whole source within w × h, keeping its aspect ratio.
func scalePlan(sw, sh, w, h int64) plan {
	full := image.Rect(0, 0, int(sw), int(sh))
	switch {
	case sw <= w && sh <= h:
		return plan{full, int(sw), int(sh)}
	case w*sh <= h*sw: // the width is the tighter bound
		return plan{full, int(w), int(max(1, divRound(sh*w, sw)))}
	default:
		return plan{full, int(max(1, divRound(sw*h, sh))), int(h)}
	}
}

// cropPlan takes the largest centred box of the request's aspect ratio and
// scales it down to w × h; a box no larger than that is kept as it is, so
// the result has the requested aspect ratio even when the source is small.
func cropPlan(sw, sh, w, h int64) plan {
	bw, bh := sw, sh
	if w*sh >= h*sw { // the request is wider than the source: keep its width
		bh = max(1, divRound(sw*h, w))
	} else {
		bw = max(1, divRound(sh*w, h))
	}
	box := image.Rect(0, 0, int(bw), int(bh)).Add(image.Pt(int((sw-bw)/2), int((sh-bh)/2)))
	if bw <= w && bh <= h {
		return plan{box, int(bw), int(bh)}
	}
	return plan{box, int(w), int(h)}
}

// divRound divides positive a by positive b, rounding to nearest.
func divRound(a, b int64) int64 {
	return (2*a + b) / (2 * b)
}
