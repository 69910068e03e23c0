package thumbnail

import (
	"encoding/binary"
	"fmt"
)

// gifScan says how far a GIF's header scan goes.
type gifScan int

const (
	// gifScreen stops at the logical screen descriptor: a still
	// thumbnail decodes only the first frame, which lies within it.
	gifScreen gifScan = iota
	// gifCount walks every block to the trailer, counting frames (Probe).
	gifCount
	// gifAnimation counts frames too, and cuts the stream before the frame
	// that would pass the animation limits, so an animated decode holds no
	// more frames than Limits allow.
	gifAnimation
)

// header reads what this package needs from the start of an image, as its
// bytes stream past on their way to the decoder: the dimensions, which are
// checked against the pixel limit before the decoder sees the bytes that
// complete them, a JPEG's EXIF orientation, and a GIF's frames.
type header struct {
	scan        fieldScanner
	lim         Limits
	format      Format
	gif         gifScan
	width       int64
	height      int64
	sized       bool
	orientation int
	frames      int
	cut         bool
}

// newHeader starts a scan of an image of format f.
func newHeader(f Format, lim Limits, gif gifScan) *header {
	h := &header{lim: lim, format: f, gif: gif}
	switch f {
	case JPEG:
		h.scan.read(2, h.jpegStart)
	case PNG:
		h.scan.read(8+8+8, h.png)
	case GIF:
		h.scan.read(13, h.gifScreen)
	case WebP:
		h.scan.read(12, h.webpStart)
	}
	return h
}

// info returns what the scan found, with the dimensions as displayed.
func (h *header) info() Info {
	w, hgt := int(h.width), int(h.height)
	if transposes(h.orientation) {
		w, hgt = hgt, w
	}
	frames := max(h.frames, 1)
	return Info{Format: h.format, Width: w, Height: hgt, Frames: frames}
}

// setSize records the dimensions and refuses an image over the pixel limit;
// it runs before the decoder has the bytes, so a bomb is never allocated.
func (h *header) setSize(w, hgt int64) error {
	if w <= 0 || hgt <= 0 {
		return fmt.Errorf("%w: %s header claims %d×%d pixels", ErrCorrupt, h.format, w, hgt)
	}
	h.width, h.height, h.sized = w, hgt, true
	if w*hgt > h.lim.MaxPixels {
		return fmt.Errorf("%w: %d×%d is over the limit of %d pixels", ErrTooLarge, w, hgt, h.lim.MaxPixels)
	}
	return nil
}

// corrupt is the error for a header that breaks its format's layout.
func (h *header) corrupt(what string) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, h.format, what)
}

// png reads the signature and the IHDR chunk, which must come first.
func (h *header) png(b []byte) error {
	if string(b[12:16]) != "IHDR" || binary.BigEndian.Uint32(b[8:]) != 13 {
		return h.corrupt("first chunk is not IHDR")
	}
	h.scan.finish()
	return h.setSize(int64(binary.BigEndian.Uint32(b[16:])), int64(binary.BigEndian.Uint32(b[20:])))
}

// jpegStart skips the start-of-image marker that sniff already saw.
func (h *header) jpegStart([]byte) error {
	h.scan.read(1, h.jpegMarkerStart)
	return nil
}

// jpegMarkerStart expects the 0xFF that begins every marker.
func (h *header) jpegMarkerStart(b []byte) error {
	if b[0] != 0xff {
		return h.corrupt("marker expected")
	}
	h.scan.read(1, h.jpegMarker)
	return nil
}

// jpegMarker reads a marker code (ITU T.81 B.1.1.2) and the length of its
// segment, where it has one.
func (h *header) jpegMarker(b []byte) error {
	switch m := b[0]; {
	case m == 0xff: // fill byte: the code is still to come
		return nil
	case m == 0x01 || (m >= 0xd0 && m <= 0xd8): // TEM, RSTn, SOI stand alone
		h.scan.read(1, h.jpegMarkerStart)
		return nil
	case m == 0x00 || m == 0xd9 || m == 0xda:
		return h.corrupt("no frame header before the image data")
	}
	marker := b[0]
	h.scan.read(2, func(l []byte) error {
		n := int(binary.BigEndian.Uint16(l)) - 2
		if n < 0 {
			return h.corrupt("segment length under 2")
		}
		return h.jpegSegment(marker, n)
	})
	return nil
}

// jpegSegment reads the frame header's dimensions, keeps the orientation
// from an EXIF segment, and passes over every other segment.
func (h *header) jpegSegment(marker byte, n int) error {
	switch {
	case isSOF(marker):
		if n < 5 {
			return h.corrupt("frame header too short")
		}
		h.scan.read(5, func(f []byte) error {
			h.scan.finish()
			return h.setSize(int64(binary.BigEndian.Uint16(f[3:])), int64(binary.BigEndian.Uint16(f[1:])))
		})
	case marker == 0xe1 && h.orientation == 0 && n > 0:
		h.scan.read(n, func(f []byte) error {
			h.orientation = exifOrientation(f)
			h.scan.read(1, h.jpegMarkerStart)
			return nil
		})
	default:
		h.scan.pass(int64(n))
		h.scan.read(1, h.jpegMarkerStart)
	}
	return nil
}

// isSOF reports whether a marker starts a frame header: SOF0–SOF15 except
// DHT (C4), JPG (C8) and DAC (CC), which share the range.
func isSOF(m byte) bool {
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc
}

// gifScreen reads the header and logical screen descriptor (GIF89a §17–18);
// every frame lies within the screen, so its size bounds every frame.
func (h *header) gifScreen(b []byte) error {
	if err := h.setSize(int64(binary.LittleEndian.Uint16(b[6:])), int64(binary.LittleEndian.Uint16(b[8:]))); err != nil {
		return err
	}
	if h.gif == gifScreen {
		h.scan.finish()
		return nil
	}
	h.scan.pass(colorTableLen(b[10]))
	h.scan.read(1, h.gifBlock)
	return nil
}

