package thumbnail

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchSources are the sources the benchmarks thumbnail: a 12-megapixel
// photograph as phones send them, and a large PNG (a screenshot or
// drawing).
func benchSources(b *testing.B) []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		{"jpeg-4000x3000", encodeJPEG(b, photo(4000, 3000))},
		{"png-2000x2000", encodePNG(b, photo(2000, 2000))},
	}
}

// BenchmarkGenerate times Generate, decoding included, for each default
// size: the cost of a thumbnail generated on demand.
func BenchmarkGenerate(b *testing.B) {
	for _, src := range benchSources(b) {
		for _, size := range DefaultSizes() {
			b.Run(fmt.Sprintf("%s/%dx%d-%s", src.name, size.Width, size.Height, size.Method), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(src.data)))
				for b.Loop() {
					if _, err := Generate(bytes.NewReader(src.data), size.Spec(), Limits{}, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkUpload times one decode and every default size from it: the
// cost of pre-generating thumbnails when an image is uploaded.
func BenchmarkUpload(b *testing.B) {
	for _, src := range benchSources(b) {
		b.Run(src.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src.data)))
			for b.Loop() {
				img, err := Decode(bytes.NewReader(src.data), Limits{}, false)
				if err != nil {
					b.Fatal(err)
				}
				for _, size := range DefaultSizes() {
					if _, err := img.Thumbnail(size.Spec(), io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkDecode times decoding alone, to tell it from thumbnailing.
func BenchmarkDecode(b *testing.B) {
	for _, src := range benchSources(b) {
		b.Run(src.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(src.data), Limits{}, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
