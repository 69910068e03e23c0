package api

import (
	"fmt"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Errors of the roomserver, each with one meaning wherever it is answered
// (internal/coded: its Matrix status and errcode; compared with errors.Is).
var (
	ErrRoomNotFound  = coded.New("room not found", http.StatusNotFound, "M_NOT_FOUND")
	ErrEventNotFound = coded.New("event not found", http.StatusNotFound, "M_NOT_FOUND")
	// ErrNotInRoom: an event from another server for a room no user of this
	// server is joined to (left, or only invited); it is not taken in. A
	// client's request about such a room is refused with it too (the
	// client API joins and leaves it through another server instead).
	ErrNotInRoom = coded.New("no user of this server is in the room", http.StatusForbidden, "M_FORBIDDEN")
	// ErrUnsupportedRoomVersion: a room version this server cannot create
	// (spec: POST /createRoom, 400 M_UNSUPPORTED_ROOM_VERSION).
	ErrUnsupportedRoomVersion = coded.New("this server does not support that room version", http.StatusBadRequest,
		"M_UNSUPPORTED_ROOM_VERSION")
	// ErrInvalidState: initial_state that would replace what createRoom
	// sets itself (spec: POST /createRoom, 400 M_INVALID_ROOM_STATE).
	ErrInvalidState = coded.New("initial_state may not contain m.room.create, m.room.member or m.room.power_levels",
		http.StatusBadRequest, "M_INVALID_ROOM_STATE")
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
