package thumbnail

import (
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
)

// Result describes a thumbnail written to dst.
type Result struct {
	ContentType string // image/jpeg, image/png or image/gif
	Width       int
	Height      int
	Bytes       int64
}

// jpegQuality is where JPEG artefacts stop being visible at thumbnail
// sizes while the file stays small.
const jpegQuality = 80

// resampler is the interpolation used to shrink images: see BenchmarkResample
// and TestResamplerQuality, and docs/decisions.md.
var resampler draw.Interpolator = draw.CatmullRom

// maxInterpolated is the most resampler reduces by after areaReduce: the
// area average softens detail near the output's limit a little, less the
// more is left to the interpolator, whose cost grows with the cube of it.
const maxInterpolated = 4

// Thumbnail writes a thumbnail for want to dst. An animated GIF decoded for
// animation gets an animated GIF when want.Animated is set. A JPEG gets a
// JPEG and a PNG a PNG (lossless stays lossless, and clients and
// Complement's TestFederationThumbnail expect a PNG's thumbnail to be one);
// a still GIF or a WebP gets a JPEG when it is opaque, else a PNG, which
// keeps transparency.
func (m *Image) Thumbnail(want Spec, dst io.Writer) (res Result, err error) {
	if err := want.validate(); err != nil {
		return Result{}, err
	}
	defer recoverDecoder(&err)
	if want.Animated && m.anim != nil {
		return m.animatedThumbnail(want, dst)
	}
	return m.stillThumbnail(want, dst)
}

// stillThumbnail scales and crops in the stored orientation, on a request
// turned to match, and turns only the small result upright.
func (m *Image) stillThumbnail(want Spec, dst io.Writer) (Result, error) {
	w, h := want.Width, want.Height
	if transposes(m.orientation) {
		w, h = h, w
	}
	b := m.still.Bounds()
	p := planFor(b.Dx(), b.Dy(), w, h, want.Method)
	p.src = p.src.Add(b.Min)
	thumb := orient(resample(m.still, p), m.orientation)
	if m.info.Format == JPEG || m.info.Format != PNG && thumb.Opaque() {
		return encode(dst, thumb, "image/jpeg", func(w io.Writer) error {
			return jpeg.Encode(w, thumb, &jpeg.Options{Quality: jpegQuality})
		})
	}
	return encode(dst, thumb, "image/png", func(w io.Writer) error {
		return png.Encode(w, thumb)
	})
}

// resample draws the planned part of src at the planned size. A large
// reduction first averages areas of the source, in one cheap pass, down to
// two to four times the planned size; the interpolator does the rest.
// Interpolating all the way from a 4000 × 3000 photograph costs a pass over
// every source pixel per tap, 0.2–0.5 s and up to 79 MB a size; this way
// 0.05–0.2 s and at most 42 MB, for much the same result (see
// BenchmarkResample, TestResamplerQuality).
func resample(src image.Image, p plan) *image.RGBA {
	return resampleWith(resampler, src, p)
}

// resampleWith is resample with a given interpolator, for measuring others.
func resampleWith(in draw.Interpolator, src image.Image, p plan) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, p.w, p.h))
	if p.src.Dx() == p.w && p.src.Dy() == p.h {
		draw.Draw(dst, dst.Rect, src, p.src.Min, draw.Src)
		return dst
	}
	from := p.src
	if m := min(p.src.Dx()/p.w, p.src.Dy()/p.h, 2*maxInterpolated) / 2; m >= 2 {
		src = areaReduce(src, p.src, m*p.w, m*p.h)
		from = src.Bounds()
	}
	in.Scale(dst, dst.Rect, src, from, draw.Src, nil)
	return dst
}

// encode runs an encoder into dst, counting the bytes it writes.
func encode(dst io.Writer, img image.Image, contentType string, enc func(io.Writer) error) (Result, error) {
	cw := &countingWriter{w: dst}
	if err := enc(cw); err != nil {
		return Result{}, fmt.Errorf("writing %s thumbnail: %w", contentType, err)
	}
	b := img.Bounds()
	return Result{ContentType: contentType, Width: b.Dx(), Height: b.Dy(), Bytes: cw.n}, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

// Write writes p to the underlying writer and counts what it took.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
