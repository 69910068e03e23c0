package storage

import (
	"context"
	"fmt"
	"math"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/roomserver/api"
)

// InsertReport stores a report and returns its ID.
func (s *Storage) InsertReport(ctx context.Context, r api.NewReport, nowMs int64) (int64, error) {
	var id int64
	err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_reports
		(received_ts, kind, reporter, room_id, event_id, target_user_id, reason, score)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		nowMs, r.Kind, r.Reporter, r.RoomID, r.EventID, r.TargetUserID, r.Reason, r.Score).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("storage: inserting report: %w", err)
	}
	return id, nil
}

// reportFilter is the WHERE clause of ListReports: an empty argument
// matches everything.
const reportFilter = ` WHERE ($1 = '' OR room_id = $1) AND ($2 = '' OR reporter = $2)`

// ListReports returns a page of reports and how many match q in all.
func (s *Storage) ListReports(ctx context.Context, q api.ReportsQuery) ([]api.Report, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_reports`+reportFilter, q.RoomID, q.Reporter).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("storage: counting reports: %w", err)
	}
	order := " ORDER BY id DESC"
	if q.OldestFirst {
		order = " ORDER BY id ASC"
	}
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32 // all: one query text for both databases
	}
	out, err := sqlutil.Select(ctx, s.db, scanReport, `SELECT id, received_ts, kind, reporter, room_id, event_id, target_user_id,
		reason, score, resolved FROM roomserver_reports`+reportFilter+order+` LIMIT $3 OFFSET $4`,
		q.RoomID, q.Reporter, limit, q.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: reading reports: %w", err)
	}
	return out, total, nil
}

func scanReport(sc sqlutil.Scanner) (api.Report, error) {
	var r api.Report
	return r, sc.Scan(&r.ID, &r.ReceivedTS, &r.Kind, &r.Reporter, &r.RoomID, &r.EventID, &r.TargetUserID,
		&r.Reason, &r.Score, &r.Resolved)
}
