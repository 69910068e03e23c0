// Package httputil is the HTTP ground every Myelin listener stands on: Matrix
// error values and JSON responses, request decoding with the spec's error
// codes, and the middleware chain (request IDs and request-scoped loggers,
// panic recovery, CORS and OPTIONS, body limits, Prometheus metrics) around a
// gorilla/mux router whose unknown routes and methods answer M_UNRECOGNIZED.
package httputil
