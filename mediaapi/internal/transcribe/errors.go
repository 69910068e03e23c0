package transcribe

import (
	"fmt"
	"net/http"
)

// Error is a transcription failure with a meaning for the client that asked:
// the Matrix status and errcode of MatrixCode (httputil.CodedError), its
// text as the message. The sentinels below are its kinds; an error returned
// by Transcribe may carry a detail (what ffmpeg or the engine said) and
// still compares equal to its sentinel with errors.Is.
type Error struct {
	text    string
	status  int
	errcode string
	detail  string
}

// Error is the kind's text, followed by the detail when there is one.
func (e *Error) Error() string {
	if e.detail == "" {
		return e.text
	}
	return e.text + ": " + e.detail
}

// MatrixCode is the status and errcode the client is answered with.
func (e *Error) MatrixCode() (status int, errcode string) { return e.status, e.errcode }

// Is reports whether target is the sentinel of e's kind, so that an error
// carrying a detail still matches errors.Is(err, ErrEngine).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.text == e.text && t.status == e.status
}

// with returns an error of e's kind that also says what happened.
func (e *Error) with(format string, args ...any) *Error {
	c := *e
	c.detail = fmt.Sprintf(format, args...)
	return &c
}

// Errors of transcription.
var (
	// ErrNotAudio: the file is not audio (its type is not audio/*, its first
	// bytes are no audio container, or ffmpeg cannot decode it).
	ErrNotAudio = &Error{text: "not an audio file", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"}
	// ErrNoEngine: no engine is configured and pocketsphinx is not installed,
	// or the configured engine lacks a program it needs. The text tells the
	// operator how to enable one.
	ErrNoEngine = &Error{
		text: "no transcription engine: install pocketsphinx and pocketsphinx-en-us, " +
			"or configure media_api.transcription.engine openai or baidu",
		status:  http.StatusNotImplemented,
		errcode: "M_UNRECOGNIZED",
	}
	// ErrEngine: the engine failed; the detail is the engine's own message.
	ErrEngine = &Error{text: "transcription engine failed", status: http.StatusBadGateway, errcode: "M_UNKNOWN"}
	// ErrTimeout: the transcription took longer than Config.Timeout
	// (waiting for a free slot included).
	ErrTimeout = &Error{text: "transcription timed out", status: http.StatusBadGateway, errcode: "M_UNKNOWN"}
	// ErrTooLong: the audio is longer than the engine accepts (Baidu takes at
	// most 60 s); it can never succeed with this engine.
	ErrTooLong = &Error{text: "audio too long for the transcription engine", status: http.StatusRequestEntityTooLarge,
		errcode: "M_TOO_LARGE"}
	// ErrLanguage: the requested language is one the engine cannot transcribe
	// (pocketsphinx has one model; Baidu has a model per language).
	ErrLanguage = &Error{text: "language not supported by the transcription engine", status: http.StatusBadRequest,
		errcode: "M_INVALID_PARAM"}
)
