package thumbnail

import (
	"image"

	"golang.org/x/image/draw"
)

// span is the run of source pixels one output pixel covers along an axis,
// with the share of each in the output (partial at either end).
type span struct {
	first   int
	weights []float32
}

// spans divides size source pixels evenly among n output pixels. The
// weights of all spans share one allocation.
func spans(size, n int) []span {
	step := float64(size) / float64(n)
	out := make([]span, n)
	weights := make([]float32, 0, n*(int(step)+2))
	for j := range out {
		lo, hi := float64(j)*step, float64(j+1)*step
		start := len(weights)
		for i := int(lo); i < size && float64(i) < hi; i++ {
			overlap := min(hi, float64(i+1)) - max(lo, float64(i))
			weights = append(weights, float32(overlap/step))
		}
		out[j] = span{first: int(lo), weights: weights[start:len(weights):len(weights)]}
	}
	return out
}

// areaReduce shrinks the r part of src to w × h, each output pixel the
// exact area-weighted average of the source it covers, reading src a row at
// a time. Averaging premultiplied colour is exact for transparency.
func areaReduce(src image.Image, r image.Rectangle, w, h int) *image.RGBA {
	cols, rows := spans(r.Dx(), w), spans(r.Dy(), h)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	row := image.NewRGBA(image.Rect(0, 0, r.Dx(), 1))
	reduced := make([]float32, 4*w)
	acc := make([]float32, 4*w)
	last := -1
	for oy, sp := range rows {
		clear(acc)
		for k, weight := range sp.weights {
			if y := sp.first + k; y != last {
				draw.Draw(row, row.Rect, src, image.Pt(r.Min.X, r.Min.Y+y), draw.Src)
				reduceRow(reduced, row.Pix, cols)
				last = y
			}
			for i, v := range reduced {
				acc[i] += weight * v
			}
		}
		line := out.Pix[oy*out.Stride : oy*out.Stride+4*w]
		for i, v := range acc {
			line[i] = uint8(min(v+0.5, 255))
		}
	}
	return out
}

// reduceRow averages a row of RGBA pixels into the output columns.
func reduceRow(dst []float32, pix []byte, cols []span) {
	for j, sp := range cols {
		var r, g, b, a float32
		for k, weight := range sp.weights {
			p := pix[4*(sp.first+k):]
			r += weight * float32(p[0])
			g += weight * float32(p[1])
			b += weight * float32(p[2])
			a += weight * float32(p[3])
		}
		dst[4*j], dst[4*j+1], dst[4*j+2], dst[4*j+3] = r, g, b, a
	}
}
