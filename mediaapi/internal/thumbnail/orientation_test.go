package thumbnail

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// TestExifOrientation parses the tag in both byte orders and ignores what
// is not a valid one.
func TestExifOrientation(t *testing.T) {
	segment := func(o uint16, order binary.ByteOrder) []byte {
		jpg := withEXIFOrientation(t, []byte{0xff, 0xd8}, o, order)
		return jpg[6:] // after SOI, marker and length
	}
	tests := []struct {
		name string
		app1 []byte
		want int
	}{
		{"big-endian 6", segment(6, binary.BigEndian), 6},
		{"little-endian 8", segment(8, binary.LittleEndian), 8},
		{"out of range", segment(9, binary.BigEndian), 0},
		{"not EXIF", []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"), 0},
		{"cut short", segment(6, binary.BigEndian)[:20], 0},
		{"bad IFD offset", append([]byte("Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0"), make([]byte, 20)...), 0},
		{"empty", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exifOrientation(tc.app1); got != tc.want {
				t.Errorf("orientation %d, want %d", got, tc.want)
			}
		})
	}
}

// TestOrient turns a 3 × 2 image for each orientation and checks where its
// top-left and top-right pixels land, as the EXIF specification draws them.
func TestOrient(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	topLeft, topRight := color.RGBA{R: 255, A: 255}, color.RGBA{B: 255, A: 255}
	src.SetRGBA(0, 0, topLeft)
	src.SetRGBA(2, 0, topRight)
	pt := image.Pt
	tests := []struct {
		orientation       int
		topLeft, topRight image.Point
	}{
		{1, pt(0, 0), pt(2, 0)},
		{2, pt(2, 0), pt(0, 0)},
		{3, pt(2, 1), pt(0, 1)},
		{4, pt(0, 1), pt(2, 1)},
		{5, pt(0, 0), pt(0, 2)},
		{6, pt(1, 0), pt(1, 2)},
		{7, pt(1, 2), pt(1, 0)},
		{8, pt(0, 2), pt(0, 0)},
	}
	for _, tc := range tests {
		got := orient(src, tc.orientation)
		if got.RGBAAt(tc.topLeft.X, tc.topLeft.Y) != topLeft || got.RGBAAt(tc.topRight.X, tc.topRight.Y) != topRight {
			t.Errorf("orientation %d: top-left pixel not at %v or top-right not at %v", tc.orientation, tc.topLeft, tc.topRight)
		}
		if transposes(tc.orientation) != (got.Rect.Dx() == 2) {
			t.Errorf("orientation %d: size %v", tc.orientation, got.Rect.Size())
		}
	}
}

// TestGenerateOrientsJPEG: a photograph stored sideways comes out upright,
// at the requested size in its displayed orientation.
func TestGenerateOrientsJPEG(t *testing.T) {
	stored := image.NewRGBA(image.Rect(0, 0, 400, 200)) // left half red, right half blue
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{R: 255, A: 255}
			if x >= 200 {
				c = color.RGBA{B: 255, A: 255}
			}
			stored.SetRGBA(x, y, c)
		}
	}
	jpg := encodeJPEG(t, stored)
	tests := []struct {
		orientation   uint16
		wantW, wantH  int
		redAt, blueAt image.Point
	}{
		{1, 100, 50, image.Pt(25, 25), image.Pt(75, 25)},
		{3, 100, 50, image.Pt(75, 25), image.Pt(25, 25)},
		{6, 50, 100, image.Pt(25, 25), image.Pt(25, 75)},
		{8, 50, 100, image.Pt(25, 75), image.Pt(25, 25)},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		src := withEXIFOrientation(t, jpg, tc.orientation, binary.LittleEndian)
		res, err := Generate(bytes.NewReader(src), scale(100, 100), Limits{}, &out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(&out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != tc.wantW || res.Height != tc.wantH || img.Bounds().Dx() != tc.wantW {
			t.Errorf("orientation %d: %dx%d, want %dx%d", tc.orientation, res.Width, res.Height, tc.wantW, tc.wantH)
		}
		if r, _, b, _ := img.At(tc.redAt.X, tc.redAt.Y).RGBA(); r < b {
			t.Errorf("orientation %d: not red at %v", tc.orientation, tc.redAt)
		}
		if r, _, b, _ := img.At(tc.blueAt.X, tc.blueAt.Y).RGBA(); b < r {
			t.Errorf("orientation %d: not blue at %v", tc.orientation, tc.blueAt)
		}
	}
}
