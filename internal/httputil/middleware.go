package httputil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Options configure a Server's middleware.
type Options struct {
	// Name labels metrics and logs ("client", "federation", …).
	Name string
	// MaxBodyBytes limits request bodies (0: 1 MiB). Routes that accept
	// larger bodies (media uploads) raise it with WithBodyLimit.
	MaxBodyBytes int64
	// Logger is the base logger; request loggers derive from it.
	Logger *logrus.Logger
	// Registerer receives the HTTP metrics; nil disables them.
	Registerer prometheus.Registerer
}

// NewRouter returns a gorilla/mux router whose unknown paths answer 404
// M_UNRECOGNIZED and whose known paths with a wrong method answer 405
// M_UNRECOGNIZED, as the spec asks ("Unknown endpoints").
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusNotFound, Unrecognized("Unrecognized request").Body())
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusMethodNotAllowed, MethodNotAllowed("Unrecognized request method").Body())
	})
	return r
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"listener": name}, reg)
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "myelin_http_requests_total",
			Help: "HTTP requests served, by route template, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "myelin_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "myelin_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httputil: registering metrics: %w", err)
		}
	}
	return m, nil
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

// ReadFrom lets a file copied into the response go by sendfile(2), as
// net/http does when nothing wraps its writer (media downloads).
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(s.ResponseWriter, r)
}

// Flush lets long-lived responses stream.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (WebSockets).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// routeHolder carries the matched route template from inside the router out
// to the metrics middleware.
type routeHolder struct{ template string }

type routeKey struct{}

// bodyKey finds a request's body as one Wrap received it; each Wrap has its
// own key, so a router mounted inside another (federation paths on the
// client listener) keeps the outer listener's limits.
type bodyKey struct{ name string }

// WithBodyLimit serves h with request bodies of up to limit bytes instead
// of the listener's MaxBodyBytes: a route that takes files (media uploads)
// raises the limit for itself while every other route keeps the small one.
func WithBodyLimit(limit int64, h http.Handler) http.Handler { return &bodyLimited{limit: limit, h: h} }

type bodyLimited struct {
	limit int64
	h     http.Handler
}

func (b *bodyLimited) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.h.ServeHTTP(w, r) }

// bodyLimit is the body limit of the route r matched: its WithBodyLimit,
// else def.
func bodyLimit(r *http.Request, def int64) int64 {
	if route := mux.CurrentRoute(r); route != nil {
		if b, ok := route.GetHandler().(*bodyLimited); ok {
			return b.limit
		}
	}
	return def
}

// limitBody applies the matched route's body limit: a declared
// Content-Length over it is refused at once (413 M_TOO_LARGE), and reading
// past it fails with *http.MaxBytesError, which WriteError answers the same.
func limitBody(w http.ResponseWriter, r *http.Request, key *bodyKey, def int64) (*http.Request, bool) {
	limit := bodyLimit(r, def)
	if r.ContentLength > limit {
		WriteJSON(w, http.StatusRequestEntityTooLarge, TooLarge("Request body is larger than %d bytes", limit).Body())
		return r, false
	}
	if raw, ok := r.Context().Value(key).(io.ReadCloser); ok && limit != def {
		r.Body = http.MaxBytesReader(w, raw, limit)
	}
	return r, true
}

// Wrap puts the middleware chain around a router: request ID and logger,
// metrics, panic recovery, CORS (and OPTIONS answered without running the
// endpoint, per the spec's "Web Browser Clients"), and the body limit.
func Wrap(router *mux.Router, opts Options) (http.Handler, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = logrus.StandardLogger()
	}
	m, err := newMetrics(opts.Name, opts.Registerer)
	if err != nil {
		return nil, err
	}
	bodies := &bodyKey{name: opts.Name}
	router.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
				if route := mux.CurrentRoute(r); route != nil {
					h.template, _ = route.GetPathTemplate()
				}
			}
			r, ok := limitBody(w, r, bodies, opts.MaxBodyBytes)
			if !ok {
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := newRequestID()
		entry := logrus.NewEntry(opts.Logger).WithFields(logrus.Fields{
			FieldRequestID: reqID,
			"listener":     opts.Name,
			"method":       r.Method,
			// The path only: query strings may carry access tokens.
			"path": r.URL.Path,
		})
		holder := &routeHolder{template: "unmatched"}
		ctx := WithLogger(r.Context(), entry)
		ctx = contextWithRoute(ctx, holder)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if m != nil {
			m.inflight.Inc()
		}
		defer func() {
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p) // net/http's way to abort a response: let it through
				}
				Logger(ctx).WithField("panic", fmt.Sprint(p)).WithField("stack", string(debug.Stack())).Error("handler panicked")
				if !sw.wrote {
					WriteJSON(sw, http.StatusInternalServerError, Unknown("Internal server error").Body())
				}
			}
			d := time.Since(start)
			if m != nil {
				m.inflight.Dec()
				m.requests.WithLabelValues(holder.template, r.Method, strconv.Itoa(sw.status)).Inc()
				m.duration.WithLabelValues(holder.template, r.Method).Observe(d.Seconds())
			}
			entry.WithFields(logrus.Fields{"status": sw.status, "duration_ms": float64(d.Microseconds()) / 1000}).Debug("request served")
		}()
		sw.Header().Set("X-Request-Id", reqID)
		setCORS(sw.Header())
		if r.Method == http.MethodOptions {
			sw.WriteHeader(http.StatusOK)
			_, _ = sw.Write([]byte("{}"))
			return
		}
		if r.Body != nil {
			// Kept for routes that raise the limit (WithBodyLimit).
			r = r.WithContext(context.WithValue(r.Context(), bodies, r.Body))
			r.Body = http.MaxBytesReader(sw, r.Body, opts.MaxBodyBytes)
		}
		// No Matrix identifier holds a NUL, and PostgreSQL cannot store one
		// in a text column: refuse it here rather than fail in a query.
		if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(strings.ToLower(r.URL.RawPath), "%00") {
			WriteJSON(sw, http.StatusBadRequest, InvalidParam("The request path contains a NUL character").Body())
			return
		}
		// The Content-Length is checked once the route, and so its limit,
		// is known (limitBody).
		router.ServeHTTP(sw, r)
	}), nil
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization")
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClientIP returns the address of the peer. Myelin does not trust
// X-Forwarded-For by default: a client could forge it to dodge rate limits.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return strings.Trim(r.RemoteAddr, "[]")
	}
	return host
}

// Vars returns the route's path variables, unescaped: routers match on the
// encoded path (UseEncodedPath) so that IDs containing %2F stay one segment.
func Vars(r *http.Request) map[string]string {
	v := mux.Vars(r)
	out := make(map[string]string, len(v))
	for k, s := range v {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out[k] = s
	}
	return out
}

// AliasPrefix serves requests whose path starts with from as if it started
// with to (e.g. the deprecated /_matrix/client/r0/ as /_matrix/client/v3/).
func AliasPrefix(h http.Handler, from, to string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, from) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = to + strings.TrimPrefix(r.URL.Path, from)
			if r.URL.RawPath != "" {
				r2.URL.RawPath = to + strings.TrimPrefix(r.URL.RawPath, from)
			}
			r = r2
		}
		h.ServeHTTP(w, r)
	})
}
