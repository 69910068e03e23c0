package api

import (
	"context"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// ErrReportNotFound: no report has that ID.
var ErrReportNotFound = coded.New("report not found", http.StatusNotFound, "M_NOT_FOUND")

// ReportsAdmin is what the server's admins do with reports.
type ReportsAdmin interface {
	// GetReport returns one report, or ErrReportNotFound.
	GetReport(ctx context.Context, id int64) (Report, error)
	// DeleteReport deletes one report, or answers ErrReportNotFound.
	DeleteReport(ctx context.Context, id int64) error
	// ResolveReport marks one report resolved (or not), or answers
	// ErrReportNotFound.
	ResolveReport(ctx context.Context, id int64, resolved bool) error
}
