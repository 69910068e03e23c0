package api

import (
	"context"
	"encoding/json"
)

// ExportPosition is where a page of ExportEvents ended; the zero value is
// the start of the room. Opaque to callers: pass it back for the next page.
type ExportPosition struct {
	Depth int64 `json:"depth"`
	NID   int64 `json:"nid"`
}

// ExportEvent is one stored event of a room as an admin's export reads it:
// more than clients see (outliers, rejected events, the redaction history).
type ExportEvent struct {
	Position       ExportPosition
	ID             string
	Type           string
	StateKey       *string
	Sender         string
	Depth          int64
	OriginServerTS int64
	Outlier        bool
	Rejected       bool
	// RedactedBy is the redaction that redacted the event ("" if none).
	RedactedBy string
	// PDU is the event as stored: its redacted form when redacted.
	PDU json.RawMessage
	// Original is the event's JSON before the redaction, when redacted and
	// still within room_server.redaction_retention_period (nil otherwise);
	// RedactedTS is when this server applied the redaction (ms).
	Original   json.RawMessage
	RedactedTS int64
}

// ExportRoom describes a room about to be exported.
type ExportRoom struct {
	RoomID  string
	Version string
	// Events is how many events the room has stored (for progress).
	Events int64
}

// UserRoom is a room a user has a membership in, and that membership.
type UserRoom struct {
	RoomID     string `json:"room_id"`
	Membership string `json:"membership"`
}

// Export is what an admin's room or user export reads of the roomserver.
// Only the admin API and operator tools use it: it hands out the
// originals of redacted events.
type Export interface {
	// ExportRoomInfo describes a room; ErrRoomNotFound if unknown.
	ExportRoomInfo(ctx context.Context, roomID string) (ExportRoom, error)
	// ExportEvents returns up to limit events of the room after pos in DAG
	// (topological) order; fewer than limit means the end. sender, when
	// not "", keeps that sender's events only. ErrRoomNotFound if unknown.
	ExportEvents(ctx context.Context, roomID string, after ExportPosition, limit int, sender string) ([]ExportEvent, error)
	// RoomsOfUser lists the rooms the user has a membership in (any).
	RoomsOfUser(ctx context.Context, userID string) ([]UserRoom, error)
	// PruneRedactedOriginals forgets the originals of events redacted
	// longer ago than the retention period; how many it removed.
	PruneRedactedOriginals(ctx context.Context) (int64, error)
}
