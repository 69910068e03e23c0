package httputil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// codedErr is a component error as the api packages write them: a Matrix
// meaning without importing httputil.
type codedErr struct {
	text, code string
	status     int
	extra      map[string]any
}

func (e *codedErr) Error() string                            { return e.text }
func (e *codedErr) MatrixCode() (status int, errcode string) { return e.status, e.code }

type codedWithFields struct{ *codedErr }

func (e codedWithFields) MatrixExtra() map[string]any { return e.extra }

func TestWriteErrorMapsCodedErrors(t *testing.T) {
	notFound := &codedErr{text: "room not found", code: "M_NOT_FOUND", status: http.StatusNotFound}
	expired := codedWithFields{&codedErr{text: "access token expired", code: "M_UNKNOWN_TOKEN", status: http.StatusUnauthorized,
		extra: map[string]any{"soft_logout": true}}}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   map[string]any
	}{
		{"coded error", notFound, 404, map[string]any{"errcode": "M_NOT_FOUND", "error": "room not found"}},
		{
			// The wrapping names internal steps: the client reads the
			// coded error's own text.
			"wrapped coded error", fmt.Errorf("load room: %w", notFound), 404,
			map[string]any{"errcode": "M_NOT_FOUND", "error": "room not found"},
		},
		{
			"extra fields", fmt.Errorf("query token: %w", expired), 401,
			map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "access token expired", "soft_logout": true},
		},
		{
			// A handler's own mapping wins over the component's meaning.
			"matrix error first", errors.Join(notFound, Forbidden("not yours")), 403,
			map[string]any{"errcode": "M_FORBIDDEN", "error": "not yours"},
		},
		{
			"extra fields cannot replace errcode", codedWithFields{&codedErr{text: "t", code: "M_X", status: 400,
				extra: map[string]any{"errcode": "M_Y", "error": "other"}}}, 400,
			map[string]any{"errcode": "M_X", "error": "t"},
		},
		{"plain error hidden", fmt.Errorf("query: %w", errors.New("secret")), 500,
			map[string]any{"errcode": "M_UNKNOWN", "error": "Internal server error"}},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413,
			map[string]any{"errcode": "M_TOO_LARGE", "error": "Request body is larger than 10 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), tc.err)
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != tc.status || !reflect.DeepEqual(body, tc.body) {
				t.Fatalf("got %d %v, want %d %v", w.Code, body, tc.status, tc.body)
			}
		})
	}
}

func TestAsMatrixError(t *testing.T) {
	if _, ok := AsMatrixError(errors.New("plain")); ok {
		t.Fatal("a plain error has no Matrix meaning")
	}
	if _, ok := AsMatrixError(nil); ok {
		t.Fatal("nil has no Matrix meaning")
	}
	me, ok := AsMatrixError(fmt.Errorf("x: %w", &codedErr{text: "gone", code: "M_NOT_FOUND", status: 404}))
	if !ok || me.Status != 404 || me.ErrCode != "M_NOT_FOUND" || me.Message != "gone" {
		t.Fatalf("got %+v, %v", me, ok)
	}
}

func TestAccessToken(t *testing.T) {
	for _, tc := range []struct {
		name, header, query, want string
	}{
		{"bearer", "Bearer abc", "", "abc"},
		{"scheme in any case", "bEaReR abc", "", "abc"},
		{"spaces trimmed", "Bearer   abc  ", "", "abc"},
		{"empty bearer", "Bearer   ", "", ""},
		{"other scheme", "Basic abc", "", ""},
		{"no space", "Bearerabc", "", ""},
		{"header wins over query", "Basic abc", "q", ""},
		{"query parameter", "", "q", "q"},
		{"none", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := "/"
			if tc.query != "" {
				target += "?access_token=" + tc.query
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := AccessToken(r); got != tc.want {
				t.Fatalf("AccessToken = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWriteErrorAbandonedRequest: a failure caused by the client going away
// is not logged as an error; the same cancellation with the client still
// there is.
func TestWriteErrorAbandonedRequest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gone      bool
		wantLevel logrus.Level
	}{
		{"client gone", true, logrus.DebugLevel},
		{"client still there", false, logrus.ErrorLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, hook := logtest.NewNullLogger()
			log.SetLevel(logrus.DebugLevel)
			ctx, cancel := context.WithCancel(WithLogger(context.Background(), logrus.NewEntry(log)))
			defer cancel()
			if tc.gone {
				cancel()
			}
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx), fmt.Errorf("count keys: %w", context.Canceled))
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status %d", w.Code)
			}
			if e := hook.LastEntry(); e == nil || e.Level != tc.wantLevel {
				t.Errorf("logged %+v, want one entry at %s", e, tc.wantLevel)
			}
		})
	}
}
