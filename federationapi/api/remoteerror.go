package api

import (
	"fmt"
	"net/http"
)

// RemoteError is another server's failure to do what this server asked of
// it for a client: its Matrix error, or why there was no answer. It
// implements httputil.CodedError, so a handler returns it (wrapped or not)
// and the client gets:
//
//   - the remote's own error (status, errcode, fields such as
//     room_version) when it is a refusal the client can act on: a 400,
//     403 or 404 with an errcode (spec: server-server API, invites and
//     joins: "The error should be passed through to clients");
//   - 502 M_UNKNOWN otherwise: no answer, a 5xx, an answer that is not a
//     Matrix error, or an error about this server's own request
//     (M_INVALID_PARAM and M_MISSING_PARAM, for which the spec says the
//     client's request "SHOULD fail with a 5xx error rather than being
//     passed through"; its signature, rate or JSON likewise).
//
// The federation component builds it in one place from the federation
// client's errors; Err keeps that error for errors.As.
type RemoteError struct {
	Server  string         // the server asked
	Status  int            // its HTTP status; 0 when it gave no answer
	ErrCode string         // its errcode; "" when the answer was no Matrix error
	Message string         // its error text, or why its answer is unusable or missing
	Extra   map[string]any // the other fields of its error (room_version)
	Err     error          // the federation client's error
}

// notForClients are the errcodes that describe the request this server
// built (its parameters, JSON, signature, size or rate) rather than what
// the client asked for, and those a client would take as a statement about
// its own session.
var notForClients = map[string]bool{
	"M_INVALID_PARAM":    true,
	"M_MISSING_PARAM":    true,
	"M_BAD_JSON":         true,
	"M_NOT_JSON":         true,
	"M_UNAUTHORIZED":     true,
	"M_UNRECOGNIZED":     true,
	"M_LIMIT_EXCEEDED":   true,
	"M_TOO_LARGE":        true,
	"M_MISSING_TOKEN":    true,
	"M_UNKNOWN_TOKEN":    true,
	"M_USER_DEACTIVATED": true,
}

// PassedThrough reports whether the client is answered with the remote's
// own error (see RemoteError).
func (e *RemoteError) PassedThrough() bool {
	switch e.Status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
		return e.ErrCode != "" && !notForClients[e.ErrCode]
	}
	return false
}

// Error names the server and says what it answered, in its own words.
func (e *RemoteError) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("%s could not be reached: %s", e.Server, e.Message)
	case e.ErrCode == "":
		return fmt.Sprintf("%s answered %d: %s", e.Server, e.Status, e.Message)
	}
	return fmt.Sprintf("%s answered %d %s: %s", e.Server, e.Status, e.ErrCode, e.Message)
}

// MatrixCode implements httputil.CodedError.
func (e *RemoteError) MatrixCode() (status int, errcode string) {
	if e.PassedThrough() {
		return e.Status, e.ErrCode
	}
	return http.StatusBadGateway, "M_UNKNOWN"
}

// MatrixExtra implements httputil.ErrorFields: the remote's other fields,
// when its error is passed through.
func (e *RemoteError) MatrixExtra() map[string]any {
	if e.PassedThrough() {
		return e.Extra
	}
	return nil
}

// Unwrap gives the federation client's error, and ErrRemoteNotFound for a
// 404 or ErrRemoteUnavailable for an error not passed through.
func (e *RemoteError) Unwrap() []error {
	out := make([]error, 0, 3)
	if e.Err != nil {
		out = append(out, e.Err)
	}
	if e.Status == http.StatusNotFound {
		out = append(out, ErrRemoteNotFound)
	}
	if !e.PassedThrough() {
		out = append(out, ErrRemoteUnavailable)
	}
	return out
}
