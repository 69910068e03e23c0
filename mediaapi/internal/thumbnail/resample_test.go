package thumbnail

import (
	"fmt"
	"image"
	"math"
	"testing"

	"golang.org/x/image/draw"
)

// shrinker is one way of shrinking an image to a plan.
type shrinker struct {
	name   string
	shrink func(image.Image, plan) *image.RGBA
}

// shrinkers are the candidates measured: each interpolator over the whole
// reduction, and after a box reduction (what resample does).
func shrinkers() []shrinker {
	var out []shrinker
	for _, c := range []struct {
		name string
		in   draw.Interpolator
	}{{"CatmullRom", draw.CatmullRom}, {"BiLinear", draw.BiLinear}, {"ApproxBiLinear", draw.ApproxBiLinear}} {
		out = append(out, shrinker{c.name, func(src image.Image, p plan) *image.RGBA {
			dst := image.NewRGBA(image.Rect(0, 0, p.w, p.h))
			c.in.Scale(dst, dst.Rect, src, p.src, draw.Src, nil)
			return dst
		}})
	}
	for _, c := range []struct {
		name string
		in   draw.Interpolator
	}{{"area+CatmullRom", draw.CatmullRom}, {"area+ApproxBiLinear", draw.ApproxBiLinear}} {
		out = append(out, shrinker{c.name, func(src image.Image, p plan) *image.RGBA { return resampleWith(c.in, src, p) }})
	}
	out = append(out, shrinker{"area", func(src image.Image, p plan) *image.RGBA { return areaReduce(src, p.src, p.w, p.h) }})
	return out
}

// zonePlate is a pattern of concentric rings, cos(k·r²), whose frequency
// rises from the centre outwards: the classic test for how a resampler
// treats detail finer than its output can show.
type zonePlate struct {
	w, h int
	k    float64
}

// newZonePlate fits the rings so that the frequency reaches half the source
// Nyquist limit at the longer edge.
func newZonePlate(w, h int) zonePlate {
	return zonePlate{w: w, h: h, k: math.Pi / float64(2*max(w, h))}
}

// at returns the pattern's value and local frequency (cycles per source
// pixel) at source position (u, v), in pixel-index units.
func (z zonePlate) at(u, v float64) (value, freq float64) {
	dx, dy := u-float64(z.w/2), v-float64(z.h/2)
	r2 := dx*dx + dy*dy
	return 127.5 + 127.5*math.Cos(z.k*r2), z.k * math.Sqrt(r2) / math.Pi
}

// image renders the pattern.
func (z zonePlate) image() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, z.w, z.h))
	for y := range z.h {
		for x := range z.w {
			v, _ := z.at(float64(x), float64(y))
			img.Pix[y*img.Stride+x] = uint8(v + 0.5)
		}
	}
	return img
}

// resampleScore shrinks the pattern to w × h and measures the result
// against what an ideal low-pass reduction shows: rings well below the
// output's Nyquist limit kept as they are (PSNR over that passband, higher
// is better; NaN when the output is too small to have one), rings well
// above it gone to flat grey (RMS of what is left there, the false patterns
// called aliasing; lower is better). Between the two, any real filter rolls
// off, so that band is not scored.
func resampleScore(shrink func(image.Image, plan) *image.RGBA, z zonePlate, src *image.Gray, w, h int) (passPSNR, aliasRMS float64) {
	dst := shrink(src, plan{src: src.Rect, w: w, h: h})
	fx, fy := float64(z.w)/float64(w), float64(z.h)/float64(h)
	nyquist := 0.5 / max(fx, fy) // in cycles per source pixel
	var passSE, aliasSE float64
	var passN, aliasN int
	for y := range h {
		for x := range w {
			want, freq := z.at((float64(x)+0.5)*fx-0.5, (float64(y)+0.5)*fy-0.5)
			got := float64(dst.Pix[y*dst.Stride+4*x])
			switch {
			case freq < nyquist/2:
				passSE += (got - want) * (got - want)
				passN++
			case freq > 1.5*nyquist:
				aliasSE += (got - 127.5) * (got - 127.5)
				aliasN++
			}
		}
	}
	passPSNR = math.NaN()
	if passN >= 16 {
		passPSNR = 10 * math.Log10(255*255*float64(passN)/passSE)
	}
	return passPSNR, math.Sqrt(aliasSE / float64(aliasN))
}

// TestResamplerQuality scores each candidate on shrinking a zone plate to
// the default sizes, and holds resample to keeping the passband and to
// aliasing far less than ApproxBiLinear alone, which samples four source
// pixels per output pixel whatever the factor, so fine detail comes out as
// false patterns.
func TestResamplerQuality(t *testing.T) {
	z := newZonePlate(2000, 1500)
	src := z.image()
	for _, w := range []int{800, 320, 96, 32} {
		h := w * 3 / 4
		var approxAlias float64
		for _, c := range shrinkers() {
			pass, alias := resampleScore(c.shrink, z, src, w, h)
			t.Logf("2000x1500 to %dx%d: %-19s passband %4.1f dB, aliasing %4.1f RMS", w, h, c.name, pass, alias)
			if c.name == "ApproxBiLinear" {
				approxAlias = alias
			}
		}
		pass, alias := resampleScore(resample, z, src, w, h)
		if pass < 30 || alias > approxAlias/2 { // NaN < 30 is false: no passband, no test
			t.Errorf("to %dx%d: resample passband %.1f dB, aliasing %.1f RMS (ApproxBiLinear %.1f)", w, h, pass, alias, approxAlias)
		}
	}
}

// BenchmarkResample times each candidate shrinking a decoded 4000 × 3000
// photograph (YCbCr 4:2:0, as image/jpeg returns it) to each default size.
func BenchmarkResample(b *testing.B) {
	src := decodedPhoto(b, 4000, 3000)
	for _, c := range shrinkers() {
		for _, size := range DefaultSizes() {
			p := planFor(4000, 3000, size.Width, size.Height, size.Method)
			b.Run(fmt.Sprintf("%s/%s", c.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.shrink(src, p)
				}
			})
		}
	}
}
