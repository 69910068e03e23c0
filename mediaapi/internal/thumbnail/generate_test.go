package thumbnail

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"runtime"
	"testing"
)

// TestGenerate thumbnails real images of each format and checks what comes
// out by decoding it: its type, its size (crop exact unless the source is
// smaller, scale within the box, never enlarged) and, for animations, its
// frames.
func TestGenerate(t *testing.T) {
	landscape := encodeJPEG(t, photo(1200, 900))
	tests := []struct {
		name       string
		src        []byte
		want       Spec
		wantType   string
		wantW      int
		wantH      int
		wantFrames int
	}{
		{"jpeg scale to the box", landscape, scale(320, 240), "image/jpeg", 320, 240, 1},
		{"jpeg scale keeps aspect", landscape, scale(100, 100), "image/jpeg", 100, 75, 1},
		{"jpeg crop 96", landscape, crop(96, 96), "image/jpeg", 96, 96, 1},
		{"jpeg crop 32", landscape, crop(32, 32), "image/jpeg", 32, 32, 1},
		{"jpeg crop wide", landscape, crop(300, 50), "image/jpeg", 300, 50, 1},
		{"jpeg never enlarged", encodeJPEG(t, photo(300, 200)), scale(800, 600), "image/jpeg", 300, 200, 1},
		{"jpeg grey", encodeJPEG(t, toGray(photo(400, 400))), crop(96, 96), "image/jpeg", 96, 96, 1},
		{"opaque png stays png", encodePNG(t, photo(2000, 500)), crop(96, 96), "image/png", 96, 96, 1},
		{"transparent png stays png", encodePNG(t, withTransparency(500, 500)), scale(64, 64), "image/png", 64, 64, 1},
		{"small png crop keeps aspect", encodePNG(t, withTransparency(50, 20)), crop(96, 96), "image/png", 20, 20, 1},
		{"tall png crop", encodePNG(t, withTransparency(100, 1000)), crop(64, 32), "image/png", 64, 32, 1},
		{"16-bit png", encodePNG(t, toRGBA64(withTransparency(300, 300))), crop(32, 32), "image/png", 32, 32, 1},
		{"paletted png", encodePNG(t, toPaletted(photo(300, 300))), scale(100, 50), "image/png", 50, 50, 1},
		{"still gif", animatedGIF(t, 200, 100, 1, false), scale(50, 50), "image/jpeg", 50, 25, 1},
		{"animated gif animated", animatedGIF(t, 200, 200, 3, false), animated(scale(64, 64)), "image/gif", 64, 64, 3},
		{"animated gif cropped", animatedGIF(t, 200, 100, 4, true), animated(crop(32, 32)), "image/gif", 32, 32, 4},
		{"animated gif still", animatedGIF(t, 200, 200, 3, true), scale(64, 64), "image/png", 64, 64, 1},
		{"one-frame gif asked animated", animatedGIF(t, 80, 80, 1, false), animated(crop(32, 32)), "image/jpeg", 32, 32, 1},
		{"lossy webp", fixture(t, "photo.webp"), scale(60, 60), "image/jpeg", 60, 40, 1},
		{"lossless webp", fixture(t, "lossless.webp"), crop(32, 32), "image/jpeg", 32, 32, 1},
		{"webp with alpha", fixture(t, "alpha.webp"), crop(32, 32), "image/png", 32, 32, 1},
		{"gif over frame limit is still", fixture(t, "many-frames.gif"), animated(crop(8, 8)), "image/jpeg", 8, 8, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := Generate(bytes.NewReader(tc.src), tc.want, Limits{}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != tc.wantType || res.Width != tc.wantW || res.Height != tc.wantH {
				t.Errorf("result %+v, want %s %dx%d", res, tc.wantType, tc.wantW, tc.wantH)
			}
			if res.Bytes != int64(out.Len()) {
				t.Errorf("result says %d bytes, wrote %d", res.Bytes, out.Len())
			}
			bounds, frames := decodeOutput(t, res.ContentType, out.Bytes())
			if bounds.Dx() != tc.wantW || bounds.Dy() != tc.wantH || frames != tc.wantFrames {
				t.Errorf("output is %dx%d with %d frames, want %dx%d with %d",
					bounds.Dx(), bounds.Dy(), frames, tc.wantW, tc.wantH, tc.wantFrames)
			}
		})
	}
}