// colorTableLen is the size of the colour table a GIF's packed fields byte
// announces (GIF89a §18, §20).
func colorTableLen(packed byte) int64 {
	if packed&0x80 == 0 {
		return 0
	}
	return 3 << (packed&7 + 1)
}

// gifBlock dispatches on a block's introducer (GIF89a §15, §27).
func (h *header) gifBlock(b []byte) error {
	switch b[0] {
	case 0x21: // extension: label, then data sub-blocks
		h.scan.read(1, func([]byte) error {
			h.scan.read(1, h.gifSubBlock)
			return nil
		})
	case 0x2c: // image descriptor
		if err := h.countFrame(); err != nil {
			return err
		}
		h.scan.read(9, h.gifImage)
	case 0x3b: // trailer
		h.scan.finish()
	default:
		if h.gif == gifCount { // Probe counts what a viewer would show
			h.scan.finish()
			return nil
		}
		return h.corrupt(fmt.Sprintf("unknown block 0x%02x", b[0]))
	}
	return nil
}

// countFrame counts a frame, and cuts an animation before the frame that
// would pass its limits. The first frame is never cut: the screen it lies
// in is within the pixel limit, and a still thumbnail needs it.
func (h *header) countFrame() error {
	h.frames++
	if h.gif != gifAnimation || h.frames == 1 {
		return nil
	}
	if h.frames > h.lim.MaxFrames || int64(h.frames)*h.width*h.height > h.lim.MaxAnimatedPixels {
		h.frames--
		h.cut = true
		h.scan.finish()
		return errCut
	}
	return nil
}

// gifImage passes over a frame's local colour table and its LZW code size.
func (h *header) gifImage(b []byte) error {
	h.scan.pass(colorTableLen(b[8]) + 1)
	h.scan.read(1, h.gifSubBlock)
	return nil
}

// gifSubBlock passes over one data sub-block; a zero length ends the run.
func (h *header) gifSubBlock(b []byte) error {
	if b[0] == 0 {
		h.scan.read(1, h.gifBlock)
		return nil
	}
	h.scan.pass(int64(b[0]))
	return nil
}

// webpStart skips the RIFF header that sniff already saw.
func (h *header) webpStart([]byte) error {
	h.scan.read(8, h.webpChunk)
	return nil
}

// webpChunk reads a RIFF chunk header and the start of the chunks that give
// the dimensions: VP8X (extended), VP8 (lossy) and VP8L (lossless).
func (h *header) webpChunk(b []byte) error {
	size := int64(binary.LittleEndian.Uint32(b[4:]))
	switch string(b[:4]) {
	case "VP8X":
		return h.webpChunkStart(size, 10, h.webpExtended)
	case "VP8 ":
		return h.webpChunkStart(size, 10, func(f []byte) error { return h.webpLossy(f, size) })
	case "VP8L":
		return h.webpChunkStart(size, 5, h.webpLossless)
	}
	h.scan.pass(size + size&1) // chunks are padded to an even length
	return nil
}

// webpChunkStart reads the first n bytes of a chunk of the given size with
// fn, then, unless fn finished the scan, passes over the rest of the chunk.
func (h *header) webpChunkStart(size int64, n int, fn func([]byte) error) error {
	if size < int64(n) {
		return h.corrupt("chunk too short")
	}
	h.scan.read(n, func(f []byte) error {
		if err := fn(f); err != nil || h.scan.done {
			return err
		}
		h.scan.pass(size - int64(n) + size&1)
		h.scan.read(8, h.webpChunk)
		return nil
	})
	return nil
}

// webpExtended reads the canvas size of a VP8X chunk and refuses an
// animation, which x/image/webp cannot decode. The scan goes on to the image
// chunk, whose length is checked too.
func (h *header) webpExtended(f []byte) error {
	const animation = 1 << 1
	if f[0]&animation != 0 {
		return fmt.Errorf("%w: animated WebP", ErrUnsupported)
	}
	return h.setSize(int64(le24(f[4:]))+1, int64(le24(f[7:]))+1)
}

// webpLossy reads a VP8 key frame's dimensions (RFC 6386 §9.1). The decoder
// reads the whole chunk into memory before decoding, so a chunk longer than
// any encoding of that many pixels could need is refused here.
func (h *header) webpLossy(f []byte, size int64) error {
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return h.corrupt("VP8 key frame start code missing")
	}
	w := int64(binary.LittleEndian.Uint16(f[6:]) & 0x3fff)
	hgt := int64(binary.LittleEndian.Uint16(f[8:]) & 0x3fff)
	h.scan.finish()
	if size > 4*w*hgt+1<<16 {
		return h.corrupt(fmt.Sprintf("%d bytes of VP8 data for %d×%d pixels", size, w, hgt))
	}
	if h.sized { // under VP8X, whose size the decoder checks this one against
		return nil
	}
	return h.setSize(w, hgt)
}

// webpLossless reads a VP8L image's dimensions (its 5-byte header: the
// signature 0x2f, then 14 bits each of width-1 and height-1).
func (h *header) webpLossless(f []byte) error {
	if f[0] != 0x2f {
		return h.corrupt("VP8L signature missing")
	}
	h.scan.finish()
	if h.sized {
		return nil
	}
	bits := binary.LittleEndian.Uint32(f[1:])
	return h.setSize(int64(bits&0x3fff)+1, int64(bits>>14&0x3fff)+1)
}

// le24 reads a 24-bit little-endian integer.
func le24(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
}
