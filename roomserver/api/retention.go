package api

import (
	"context"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// Retention is message retention and legal holds (docs/decisions.md,
// "Message retention"): the purge history admin API, the retention job
// that purges what rooms' m.room.retention policies (MSC1763) let expire,
// and the legal hold that stops both in a room. A purge strips the
// content of old message events in the roomserver (the DAG stays whole)
// and publishes OutputPurgedEvents, on which the sync component removes
// them from timelines and search.
type Retention interface {
	// LegalHold is the room's legal hold; nil when it has none. Whoever
	// deletes or purges a room asks it first (ErrLegalHold).
	LegalHold(ctx context.Context, roomID string) (*LegalHold, error)
	// PlaceLegalHold holds a room (ErrRoomNotFound for one this server
	// does not know); placing it again replaces the reason.
	PlaceLegalHold(ctx context.Context, h LegalHold) (LegalHold, error)
	// ReleaseLegalHold releases a room's hold; false if it had none.
	ReleaseLegalHold(ctx context.Context, roomID string) (bool, error)
	// PurgeHistory starts purging a room's history and returns the
	// purge's ID at once; ErrLegalHold for a held room.
	PurgeHistory(ctx context.Context, req PurgeHistoryRequest) (purgeID string, err error)
	// PurgeStatus is a purge's progress; ErrPurgeNotFound if unknown.
	PurgeStatus(ctx context.Context, purgeID string) (PurgeStatus, error)
	// RunRetention runs the retention job once, now; ErrRetentionOff
	// when retention is not enabled.
	RunRetention(ctx context.Context) (RetentionRun, error)
}

// LegalHold is a room's legal hold: while it stands nothing in the room is
// purged.
type LegalHold struct {
	RoomID string
	Reason string
	// By is the admin who placed it; Since when, in ms since the epoch.
	By    string
	Since int64
}

// PurgeHistoryRequest is POST /_synapse/admin/v1/purge_history: message
// events before a point are purged; state events never are.
type PurgeHistoryRequest struct {
	RoomID string
	// UpToEventID, when set, keeps that event and everything at its depth
	// or later; UpToTS, when not 0, purges only events sent before it (ms).
	UpToEventID string
	UpToTS      int64
	// DeleteLocalEvents purges this server's users' events too.
	DeleteLocalEvents bool
}

// The states of a purge (Synapse's purge_history_status).
const (
	PurgeActive   = "active"
	PurgeComplete = "complete"
	PurgeFailed   = "failed"
)

// PurgeStatus is a purge's progress.
type PurgeStatus struct {
	ID     string
	RoomID string
	Status string
	// Purged is how many events it purged so far; Error why it failed.
	Purged int64
	Error  string
}

// RetentionRun is what one run of the retention job did.
type RetentionRun struct {
	// Rooms is how many rooms had a max_lifetime; Held how many of them
	// were skipped for a legal hold; Purged how many events were purged.
	Rooms, Held int
	Purged      int64
}

// Errors of retention.
var (
	// ErrLegalHold refuses a purge (or a room deletion with purge) of a
	// room under legal hold: 409, the room's state conflicts with the
	// request (docs/api-extensions.md).
	ErrLegalHold = coded.New("the room is under legal hold: nothing in it may be purged until the hold is released",
		http.StatusConflict, "IM.MYELIN.LEGAL_HOLD")
	ErrPurgeNotFound = coded.New("purge not found", http.StatusNotFound, "M_NOT_FOUND")
	ErrRetentionOff  = coded.New("message retention is not enabled (retention.enabled)", http.StatusBadRequest, "M_UNKNOWN")
)

// OutputTypePurgedEvents marks an OutputPurgedEvents on the output log.
const OutputTypePurgedEvents = "purged_events"

// OutputPurgedEvents, on the output log (keyed by room like every entry),
// names message events a purge removed: consumers drop them from what
// they serve and index.
type OutputPurgedEvents struct {
	Type     string   `json:"type"`
	RoomID   string   `json:"room_id"`
	EventIDs []string `json:"event_ids"`
}