// TestGenerateRefuses feeds what must not be thumbnailed: each refusal
// carries its sentinel, and none writes anything.
func TestGenerateRefuses(t *testing.T) {
	thumb := crop(32, 32)
	tests := []struct {
		name string
		src  []byte
		want Spec
		err  error
	}{
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), thumb, ErrUnsupported},
		{"empty", nil, thumb, ErrUnsupported},
		{"bmp", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), thumb, ErrUnsupported},
		{"animated webp", animatedWebP(t), thumb, ErrUnsupported},
		{"truncated jpeg", fixture(t, "truncated.jpg"), thumb, ErrCorrupt},
		{"jpeg without frame", []byte("\xff\xd8\xff\xda\x00\x02"), thumb, ErrCorrupt},
		{"arithmetic-coded jpeg", patchJPEGMarker(t, encodeJPEG(t, photo(16, 16)), 0xc9), thumb, ErrUnsupported},
		{"png without IHDR", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIDATxxxxxxxxxxxxx"), thumb, ErrCorrupt},
		{"zero width png", pngHeader(0, 10), thumb, ErrCorrupt},
		{"webp with oversized VP8 chunk", oversizedVP8(t), thumb, ErrCorrupt},
		{"zero width", encodePNG(t, photo(10, 10)), crop(0, 32), ErrInvalidSpec},
		{"unknown method", encodePNG(t, photo(10, 10)), Spec{Width: 32, Height: 32, Method: "fit"}, ErrInvalidSpec},
	}
	for _, tc := range append(tests, bombs(t)...) {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Generate(bytes.NewReader(tc.src), tc.want, Limits{}, &out)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes for a refused image", out.Len())
			}
		})
	}
}

// bombs are headers claiming far more pixels than the limit, in every
// format, each a few hundred bytes.
func bombs(t testing.TB) []struct {
	name string
	src  []byte
	want Spec
	err  error
} {
	crop := animated(crop(32, 32))
	type bomb = struct {
		name string
		src  []byte
		want Spec
		err  error
	}
	return []bomb{
		{"png 50000x50000", fixture(t, "bomb.png"), crop, ErrTooLarge},
		{"jpeg 60000x60000", patchJPEGSize(t, encodeJPEG(t, photo(16, 16)), 60000, 60000), crop, ErrTooLarge},
		{"gif 65535x65535", patchGIFScreen(animatedGIF(t, 16, 16, 2, false), 65535, 65535), crop, ErrTooLarge},
		{"webp VP8X 16384x16384", patchWebPCanvas(fixture(t, "alpha.webp"), 16384, 16384), crop, ErrTooLarge},
		{"webp VP8L 16384x16384", patchVP8LSize(fixture(t, "lossless.webp"), 16384, 16384), crop, ErrTooLarge},
		{"webp VP8 16383x16383", patchVP8Size(fixture(t, "photo.webp"), 16383, 16383), crop, ErrTooLarge},
	}
}

// TestBombsCostNothing holds the refusal of every bomb to a small fraction
// of what decoding it would allocate: the pixel check runs on the header,
// before the decoder sees the bytes that complete it.
func TestBombsCostNothing(t *testing.T) {
	for _, tc := range bombs(t) {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 10 {
				if _, err := Generate(bytes.NewReader(tc.src), tc.want, Limits{}, &bytes.Buffer{}); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("error %v, want ErrTooLarge", err)
				}
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / 10; perRun > 1<<20 {
				t.Errorf("refusing allocated %d bytes a run, want under 1 MiB", perRun)
			}
		})
	}
}

