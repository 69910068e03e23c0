package thumbnail

// Defaults for the zero fields of Limits.
const (
	// DefaultMaxPixels admits a 32-megapixel photograph (6,930 × 4,620), more
	// than phone cameras take, while a decoded image stays within about
	// 128 MiB (four bytes a pixel).
	DefaultMaxPixels = 32_000_000
	// DefaultMaxFrames bounds the frames of an animated thumbnail.
	DefaultMaxFrames = 500
	// DefaultMaxAnimatedPixels bounds frames × screen pixels of an animated
	// GIF: 200 frames of 500 × 500, or 24 frames of 1920 × 1080.
	DefaultMaxAnimatedPixels = 50_000_000
)

// Limits bound the work one image may cause. A zero field takes its default.
type Limits struct {
	// MaxPixels is the most width × height an image (or a GIF's logical
	// screen) may claim; a larger one is refused with ErrTooLarge before any
	// of it is decoded.
	MaxPixels int64
	// MaxFrames is the most frames an animated GIF may have to get an
	// animated thumbnail; a longer one gets a still thumbnail of its first
	// frame.
	MaxFrames int
	// MaxAnimatedPixels is the most frames × screen pixels an animated GIF
	// may have to get an animated thumbnail; a larger one gets a still
	// thumbnail of its first frame.
	MaxAnimatedPixels int64
}

// DefaultLimits returns the limits used where none are configured.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

// withDefaults fills the zero (or negative) fields with their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultMaxFrames
	}
	if l.MaxAnimatedPixels <= 0 {
		l.MaxAnimatedPixels = DefaultMaxAnimatedPixels
	}
	return l
}
