package thumbnail

import "errors"

// errCut is returned by a field handler to end the stream just before the
// field it was given (a GIF frame over the animation limits).
var errCut = errors.New("stream cut")

// fieldScanner walks a byte stream the way an image header is laid out:
// fields of a known length, handed to a function once complete, and runs of
// bytes passed over. It holds one field at a time, so it reads a header of
// any length in the memory of its largest field, and it can be fed the
// stream in whatever pieces a decoder reads it.
type fieldScanner struct {
	field []byte
	want  int
	skip  int64
	next  func(field []byte) error
	done  bool
}

// read asks for the next n bytes as one field, handed to fn.
func (s *fieldScanner) read(n int, fn func(field []byte) error) {
	s.want, s.next = n, fn
}

// pass passes over the next n bytes before the next field.
func (s *fieldScanner) pass(n int64) {
	s.skip += n
}

// finish ends the scan: later bytes are not looked at.
func (s *fieldScanner) finish() {
	s.done = true
}

// feed scans p and returns how many bytes it consumed: all of p, unless
// the scan finished or a handler failed first.
func (s *fieldScanner) feed(p []byte) (int, error) {
	n := 0
	for n < len(p) && !s.done {
		if s.skip > 0 {
			k := int(min(int64(len(p)-n), s.skip))
			s.skip -= int64(k)
			n += k
			continue
		}
		k := min(len(p)-n, s.want-len(s.field))
		s.field = append(s.field, p[n:n+k]...)
		n += k
		if len(s.field) < s.want {
			continue
		}
		field := s.field
		s.field = s.field[:0]
		if err := s.next(field); err != nil {
			return n, err
		}
	}
	return n, nil
}
