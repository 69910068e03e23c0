package thumbnail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// photo returns a w × h opaque image with smooth gradients and fine detail,
// so that scaling has something to get right.
func photo(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 255 / max(w-1, 1))
			img.Pix[i+1] = uint8(y * 255 / max(h-1, 1))
			img.Pix[i+2] = uint8((x ^ y) & 0xff)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// withTransparency returns a w × h image: an opaque disc on transparency.
func withTransparency(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := min(w, h) / 3
	for y := range h {
		for x := range w {
			if dx, dy := x-w/2, y-h/2; dx*dx+dy*dy < r*r {
				img.SetNRGBA(x, y, color.NRGBA{R: 30, G: 160, B: 60, A: 255})
			}
		}
	}
	return img
}

// encodePNG encodes img as PNG.
func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodeJPEG encodes img as JPEG.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gifPalette is a small palette with a transparent entry.
var gifPalette = color.Palette{
	color.RGBA{},
	color.RGBA{R: 255, A: 255},
	color.RGBA{G: 255, A: 255},
	color.RGBA{B: 255, A: 255},
	color.RGBA{R: 255, G: 255, B: 255, A: 255},
}

// animatedGIF encodes an animation of n w × h frames, each filled with
// another colour of gifPalette (opaque ones only unless transparent).
func animatedGIF(t testing.TB, w, h, n int, transparent bool) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range n {
		f := image.NewPaletted(image.Rect(0, 0, w, h), gifPalette)
		for k := range f.Pix {
			f.Pix[k] = uint8(1 + i%4)
			if transparent && k%w < w/4 {
				f.Pix[k] = 0
			}
		}
		g.Image = append(g.Image, f)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withEXIFOrientation inserts an APP1 EXIF segment holding only an
// Orientation tag right after a JPEG's SOI marker.
func withEXIFOrientation(t testing.TB, jpg []byte, orientation uint16, order binary.ByteOrder) []byte {
	t.Helper()
	var tiff bytes.Buffer
	if order == binary.ByteOrder(binary.LittleEndian) {
		tiff.WriteString("II")
	} else {
		tiff.WriteString("MM")
	}
	for _, v := range []any{uint16(42), uint32(8), uint16(1), uint16(0x0112), uint16(3), uint32(1), orientation, uint16(0), uint32(0)} {
		if err := binary.Write(&tiff, order, v); err != nil {
			t.Fatal(err)
		}
	}
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// fixture reads a file under testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeOutput decodes a thumbnail as its content type says, and returns
// its bounds and (for a GIF) its frame count.
func decodeOutput(t testing.TB, contentType string, data []byte) (image.Rectangle, int) {
	t.Helper()
	var (
		img image.Image
		err error
	)
	switch contentType {
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	case "image/png":
		img, err = png.Decode(bytes.NewReader(data))
	case "image/gif":
		var g *gif.GIF
		if g, err = gif.DecodeAll(bytes.NewReader(data)); err == nil {
			return image.Rect(0, 0, g.Config.Width, g.Config.Height), len(g.Image)
		}
	default:
		t.Fatalf("unexpected content type %q", contentType)
	}
	if err != nil {
		t.Fatalf("output does not decode as %s: %v", contentType, err)
	}
	return img.Bounds(), 1
}

// decodedPhoto returns a w × h photograph as image/jpeg decodes it.
func decodedPhoto(t testing.TB, w, h int) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(encodeJPEG(t, photo(w, h))))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// toGray converts an image to 8-bit grey.
func toGray(img image.Image) *image.Gray {
	out := image.NewGray(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

// toRGBA64 converts an image to 16 bits a channel.
func toRGBA64(img image.Image) *image.NRGBA64 {
	out := image.NewNRGBA64(img.Bounds())
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

// toPaletted converts an image to the Plan 9 palette.
func toPaletted(img image.Image) *image.Paletted {
	out := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(out, out.Rect, img, img.Bounds().Min, draw.Src)
	return out
}

// fill sets every pixel of a paletted image to one index.
func fill(img *image.Paletted, index uint8) {
	for i := range img.Pix {
		img.Pix[i] = index
	}
}

// sameColor compares two colours as 16-bit RGBA.
func sameColor(a, b color.Color) bool {
	ar, ag, ab, aa := a.RGBA()
	br, bg, bb, ba := b.RGBA()
	return ar == br && ag == bg && ab == bb && aa == ba
}

// pngHeader is a PNG signature and an IHDR chunk claiming w × h.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	return append(b, 8, 2, 0, 0, 0, 0, 0, 0, 0)
}

// patchJPEGSize rewrites the dimensions in a JPEG's baseline frame header.
func patchJPEGSize(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(jpg)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(out[i+5:], h)
	binary.BigEndian.PutUint16(out[i+7:], w)
	return out
}

// patchJPEGMarker turns a JPEG's baseline frame header into another SOF.
func patchJPEGMarker(t testing.TB, jpg []byte, marker byte) []byte {
	t.Helper()
	out := bytes.Clone(jpg)
	i := bytes.Index(out, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	out[i+1] = marker
	return out
}

// patchGIFScreen rewrites a GIF's logical screen size.
func patchGIFScreen(g []byte, w, h uint16) []byte {
	return patchLE16Size(g, 6, w, h)
}

// patchLE16Size rewrites a width and a height stored as consecutive
// little-endian 16-bit integers at offset at.
func patchLE16Size(b []byte, at int, w, h uint16) []byte {
	out := bytes.Clone(b)
	binary.LittleEndian.PutUint16(out[at:], w)
	binary.LittleEndian.PutUint16(out[at+2:], h)
	return out
}

// patchWebPCanvas rewrites the canvas size of a WebP whose first chunk is
// VP8X.
func patchWebPCanvas(webp []byte, w, h uint32) []byte {
	out := bytes.Clone(webp)
	putLE24(out[24:], w-1)
	putLE24(out[27:], h-1)
	return out
}

// animatedWebP sets the animation flag of a VP8X WebP.
func animatedWebP(t testing.TB) []byte {
	out := bytes.Clone(fixture(t, "alpha.webp"))
	out[20] |= 1 << 1
	return out
}

// patchVP8LSize rewrites the size of a WebP whose first chunk is VP8L.
func patchVP8LSize(webp []byte, w, h uint32) []byte {
	out := bytes.Clone(webp)
	bits := binary.LittleEndian.Uint32(out[21:])
	bits = bits&^(1<<28-1) | (w - 1) | (h-1)<<14
	binary.LittleEndian.PutUint32(out[21:], bits)
	return out
}

// patchVP8Size rewrites the size of a WebP whose first chunk is VP8.
func patchVP8Size(webp []byte, w, h uint16) []byte {
	return patchLE16Size(webp, 26, w, h)
}

// oversizedVP8 claims 100 MB of VP8 data in a 356-byte file: the decoder
// would allocate it all before finding out.
func oversizedVP8(t testing.TB) []byte {
	out := bytes.Clone(fixture(t, "photo.webp"))
	binary.LittleEndian.PutUint32(out[4:], 100<<20)
	binary.LittleEndian.PutUint32(out[16:], 100<<20-12)
	return out
}

// putLE24 writes a 24-bit little-endian integer.
func putLE24(b []byte, v uint32) {
	b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16)
}

// withAPPSegments inserts n maximal APP2 segments (64 KiB each) after a
// JPEG's SOI marker, as large ICC profiles or depth maps do.
func withAPPSegments(jpg []byte, n int) []byte {
	out := bytes.Clone(jpg[:2])
	payload := bytes.Repeat([]byte{0x5a}, 65533)
	for range n {
		out = append(out, 0xff, 0xe2, 0xff, 0xff)
		out = append(out, payload...)
	}
	return append(out, jpg[2:]...)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

// Read reads and counts.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

var (
	errWrite = errors.New("disk full")
	errRead  = errors.New("disk gone")
)

// failingWriter fails every write.
type failingWriter struct{}

// Write fails.
func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// failingReader returns its data, then fails.
type failingReader struct{ data []byte }

// Read returns the data, then errRead.
func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errRead
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// panicImage is an image whose pixels cannot be read.
type panicImage struct{}

func (panicImage) ColorModel() color.Model { return color.RGBAModel }
func (panicImage) Bounds() image.Rectangle { return image.Rect(0, 0, 10, 10) }
func (panicImage) At(int, int) color.Color { panic("unreadable pixel") }

// scale is a scale request.
func scale(w, h int) Spec { return Spec{Width: w, Height: h, Method: Scale} }

// crop is a crop request.
func crop(w, h int) Spec { return Spec{Width: w, Height: h, Method: Crop} }

// animated asks for an animated thumbnail.
func animated(s Spec) Spec {
	s.Animated = true
	return s
}
