package thumbnail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// TestProbe reads the headers of every format without decoding them.
func TestProbe(t *testing.T) {
	tests := []struct {
		name string
		src  []byte
		want Info
		err  error
	}{
		{"jpeg", encodeJPEG(t, photo(640, 480)), Info{Format: JPEG, Width: 640, Height: 480, Frames: 1}, nil},
		{"jpeg turned by EXIF", withEXIFOrientation(t, encodeJPEG(t, photo(640, 480)), 6, binary.BigEndian), Info{JPEG, 480, 640, 1}, nil},
		{"png", encodePNG(t, withTransparency(300, 200)), Info{PNG, 300, 200, 1}, nil},
		{"gif frames counted", animatedGIF(t, 30, 20, 7, true), Info{GIF, 30, 20, 7}, nil},
		{"gif many frames", fixture(t, "many-frames.gif"), Info{GIF, 16, 16, 600}, nil},
		{"webp lossy", fixture(t, "photo.webp"), Info{WebP, 120, 80, 1}, nil},
		{"webp lossless", fixture(t, "lossless.webp"), Info{WebP, 120, 80, 1}, nil},
		{"webp extended", fixture(t, "alpha.webp"), Info{WebP, 64, 64, 1}, nil},
		{"truncated jpeg header is whole", fixture(t, "truncated.jpg"), Info{JPEG, 64, 48, 1}, nil},
		{"png bomb", fixture(t, "bomb.png"), Info{PNG, 50000, 50000, 1}, ErrTooLarge},
		{"header cut short", encodePNG(t, photo(10, 10))[:20], Info{}, ErrCorrupt},
		{"svg", []byte("<?xml version=\"1.0\"?><svg/>"), Info{}, ErrUnsupported},
		{"animated webp", animatedWebP(t), Info{}, ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Probe(bytes.NewReader(tc.src))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("info %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestProbeReadsOnlyTheHeader: probing a large PNG reads a few KiB of it.
func TestProbeReadsOnlyTheHeader(t *testing.T) {
	src := encodePNG(t, photo(1000, 1000))
	r := &countingReader{r: bytes.NewReader(src)}
	if _, err := Probe(r); err != nil {
		t.Fatal(err)
	}
	if r.n > 64<<10 || r.n >= len(src) {
		t.Errorf("read %d of %d bytes", r.n, len(src))
	}
}

// TestProbeLimits: a configured limit applies to Probe as to Generate.
func TestProbeLimits(t *testing.T) {
	src := encodePNG(t, photo(200, 100))
	if _, err := (Limits{MaxPixels: 20000}).Probe(bytes.NewReader(src)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := (Limits{MaxPixels: 19999}).Probe(bytes.NewReader(src)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
}

// TestInfo checks the helpers the media component decides with.
func TestInfo(t *testing.T) {
	i := Info{Format: GIF, Width: 100, Height: 50, Frames: 3}
	if !i.Animated() || i.ContentType() != "image/gif" {
		t.Errorf("%+v: animated %v, type %s", i, i.Animated(), i.ContentType())
	}
	if !i.FitsWithin(100, 50) || i.FitsWithin(99, 600) || i.FitsWithin(600, 49) {
		t.Error("FitsWithin wrong at its edges")
	}
}