// TestGenerateLimits: a configured pixel limit refuses what the default
// admits, and animations over the frame or pixel limits get a still
// thumbnail of the first frame.
func TestGenerateLimits(t *testing.T) {
	anim := animatedGIF(t, 100, 100, 10, false)
	animated := animated(scale(50, 50))
	tests := []struct {
		name     string
		src      []byte
		lim      Limits
		err      error
		wantType string
	}{
		{"under the pixel limit", encodePNG(t, photo(100, 100)), Limits{MaxPixels: 10000}, nil, "image/png"},
		{"over the pixel limit", encodePNG(t, photo(101, 100)), Limits{MaxPixels: 10000}, ErrTooLarge, ""},
		{"at the frame limit", anim, Limits{MaxFrames: 10}, nil, "image/gif"},
		{"over the frame limit", anim, Limits{MaxFrames: 9}, nil, "image/jpeg"},
		{"at the animated pixel limit", anim, Limits{MaxAnimatedPixels: 100 * 100 * 10}, nil, "image/gif"},
		{"over the animated pixel limit", anim, Limits{MaxAnimatedPixels: 100*100*10 - 1}, nil, "image/jpeg"},
		{"one frame over the animated pixel limit", anim, Limits{MaxAnimatedPixels: 100}, nil, "image/jpeg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Generate(bytes.NewReader(tc.src), animated, tc.lim, &bytes.Buffer{})
			if !errors.Is(err, tc.err) || res.ContentType != tc.wantType {
				t.Fatalf("got %q, %v; want %q, %v", res.ContentType, err, tc.wantType, tc.err)
			}
		})
	}
}

// TestAnimationComposition checks that each frame of an animated thumbnail
// shows what a viewer shows at that moment: partial frames drawn over the
// earlier ones, and each frame's disposal honoured.
func TestAnimationComposition(t *testing.T) {
	red, blue, green := uint8(1), uint8(3), uint8(2)
	full := image.NewPaletted(image.Rect(0, 0, 40, 40), gifPalette)
	fill(full, red)
	square := image.NewPaletted(image.Rect(0, 0, 20, 20), gifPalette)
	fill(square, blue)
	corner := image.NewPaletted(image.Rect(20, 20, 40, 40), gifPalette)
	fill(corner, green)
	src := &gif.GIF{
		Image:    []*image.Paletted{full, square, corner, corner},
		Delay:    []int{5, 5, 5, 5},
		Disposal: []byte{gif.DisposalNone, gif.DisposalPrevious, gif.DisposalBackground, gif.DisposalNone},
	}
	var in bytes.Buffer
	if err := gif.EncodeAll(&in, src); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Generate(&in, animated(scale(40, 40)), Limits{}, &out); err != nil {
		t.Fatal(err)
	}
	got, err := gif.DecodeAll(&out)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ topLeft, bottomRight color.Color }{
		{gifPalette[red], gifPalette[red]},
		{gifPalette[blue], gifPalette[red]},
		{gifPalette[red], gifPalette[green]}, // the blue square was disposed to what was before it
		{gifPalette[red], gifPalette[green]}, // the corner was cleared, then drawn again
	}
	for i, w := range want {
		tl, br := got.Image[i].At(5, 5), got.Image[i].At(35, 35)
		if !sameColor(tl, w.topLeft) || !sameColor(br, w.bottomRight) {
			t.Errorf("frame %d: top left %v, bottom right %v; want %v, %v", i, tl, br, w.topLeft, w.bottomRight)
		}
	}
	if got.Delay[2] != 5 {
		t.Errorf("delays %v, want those of the source", got.Delay)
	}
}

// TestAnimationTransparency: transparent parts of an animation stay
// transparent in its thumbnail.
func TestAnimationTransparency(t *testing.T) {
	var out bytes.Buffer
	src := animatedGIF(t, 80, 80, 2, true) // left quarter transparent
	if _, err := Generate(bytes.NewReader(src), animated(scale(40, 40)), Limits{}, &out); err != nil {
		t.Fatal(err)
	}
	got, err := gif.DecodeAll(&out)
	if err != nil {
		t.Fatal(err)
	}
	for i, frame := range got.Image {
		if _, _, _, a := frame.At(2, 20).RGBA(); a != 0 {
			t.Errorf("frame %d: left edge has alpha %d, want transparent", i, a)
		}
		if _, _, _, a := frame.At(30, 20).RGBA(); a != 0xffff {
			t.Errorf("frame %d: right side has alpha %d, want opaque", i, a)
		}
	}
}

