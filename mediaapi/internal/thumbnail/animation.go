package thumbnail

import (
	"image"
	"image/color"
	"image/gif"
	"io"
	"slices"

	"golang.org/x/image/draw"
)

// decodeAnimation decodes a GIF's frames up to the animation limits. A GIF
// cut at the limits keeps only its first frame, for a still thumbnail: an
// animation that stops part way would misrepresent the image.
func (m *Image) decodeAnimation(g *guard) error {
	all, err := gif.DecodeAll(g)
	if err != nil {
		return err
	}
	m.still = onScreen(all.Image[0], all.Config.Width, all.Config.Height)
	if len(all.Image) > 1 && !g.h.cut {
		m.anim = all
	}
	if g.h.cut {
		g.h.frames = 1
	}
	return nil
}

// animatedThumbnail composes each frame as a viewer would (the frame drawn
// over what earlier frames left, per their disposal), shrinks the whole
// screen and maps it back to the frame's palette. Every output frame is a
// full screen, cleared before the next, so none depends on another.
func (m *Image) animatedThumbnail(want Spec, dst io.Writer) (Result, error) {
	src := m.anim
	p := planFor(src.Config.Width, src.Config.Height, want.Width, want.Height, want.Method)
	out := &gif.GIF{LoopCount: src.LoopCount, Config: image.Config{Width: p.w, Height: p.h}}
	canvas := image.NewRGBA(image.Rect(0, 0, src.Config.Width, src.Config.Height))
	var q *quantizer
	for i, frame := range src.Image {
		disposal := src.Disposal[i]
		var saved *image.RGBA
		if disposal == gif.DisposalPrevious {
			saved = copyRegion(canvas, frame.Rect)
		}
		draw.Draw(canvas, frame.Rect, frame, frame.Rect.Min, draw.Over)
		q = q.forPalette(frame.Palette)
		out.Image = append(out.Image, q.paletted(resample(canvas, p)))
		out.Delay = append(out.Delay, src.Delay[i])
		out.Disposal = append(out.Disposal, gif.DisposalBackground)
		switch disposal {
		case gif.DisposalBackground:
			draw.Draw(canvas, frame.Rect, image.Transparent, image.Point{}, draw.Src)
		case gif.DisposalPrevious:
			draw.Draw(canvas, frame.Rect, saved, frame.Rect.Min, draw.Src)
		}
	}
	return encode(dst, out.Image[0], "image/gif", func(w io.Writer) error {
		return gif.EncodeAll(w, out)
	})
}

// copyRegion copies part of an image, to be restored later.
func copyRegion(img *image.RGBA, r image.Rectangle) *image.RGBA {
	saved := image.NewRGBA(r)
	draw.Draw(saved, r, img, r.Min, draw.Src)
	return saved
}

// quantizer maps resampled colours back to a GIF palette: the nearest
// opaque entry, or the transparent one for a mostly transparent pixel.
// Nearest entries are remembered per 15-bit colour, so a frame costs a
// palette search per distinct colour, not per pixel.
type quantizer struct {
	source      color.Palette
	palette     color.Palette
	rgb         [][3]int32
	transparent uint8
	cache       [1 << 15]uint16 // nearest index + 1; 0 when not yet known
}

// forPalette returns q when it already serves palette p, else a new
// quantizer for p (a GIF with a global palette keeps one for every frame).
func (q *quantizer) forPalette(p color.Palette) *quantizer {
	if q != nil && slices.Equal(q.source, p) {
		return q
	}
	pal := slices.Clone(p)
	t := slices.IndexFunc(pal, func(c color.Color) bool { _, _, _, a := c.RGBA(); return a == 0 })
	if t < 0 { // the shrunk frame may need one even if the source had none
		if len(pal) == 256 {
			pal = pal[:255]
		}
		pal = append(pal, color.RGBA{})
		t = len(pal) - 1
	}
	n := &quantizer{source: p, palette: pal, transparent: uint8(t)}
	for _, c := range pal {
		nc := color.NRGBAModel.Convert(c).(color.NRGBA)
		n.rgb = append(n.rgb, [3]int32{int32(nc.R), int32(nc.G), int32(nc.B)})
	}
	return n
}

// paletted maps an RGBA image onto the palette.
func (q *quantizer) paletted(img *image.RGBA) *image.Paletted {
	out := image.NewPaletted(img.Rect, q.palette)
	for i := 0; i < len(img.Pix); i += 4 {
		out.Pix[i/4] = q.index(img.Pix[i : i+4 : i+4])
	}
	return out
}

// index returns the palette index for one premultiplied RGBA pixel.
func (q *quantizer) index(px []byte) uint8 {
	a := uint32(px[3])
	if a < 128 {
		return q.transparent
	}
	r, g, b := uint32(px[0])*255/a, uint32(px[1])*255/a, uint32(px[2])*255/a
	key := (r>>3)<<10 | (g>>3)<<5 | b>>3
	if v := q.cache[key]; v != 0 {
		return uint8(v - 1)
	}
	i := q.nearest(int32(r&^7|4), int32(g&^7|4), int32(b&^7|4)) // the bucket's centre
	q.cache[key] = uint16(i) + 1
	return i
}

// nearest finds the opaque palette entry closest to a colour.
func (q *quantizer) nearest(r, g, b int32) uint8 {
	best, bestDist := uint8(0), int32(-1)
	for i, c := range q.rgb {
		if uint8(i) == q.transparent {
			continue
		}
		dr, dg, db := c[0]-r, c[1]-g, c[2]-b
		if d := dr*dr + dg*dg + db*db; bestDist < 0 || d < bestDist {
			best, bestDist = uint8(i), d
		}
	}
	return best
}
