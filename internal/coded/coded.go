// Package coded is the one error type of the components' api packages: an
// error that knows its Matrix meaning (the status and errcode a client or
// another server is answered with, and any further fields of the error
// body). It implements httputil.CodedError and httputil.ErrorFields with
// the standard library only, so an api package can declare its sentinels
// without importing HTTP helpers. Each sentinel is its own value, compared
// with errors.Is.
package coded

import "maps"

// Error is a failure with its Matrix answer; its text is the message.
type Error struct {
	text    string
	status  int
	errcode string
	extra   map[string]any
}

// New is an error answered with status and errcode, text as the message.
func New(text string, status int, errcode string) *Error {
	return &Error{text: text, status: status, errcode: errcode}
}

// WithFields is New with further fields of the error body (soft_logout).
func WithFields(text string, status int, errcode string, fields map[string]any) *Error {
	return &Error{text: text, status: status, errcode: errcode, extra: fields}
}

func (e *Error) Error() string { return e.text }

// MatrixCode is the status and errcode the error is answered with.
func (e *Error) MatrixCode() (status int, errcode string) { return e.status, e.errcode }

// MatrixExtra is the error body's other fields (a copy; nil for none).
func (e *Error) MatrixExtra() map[string]any { return maps.Clone(e.extra) }
