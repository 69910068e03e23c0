package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/roomserver/api"
)

// GetReport returns one report, or api.ErrReportNotFound.
func (s *Storage) GetReport(ctx context.Context, id int64) (api.Report, error) {
	r, err := scanReport(s.db.QueryRow(ctx, `SELECT id, received_ts, kind, reporter, room_id, event_id, target_user_id,
		reason, score, resolved FROM roomserver_reports WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return api.Report{}, api.ErrReportNotFound
	}
	if err != nil {
		return api.Report{}, fmt.Errorf("storage: reading report %d: %w", id, err)
	}
	return r, nil
}

// DeleteReport deletes one report, or answers api.ErrReportNotFound.
func (s *Storage) DeleteReport(ctx context.Context, id int64) error {
	res, err := s.db.Exec(ctx, `DELETE FROM roomserver_reports WHERE id = $1`, id)
	return oneReport(res, err, id, "deleting")
}

// ResolveReport marks one report resolved or not, or answers
// api.ErrReportNotFound.
func (s *Storage) ResolveReport(ctx context.Context, id int64, resolved bool) error {
	res, err := s.db.Exec(ctx, `UPDATE roomserver_reports SET resolved = $2 WHERE id = $1`, id, resolved)
	return oneReport(res, err, id, "resolving")
}

// oneReport is the answer of a change to report id: ErrReportNotFound
// when it changed no row.
func oneReport(res sql.Result, err error, id int64, doing string) error {
	if err != nil {
		return fmt.Errorf("storage: %s report %d: %w", doing, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("storage: %s report %d: %w", doing, id, err)
	}
	if n == 0 {
		return api.ErrReportNotFound
	}
	return nil
}
