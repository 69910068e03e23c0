package thumbnail

import (
	"bytes"
	"encoding/binary"
	"image"
)

// exifOrientation returns the Orientation tag (0x0112) of IFD0 in a JPEG
// APP1 segment (Exif 2.32 §4.5.4, §4.6.4), 1–8, or 0 when the segment is
// not EXIF or has no valid orientation. Cameras store the sensor's pixels
// and record how to turn them; browsers apply it, so must a thumbnail.
func exifOrientation(app1 []byte) int {
	tiff, ok := bytes.CutPrefix(app1, []byte("Exif\x00\x00"))
	if !ok || len(tiff) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(order.Uint32(tiff[4:]))
	if order.Uint16(tiff[2:]) != 42 || ifd+2 > int64(len(tiff)) {
		return 0
	}
	entries := tiff[ifd+2:]
	for range order.Uint16(tiff[ifd:]) {
		if len(entries) < 12 {
			return 0
		}
		const tagOrientation, typeShort = 0x0112, 3
		if order.Uint16(entries) == tagOrientation && order.Uint16(entries[2:]) == typeShort {
			if v := int(order.Uint16(entries[8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
		entries = entries[12:]
	}
	return 0
}

// transposes reports whether an orientation swaps width and height
// (5–8: the stored image is turned a quarter).
func transposes(orientation int) bool {
	return orientation >= 5 && orientation <= 8
}

// orient turns a thumbnail of stored pixels into the picture as displayed.
func orient(src *image.RGBA, orientation int) *image.RGBA {
	if orientation <= 1 || orientation > 8 {
		return src
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := sw, sh
	if transposes(orientation) {
		dw, dh = sh, sw
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			sx, sy := storedPoint(orientation, x, y, sw, sh)
			si := src.PixOffset(src.Rect.Min.X+sx, src.Rect.Min.Y+sy)
			copy(dst.Pix[dst.PixOffset(x, y):][:4], src.Pix[si:si+4])
		}
	}
	return dst
}

// storedPoint maps a displayed pixel (x, y) to the stored pixel it shows,
// for a stored image of sw × sh.
func storedPoint(orientation, x, y, sw, sh int) (int, int) {
	switch orientation {
	case 2: // mirrored left to right
		return sw - 1 - x, y
	case 3: // turned half a turn
		return sw - 1 - x, sh - 1 - y
	case 4: // mirrored top to bottom
		return x, sh - 1 - y
	case 5: // transposed
		return y, x
	case 6: // stored a quarter turn anticlockwise: display turns it clockwise
		return y, sh - 1 - x
	case 7: // transversed
		return sw - 1 - y, sh - 1 - x
	case 8: // stored a quarter turn clockwise
		return sw - 1 - y, x
	}
	return x, y
}