// TestDecodeOnceThumbnailMany is the upload path: one decode, every default
// size from it.
func TestDecodeOnceThumbnailMany(t *testing.T) {
	img, err := Decode(bytes.NewReader(encodeJPEG(t, photo(1600, 1200))), Limits{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if info := img.Info(); info.Format != JPEG || info.Width != 1600 || info.Height != 1200 {
		t.Errorf("info %+v", info)
	}
	want := map[Size][2]int{
		{32, 32, Crop}:    {32, 32},
		{96, 96, Crop}:    {96, 96},
		{320, 240, Scale}: {320, 240},
		{640, 480, Scale}: {640, 480},
		{800, 600, Scale}: {800, 600},
	}
	for _, size := range DefaultSizes() {
		var out bytes.Buffer
		res, err := img.Thumbnail(size.Spec(), &out)
		if err != nil {
			t.Fatalf("%s: %v", size, err)
		}
		b, _ := decodeOutput(t, res.ContentType, out.Bytes())
		if [2]int{b.Dx(), b.Dy()} != want[size] {
			t.Errorf("%s: %dx%d, want %v", size, b.Dx(), b.Dy(), want[size])
		}
	}
}

// TestStillGIFReadsFirstFrameOnly: a still thumbnail of a long animation
// stops reading after the first frame.
func TestStillGIFReadsFirstFrameOnly(t *testing.T) {
	src := fixture(t, "many-frames.gif")
	r := &countingReader{r: bytes.NewReader(src)}
	if _, err := Generate(r, crop(8, 8), Limits{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if r.n > 8<<10 {
		t.Errorf("read %d of %d bytes for the first frame", r.n, len(src))
	}
}

// TestLargeHeaderStreams: megabytes of metadata before a JPEG's frame
// header are passed over, not held.
func TestLargeHeaderStreams(t *testing.T) {
	src := withAPPSegments(encodeJPEG(t, photo(64, 64)), 128) // 8 MiB of APP2
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := Generate(bytes.NewReader(src), crop(32, 32), Limits{}, &bytes.Buffer{})
	runtime.ReadMemStats(&after)
	if err != nil || res.Width != 32 {
		t.Fatalf("%+v, %v", res, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("allocated %d bytes for a 64×64 image behind %d bytes of metadata", alloc, len(src))
	}
	info, err := Probe(bytes.NewReader(src))
	if err != nil || info.Width != 64 {
		t.Fatalf("%+v, %v", info, err)
	}
}

// TestWriteErrorIsNotAnImageError: a failing destination is reported as
// such, not as a bad image.
func TestWriteErrorIsNotAnImageError(t *testing.T) {
	_, err := Generate(bytes.NewReader(encodePNG(t, photo(50, 50))), crop(32, 32), Limits{}, failingWriter{})
	if err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, errWrite) {
		t.Fatalf("error %v, want the writer's", err)
	}
}

// TestReadErrorIsNotAnImageError: a failing source is reported as such.
func TestReadErrorIsNotAnImageError(t *testing.T) {
	src := encodePNG(t, photo(50, 50))
	r := &failingReader{data: src[:100]}
	_, err := Generate(r, crop(32, 32), Limits{}, &bytes.Buffer{})
	if !errors.Is(err, errRead) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want the reader's", err)
	}
}

// TestPanicBecomesError: a panic while drawing a decoded image is recovered
// into ErrCorrupt.
func TestPanicBecomesError(t *testing.T) {
	img := &Image{info: Info{Format: PNG, Width: 10, Height: 10, Frames: 1}, still: panicImage{}}
	_, err := img.Thumbnail(scale(5, 5), &bytes.Buffer{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}
