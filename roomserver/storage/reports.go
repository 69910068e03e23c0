package storage

import (
	"context"
	"fmt"
	"math"
	"strings"

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
// matches everything; $4 to $6 are LIKE patterns (reportArgs).
const reportFilter = ` WHERE ($1 = '' OR room_id = $1) AND ($2 = '' OR reporter = $2) AND ($3 = '' OR kind = $3)
	AND room_id LIKE $4 ESCAPE '\' AND reporter LIKE $5 ESCAPE '\' AND target_user_id LIKE $6 ESCAPE '\'`

// reportArgs are reportFilter's arguments for q.
func reportArgs(q api.ReportsQuery) []any {
	return []any{q.RoomID, q.Reporter, q.Kind, containsPattern(q.RoomIDContains),
		containsPattern(q.ReporterContains), containsPattern(q.TargetContains)}
}

// containsPattern is the LIKE pattern of the text containing sub ("": any).
func containsPattern(sub string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(sub) + "%"
}

// ListReports returns a page of reports and how many match q in all.
func (s *Storage) ListReports(ctx context.Context, q api.ReportsQuery) ([]api.Report, int, error) {
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_reports`+reportFilter, reportArgs(q)...).Scan(&total); err != nil {
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
		reason, score, resolved FROM roomserver_reports`+reportFilter+order+` LIMIT $7 OFFSET $8`,
		append(reportArgs(q), limit, q.Offset)...)
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
