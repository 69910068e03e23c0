package thumbnail

import (
	"image"
	"testing"
)

// TestPlan lays out thumbnails: scale fits the box, crop fills it from the
// centre, neither enlarges.
func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		sw, sh  int
		w, h    int
		m       Method
		wantSrc image.Rectangle
		wantW   int
		wantH   int
	}{
		{"scale wide into 4:3", 4000, 3000, 320, 240, Scale, image.Rect(0, 0, 4000, 3000), 320, 240},
		{"scale bound by width", 4000, 1000, 320, 240, Scale, image.Rect(0, 0, 4000, 1000), 320, 80},
		{"scale bound by height", 1000, 4000, 320, 240, Scale, image.Rect(0, 0, 1000, 4000), 60, 240},
		{"scale smaller source kept", 300, 200, 800, 600, Scale, image.Rect(0, 0, 300, 200), 300, 200},
		{"scale one side larger", 1000, 200, 800, 600, Scale, image.Rect(0, 0, 1000, 200), 800, 160},
		{"scale never to zero", 10000, 1, 32, 32, Scale, image.Rect(0, 0, 10000, 1), 32, 1},
		{"crop centre of wide", 4000, 3000, 96, 96, Crop, image.Rect(500, 0, 3500, 3000), 96, 96},
		{"crop centre of tall", 1000, 3000, 100, 50, Crop, image.Rect(0, 1250, 1000, 1750), 100, 50},
		{"crop smaller source keeps aspect", 50, 20, 96, 96, Crop, image.Rect(15, 0, 35, 20), 20, 20},
		{"crop source smaller one way", 200, 50, 96, 96, Crop, image.Rect(75, 0, 125, 50), 50, 50},
		{"crop thin strip", 1, 120, 1, 100, Crop, image.Rect(0, 10, 1, 110), 1, 100},
		{"crop exact", 96, 96, 96, 96, Crop, image.Rect(0, 0, 96, 96), 96, 96},
		{"huge request", 640, 480, 1 << 40, 1 << 40, Crop, image.Rect(80, 0, 560, 480), 480, 480},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := planFor(tc.sw, tc.sh, tc.w, tc.h, tc.m)
			if p.src != tc.wantSrc || p.w != tc.wantW || p.h != tc.wantH {
				t.Errorf("plan %v → %dx%d, want %v → %dx%d", p.src, p.w, p.h, tc.wantSrc, tc.wantW, tc.wantH)
			}
		})
	}
}

// TestSizesPick chooses among the default sizes as the spec asks: at least
// as large as requested where one is, the same method, the smallest such.
func TestSizesPick(t *testing.T) {
	tests := []struct {
		name   string
		sizes  Sizes
		w, h   int
		m      Method
		want   Size
		covers bool
	}{
		{"exact crop", DefaultSizes(), 32, 32, Crop, Size{32, 32, Crop}, true},
		{"crop between sizes", DefaultSizes(), 64, 64, Crop, Size{96, 96, Crop}, true},
		{"crop larger than any", DefaultSizes(), 200, 200, Crop, Size{96, 96, Crop}, false},
		{"small scale", DefaultSizes(), 32, 32, Scale, Size{320, 240, Scale}, true},
		{"scale needs the height", DefaultSizes(), 300, 300, Scale, Size{640, 480, Scale}, true},
		{"scale exact", DefaultSizes(), 800, 600, Scale, Size{800, 600, Scale}, true},
		{"scale larger than any", DefaultSizes(), 1920, 1080, Scale, Size{800, 600, Scale}, false},
		{"crop prefers its aspect", Sizes{{96, 96, Crop}, {200, 100, Crop}}, 64, 32, Crop, Size{200, 100, Crop}, true},
		{"other method when none of this", Sizes{{320, 240, Scale}}, 32, 32, Crop, Size{320, 240, Scale}, true},
		{"none configured", nil, 32, 32, Crop, Size{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, covers := tc.sizes.Pick(tc.w, tc.h, tc.m)
			if got != tc.want || covers != tc.covers {
				t.Errorf("Pick = %v, %v; want %v, %v", got, covers, tc.want, tc.covers)
			}
		})
	}
}

// TestSpans: each output pixel's weights add up to one, and together they
// cover every source pixel exactly once.
func TestSpans(t *testing.T) {
	for _, tc := range []struct{ size, n int }{{10, 3}, {4000, 640}, {7, 7}, {1000, 999}, {3, 1}} {
		cover := make([]float64, tc.size)
		for j, sp := range spans(tc.size, tc.n) {
			var sum float64
			for k, w := range sp.weights {
				sum += float64(w)
				cover[sp.first+k] += float64(w) * float64(tc.size) / float64(tc.n)
			}
			if sum < 0.9999 || sum > 1.0001 {
				t.Errorf("%d into %d: span %d weighs %f", tc.size, tc.n, j, sum)
			}
		}
		for i, c := range cover {
			if c < 0.9999 || c > 1.0001 {
				t.Errorf("%d into %d: source pixel %d covered %f times", tc.size, tc.n, i, c)
			}
		}
	}
}
