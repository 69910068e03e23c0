package httputil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

func testHandler(t *testing.T, reg prometheus.Registerer) (http.Handler, *logtest.Hook) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	r := NewRouter()
	r.Handle("/echo", Handler(func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			N int `json:"n"`
		}
		if err := ReadJSON(r, &body); err != nil {
			return err
		}
		Logger(r.Context()).Info("inside")
		WriteJSON(w, 200, body)
		return nil
	})).Methods("POST")
	r.Handle("/panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })).Methods("GET")
	r.Handle("/wrapped", Handler(func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("layer: %w", Forbidden("not you"))
	})).Methods("GET")
	r.Handle("/internal", Handler(func(http.ResponseWriter, *http.Request) error {
		return errors.New("secret database detail")
	})).Methods("GET")
	h, err := Wrap(r, Options{Name: "test", MaxBodyBytes: 64, Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return h, hook
}

func serve(h http.Handler, method, path, body string) (*httptest.ResponseRecorder, map[string]any) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

func TestErrorsAndLimits(t *testing.T) {
	h, _ := testHandler(t, nil)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		errcode                  string
	}{
		{"ok", "POST", "/echo", `{"n": 3}`, 200, ""},
		{"empty body is {}", "POST", "/echo", ``, 200, ""},
		{"not json", "POST", "/echo", `{n: 3}`, 400, "M_NOT_JSON"},
		{"not an object", "POST", "/echo", `[3]`, 400, "M_BAD_JSON"},
		{"wrong type", "POST", "/echo", `{"n": "three"}`, 400, "M_BAD_JSON"},
		{"too large", "POST", "/echo", `{"n": 1, "pad": "` + strings.Repeat("x", 100) + `"}`, 413, "M_TOO_LARGE"},
		{"unknown path", "GET", "/nope", ``, 404, "M_UNRECOGNIZED"},
		{"wrong method", "GET", "/echo", ``, 405, "M_UNRECOGNIZED"},
		{"wrapped matrix error", "GET", "/wrapped", ``, 403, "M_FORBIDDEN"},
		{"internal error hidden", "GET", "/internal", ``, 500, "M_UNKNOWN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, m := serve(h, tc.method, tc.path, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if tc.errcode != "" && m["errcode"] != tc.errcode {
				t.Fatalf("errcode %v, want %s", m["errcode"], tc.errcode)
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", w.Header().Get("Content-Type"))
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Fatal("internal error detail leaked to the client")
			}
		})
	}
}

func TestPanicRecoveredAndLoggedOnce(t *testing.T) {
	h, hook := testHandler(t, nil)
	w, m := serve(h, "GET", "/panic", "")
	if w.Code != 500 || m["errcode"] != "M_UNKNOWN" {
		t.Fatalf("panic: %d %v", w.Code, m)
	}
	if strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Fatal("panic detail leaked")
	}
	n := 0
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel {
			n++
			if e.Data["panic"] != "boom" || e.Data[FieldRequestID] == nil {
				t.Fatalf("panic log entry: %v", e.Data)
			}
		}
	}
	if n != 1 {
		t.Fatalf("panic logged %d times", n)
	}
}

func TestRequestLoggerAndCORS(t *testing.T) {
	h, hook := testHandler(t, nil)
	w, _ := serve(h, "POST", "/echo?access_token=secret", `{"n":1}`)
	id := w.Header().Get("X-Request-Id")
	var inside *logrus.Entry
	for _, e := range hook.AllEntries() {
		if e.Message == "inside" {
			inside = e
		}
		for _, v := range e.Data {
			if strings.Contains(fmt.Sprint(v), "secret") {
				t.Fatalf("query string logged: %v", e.Data)
			}
		}
	}
	if inside == nil || inside.Data[FieldRequestID] != id || id == "" {
		t.Fatalf("request logger: %v, header id %q", inside, id)
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header")
	}
	// OPTIONS runs no endpoint logic: /panic would panic.
	ow, _ := serve(h, "OPTIONS", "/panic", "")
	if ow.Code != 200 || !strings.Contains(ow.Header().Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("OPTIONS: %d %v", ow.Code, ow.Header())
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, _ := testHandler(t, reg)
	serve(h, "POST", "/echo", `{}`)
	serve(h, "POST", "/echo", `nope`)
	serve(h, "GET", "/nope", ``)
	want := `
# HELP myelin_http_requests_total HTTP requests served, by route template, method and status code.
# TYPE myelin_http_requests_total counter
myelin_http_requests_total{listener="test",method="GET",route="unmatched",status="404"} 1
myelin_http_requests_total{listener="test",method="POST",route="/echo",status="200"} 1
myelin_http_requests_total{listener="test",method="POST",route="/echo",status="400"} 1
`
	if err := testutil.GatherAndCompare(reg, bytes.NewBufferString(want), "myelin_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}

func TestMatrixErrorIs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", UserInUse("taken"))
	if !errors.Is(err, ErrUserInUse) || errors.Is(err, ErrForbidden) {
		t.Fatal("errors.Is on errcode")
	}
	le := LimitExceeded(1500)
	b, _ := json.Marshal(le.Body())
	if le.Status != 429 || !strings.Contains(string(b), `"retry_after_ms":1500`) {
		t.Fatalf("limit exceeded: %d %s", le.Status, b)
	}
}

// TestBodyLimitPerRoute: a route with WithBodyLimit takes bodies up to its
// own limit, declared or streamed, while the others keep the listener's.
func TestBodyLimitPerRoute(t *testing.T) {
	r := NewRouter()
	count := Handler(func(w http.ResponseWriter, r *http.Request) error {
		body, err := ReadBody(r)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, map[string]int{"n": len(body)})
		return nil
	})
	r.Handle("/small", count).Methods("POST")
	r.Handle("/large", WithBodyLimit(1000, count)).Methods("POST")
	h, err := Wrap(r, Options{Name: "test", MaxBodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	// unsized hides the length, as a chunked upload does.
	type unsized struct{ io.Reader }
	for _, tc := range []struct {
		name   string
		path   string
		body   io.Reader
		status int
	}{
		{"small route, small body", "/small", strings.NewReader(strings.Repeat("x", 64)), 200},
		{"small route, large body", "/small", strings.NewReader(strings.Repeat("x", 65)), 413},
		{"small route, large unsized body", "/small", unsized{strings.NewReader(strings.Repeat("x", 65))}, 413},
		{"large route, body over the listener's limit", "/large", strings.NewReader(strings.Repeat("x", 1000)), 200},
		{"large route, unsized body over the listener's limit", "/large", unsized{strings.NewReader(strings.Repeat("x", 999))}, 200},
		{"large route, body over its limit", "/large", strings.NewReader(strings.Repeat("x", 1001)), 413},
		{"large route, unsized body over its limit", "/large", unsized{strings.NewReader(strings.Repeat("x", 1001))}, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", tc.path, tc.body))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if tc.status == 413 && !strings.Contains(w.Body.String(), "M_TOO_LARGE") {
				t.Fatalf("body %s, want M_TOO_LARGE", w.Body)
			}
		})
	}
}
