package thumbnail

import (
	"fmt"
	"math"
)

// Size is one pre-generated thumbnail size.
type Size struct {
	Width  int
	Height int
	Method Method
}

// Spec returns the request that generates this size (still).
func (s Size) Spec() Spec {
	return Spec{Width: s.Width, Height: s.Height, Method: s.Method}
}

// String writes the size as configuration does: 320x240 scale.
func (s Size) String() string {
	return fmt.Sprintf("%dx%d %s", s.Width, s.Height, s.Method)
}

// Sizes is the configured list of pre-generated sizes.
type Sizes []Size

// DefaultSizes returns the sizes the spec says servers SHOULD produce
// (Client-Server API, "Thumbnails").
func DefaultSizes() Sizes {
	return Sizes{
		{Width: 32, Height: 32, Method: Crop},
		{Width: 96, Height: 96, Method: Crop},
		{Width: 320, Height: 240, Method: Scale},
		{Width: 640, Height: 480, Method: Scale},
		{Width: 800, Height: 600, Method: Scale},
	}
}

// Pick chooses the pre-generated size that answers a request for width ×
// height by method, and reports whether it is at least as large as asked.
// The spec's width and height are the least the client wants: the server
// returns a thumbnail at least that large where it can, never a smaller one
// unless the image is smaller (Client-Server API, "Thumbnails"). So Pick
// prefers sizes of the same method (another method returns the wrong shape),
// then the smallest that covers the request (for crop, the nearest aspect
// ratio first); when none covers it, it returns the largest, with false: the
// caller then generates the requested size or serves that largest one.
// With no sizes at all it returns the zero Size and false.
func (s Sizes) Pick(width, height int, method Method) (Size, bool) {
	candidates := s.withMethod(method)
	if len(candidates) == 0 {
		candidates = s
	}
	var best, largest *Size
	for i := range candidates {
		c := &candidates[i]
		if c.Width >= width && c.Height >= height && (best == nil || c.fitsBetter(*best, width, height)) {
			best = c
		}
		if largest == nil || c.area() > largest.area() {
			largest = c
		}
	}
	switch {
	case best != nil:
		return *best, true
	case largest != nil:
		return *largest, false
	}
	return Size{}, false
}

// withMethod returns the sizes made by method m.
func (s Sizes) withMethod(m Method) Sizes {
	var out Sizes
	for _, c := range s {
		if c.Method == m {
			out = append(out, c)
		}
	}
	return out
}

// fitsBetter reports whether s answers a width × height request better than
// other, both covering it: for crop, the closer aspect ratio; then the
// smaller area, which is closer to what was asked and cheaper to send.
func (s Size) fitsBetter(other Size, width, height int) bool {
	if s.Method == Crop {
		d, od := s.aspectDistance(width, height), other.aspectDistance(width, height)
		if math.Abs(d-od) > 1e-9 {
			return d < od
		}
	}
	return s.area() < other.area()
}

// aspectDistance measures how far s's aspect ratio is from width:height.
func (s Size) aspectDistance(width, height int) float64 {
	ratio := func(w, h int) float64 { return math.Log(float64(max(w, 1)) / float64(max(h, 1))) }
	return math.Abs(ratio(s.Width, s.Height) - ratio(width, height))
}

// area is the size's pixel count.
func (s Size) area() int64 {
	return int64(s.Width) * int64(s.Height)
}
