package api

import (
	"fmt"
	"net/http"
)

// Error is a roomserver failure with one meaning wherever it is answered:
// the Matrix status and errcode of MatrixCode (httputil.CodedError), its
// text as the message. The sentinels below are its only values, compared
// with errors.Is.
type Error struct {
	text    string
	status  int
	errcode string
}

func (e *Error) Error() string { return e.text }

// MatrixCode is the status and errcode clients and servers are answered with.
func (e *Error) MatrixCode() (status int, errcode string) { return e.status, e.errcode }

// Errors of the roomserver.
var (
	ErrRoomNotFound  = &Error{"room not found", http.StatusNotFound, "M_NOT_FOUND"}
	ErrEventNotFound = &Error{"event not found", http.StatusNotFound, "M_NOT_FOUND"}
	// ErrNotInRoom: an event from another server for a room no user of this
	// server is joined to (left, or only invited); it is not taken in. A
	// client's request about such a room is refused with it too (the
	// client API joins and leaves it through another server instead).
	ErrNotInRoom = &Error{"no user of this server is in the room", http.StatusForbidden, "M_FORBIDDEN"}
	// ErrUnsupportedRoomVersion: a room version this server cannot create
	// (spec: POST /createRoom, 400 M_UNSUPPORTED_ROOM_VERSION).
	ErrUnsupportedRoomVersion = &Error{"this server does not support that room version", http.StatusBadRequest,
		"M_UNSUPPORTED_ROOM_VERSION"}
	// ErrInvalidState: initial_state that would replace what createRoom
	// sets itself (spec: POST /createRoom, 400 M_INVALID_ROOM_STATE).
	ErrInvalidState = &Error{"initial_state may not contain m.room.create, m.room.member or m.room.power_levels",
		http.StatusBadRequest, "M_INVALID_ROOM_STATE"}
)

// ForbiddenError is returned when the auth rules or the room's settings
// refuse an action; Reason, its text, says why for a person to read.
type ForbiddenError struct{ Reason string }

func (e *ForbiddenError) Error() string { return e.Reason }

// MatrixCode is 403 M_FORBIDDEN.
func (e *ForbiddenError) MatrixCode() (status int, errcode string) {
	return http.StatusForbidden, "M_FORBIDDEN"
}

// Forbidden returns a ForbiddenError.
func Forbidden(format string, args ...any) error {
	return &ForbiddenError{Reason: fmt.Sprintf(format, args...)}
}

// BadRequestError is returned for requests that can never succeed as
// given; Reason, its text, says what is wrong.
type BadRequestError struct{ Reason string }

func (e *BadRequestError) Error() string { return e.Reason }

// MatrixCode is 400 M_BAD_JSON: the request's content is at fault.
func (e *BadRequestError) MatrixCode() (status int, errcode string) {
	return http.StatusBadRequest, "M_BAD_JSON"
}
