package httputil

import (
	"context"

	"github.com/sirupsen/logrus"
)

type loggerKey struct{}

// Field names used in every log line, so logs can be searched the same way
// everywhere.
const (
	FieldRequestID  = "request_id"
	FieldUserID     = "user_id"
	FieldDeviceID   = "device_id"
	FieldRoomID     = "room_id"
	FieldEventID    = "event_id"
	FieldServerName = "server_name"
	FieldComponent  = "component"
)

// WithLogger returns a context carrying entry as the request's logger.
func WithLogger(ctx context.Context, entry *logrus.Entry) context.Context {
	return context.WithValue(ctx, loggerKey{}, entry)
}

// Logger returns the request-scoped logger carried by ctx, or the standard
// logger when there is none.
func Logger(ctx context.Context) *logrus.Entry {
	if e, ok := ctx.Value(loggerKey{}).(*logrus.Entry); ok {
		return e
	}
	return logrus.NewEntry(logrus.StandardLogger()).WithContext(ctx)
}
