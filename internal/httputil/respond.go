package httputil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes err as a Matrix error. A *MatrixError or a CodedError
// (found with errors.As, so wrapped ones count) is written with its status
// and errcode; anything else is logged with the request's logger and written
// as 500 M_UNKNOWN, without details the client should not see.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var resp ErrorResponse
	if errors.As(err, &resp) {
		resp.WriteResponse(w)
		return
	}
	if me, ok := AsMatrixError(err); ok {
		if me.Status >= 500 {
			Logger(r.Context()).WithError(err).Error("request failed")
		}
		WriteJSON(w, me.Status, me.Body())
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		WriteJSON(w, http.StatusRequestEntityTooLarge, TooLarge("Request body is larger than %d bytes", mbe.Limit).Body())
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away and its request was abandoned: nothing
		// failed, and no one reads the answer.
		Logger(r.Context()).WithError(err).Debug("request abandoned by the client")
	} else {
		Logger(r.Context()).WithError(err).Error("request failed")
	}
	WriteJSON(w, http.StatusInternalServerError, Unknown("Internal server error").Body())
}

// ErrorResponse is an error that writes its own response, for failures whose
// body is not a plain Matrix error (user-interactive auth challenges).
type ErrorResponse interface {
	error
	WriteResponse(w http.ResponseWriter)
}

// Handler is an HTTP handler that reports failure by returning an error;
// see WriteError for how it reaches the client.
type Handler func(w http.ResponseWriter, r *http.Request) error

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// ReadJSON reads the request body as one JSON object into v.
//
// Per the spec's standard errors: a body that is not JSON, or JSON that is not
// an object, is M_NOT_JSON; JSON whose values do not fit v is M_BAD_JSON; a
// body over the request limit is M_TOO_LARGE (413). An empty body reads as {}.
func ReadJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return TooLarge("Request body is larger than %d bytes", mbe.Limit)
		}
		return BadRequestUnknown("Could not read request body")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	return DecodeJSONObject(body, v)
}

// DecodeJSONObject decodes body, which must be a JSON object, into v, with
// the error codes of ReadJSON.
func DecodeJSONObject(body []byte, v any) error {
	if !json.Valid(body) || !utf8.Valid(body) {
		// JSON is UTF-8 (RFC 8259); Go's decoder would quietly replace
		// invalid bytes.
		return NotJSON("Content not JSON")
	}
	if body[0] != '{' {
		// Valid JSON of the wrong shape: M_BAD_JSON, as for any other
		// malformed content (M_NOT_JSON is for bodies that are not JSON).
		return BadJSON("Content must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return BadJSON("Field %q has the wrong type: expected %s, got %s", te.Field, te.Type.String(), te.Value)
		}
		return BadJSON("Malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// ReadBody reads the raw request body with the request limit applied.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, TooLarge("Request body is larger than %d bytes", mbe.Limit)
		}
		return nil, BadRequestUnknown("Could not read request body")
	}
	return body, nil
}
