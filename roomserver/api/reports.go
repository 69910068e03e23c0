package api

import "context"

// Kinds of reports.
const (
	ReportEvent = "event"
	ReportRoom  = "room"
	ReportUser  = "user"
)

// Report is one report of content a user finds inappropriate (spec:
// "Reporting content"), as the server's admins read it.
type Report struct {
	ID         int64
	ReceivedTS int64 // milliseconds since the epoch
	Kind       string
	Reporter   string
	RoomID     string // "" for a user report
	EventID    string // "" unless an event report
	// TargetUserID is the reported user, or the reported event's sender.
	TargetUserID string
	Reason       string
	Score        *int64 // nil: none given
	Resolved     bool
}

// NewReport is a report as a user makes it.
type NewReport struct {
	Kind     string
	Reporter string
	RoomID   string
	EventID  string
	// TargetUserID is the reported user of a user report; the roomserver
	// sets it to the event's sender for an event report.
	TargetUserID string
	Reason       string
	Score        *int64
}

// ReportsQuery selects a page of reports.
type ReportsQuery struct {
	// Offset is how many matching reports to skip; Limit how many to
	// return at most (0: all).
	Offset, Limit int
	// OldestFirst lists in the order received (default: newest first, as
	// Synapse's admin API).
	OldestFirst bool
	// RoomID and Reporter, when set, keep the reports of that room or by
	// that user.
	RoomID, Reporter string
	// Kind, when set, keeps the reports of that kind.
	Kind string
	// RoomIDContains, ReporterContains and TargetContains, when set, keep
	// the reports whose room, reporter or target user (an event's sender)
	// contains that text (Synapse's admin filters).
	RoomIDContains, ReporterContains, TargetContains string
}

// Reports is where users' reports go and where admins read them.
type Reports interface {
	// Report checks a report against what the reporter may see and stores
	// it before returning: an event report needs the reporter joined to
	// the room and the event in it, not redacted (else ErrEventNotFound);
	// a room report needs a room this server knows (else ErrRoomNotFound).
	// A user report is stored as given (the caller checks the user).
	Report(ctx context.Context, r NewReport) (int64, error)
	// ListReports returns a page of reports and how many match in all.
	ListReports(ctx context.Context, q ReportsQuery) ([]Report, int, error)
}
