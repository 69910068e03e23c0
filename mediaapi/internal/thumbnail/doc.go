// Package thumbnail probes and thumbnails the images Myelin's content
// repository serves: JPEG, PNG, GIF and WebP, and nothing else (an SVG or a
// PDF is never thumbnailed).
//
// Every image is refused before it is decoded when its header claims more
// pixels than Limits allow, so a file of a few KiB that claims to be 50,000
// pixels square costs nothing; memory use follows the pixel limit, never the
// file size, and the source is read once, as a stream.
//
// Upload-time pre-generation decodes once and thumbnails several sizes:
//
//	img, err := thumbnail.Decode(file, lim, false)
//	for _, size := range thumbnail.DefaultSizes() {
//		res, err := img.Thumbnail(size.Spec(), out)
//	}
//
// A request for a size not pre-generated uses Generate, and Sizes.Pick says
// which pre-generated size answers a request (spec: Client-Server API,
// "Thumbnails" in the content repository module).
//
// Errors are the sentinels ErrUnsupported, ErrTooLarge, ErrCorrupt and
// ErrInvalidSpec (compare with errors.Is); the media component maps them to
// Matrix errors. A decoder that panics on hostile input is recovered into
// ErrCorrupt.
package thumbnail
