package thumbnail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = Limits{MaxPixels: 1 << 20, MaxFrames: 32, MaxAnimatedPixels: 1 << 22}

// FuzzGenerate feeds mutated images of every format: whatever comes in,
// Generate returns one of its errors or a thumbnail that decodes, no larger
// than asked; it never panics (a recovered panic fails the test, so the
// fuzzer reports it).
func FuzzGenerate(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if filepath.Ext(name) == ".md" {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(32), uint16(32), true, true)
	}
	f.Add(encodePNG(f, withTransparency(40, 30)), uint16(16), uint16(16), false, false)
	f.Add(encodeJPEG(f, photo(40, 30)), uint16(20), uint16(10), true, false)
	f.Add(withEXIFOrientation(f, encodeJPEG(f, photo(30, 20)), 6, binary.LittleEndian), uint16(8), uint16(16), true, false)
	f.Add(animatedGIF(f, 20, 20, 3, true), uint16(10), uint16(10), false, true)
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16, isCrop, isAnimated bool) {
		want := Spec{Width: int(w), Height: int(h), Method: Scale, Animated: isAnimated}
		if isCrop {
			want.Method = Crop
		}
		var out bytes.Buffer
		res, err := Generate(bytes.NewReader(data), want, fuzzLimits, &out)
		if errors.Is(err, errPanicked) {
			t.Fatal(err)
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error outside the sentinels: %v", err)
			}
			return
		}
		bounds, _ := decodeOutput(t, res.ContentType, out.Bytes())
		if bounds.Dx() != res.Width || bounds.Dy() != res.Height || res.Bytes != int64(out.Len()) {
			t.Fatalf("result %+v does not describe the %v output of %d bytes", res, bounds, out.Len())
		}
		if res.Width < 1 || res.Height < 1 || res.Width > want.Width || res.Height > want.Height {
			t.Fatalf("%dx%d thumbnail for a %dx%d request", res.Width, res.Height, want.Width, want.Height)
		}
	})
}

// isSentinel reports whether err is one of the package's errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrUnsupported, ErrTooLarge, ErrCorrupt, ErrInvalidSpec} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
