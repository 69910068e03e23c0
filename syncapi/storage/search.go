package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// SearchProgress is how far a search backend's index has read the events
// (syncapi/search/indexer): every timeline event at Low <= position <= Pos
// is indexed. Live events take positions above Pos; backfilled history
// takes positions below Low. The zero value is a backend that has indexed
// nothing (no event is stored at position 0).
type SearchProgress struct {
	Pos, Low int64
}

// EventsAfter returns up to limit timeline events at positions above pos,
// lowest first. Live events become visible in position order (one
// group-commit lane writes them), so a reader that resumes after the last
// position it saw misses none.
func (s *Storage) EventsAfter(ctx context.Context, pos int64, limit int) ([]*Event, error) {
	evs, err := sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE stream_pos > $1 AND outlier = 0 ORDER BY stream_pos ASC LIMIT $2`, pos, limit)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading events after %d: %w", pos, err)
	}
	return evs, nil
}

// EventsBefore returns up to limit timeline events at positions below low,
// highest first: the history backfill placed there since a reader last
// looked (historyPositions serialises its writers, so it too becomes
// visible in order).
func (s *Storage) EventsBefore(ctx context.Context, low int64, limit int) ([]*Event, error) {
	evs, err := sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE stream_pos < $1 AND outlier = 0 ORDER BY stream_pos DESC LIMIT $2`, low, limit)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading events before %d: %w", low, err)
	}
	return evs, nil
}

// CountEvents is how many timeline events are stored.
func (s *Storage) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM syncapi_events WHERE outlier = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("syncapi storage: counting events: %w", err)
	}
	return n, nil
}

// GetSearchProgress returns a search backend's progress (the zero value if
// it has none yet).
func (s *Storage) GetSearchProgress(ctx context.Context, backend string) (SearchProgress, error) {
	var p SearchProgress
	err := s.db.QueryRow(ctx, `SELECT pos, low FROM syncapi_search_progress WHERE backend = $1`, backend).Scan(&p.Pos, &p.Low)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return SearchProgress{}, fmt.Errorf("syncapi storage: reading search progress: %w", err)
	}
	return p, nil
}

// SetSearchProgress records a search backend's progress.
func (s *Storage) SetSearchProgress(ctx context.Context, backend string, p SearchProgress) error {
	_, err := s.db.Exec(ctx, `INSERT INTO syncapi_search_progress (backend, pos, low) VALUES ($1, $2, $3)
		ON CONFLICT (backend) DO UPDATE SET pos = EXCLUDED.pos, low = EXCLUDED.low`, backend, p.Pos, p.Low)
	if err != nil {
		return fmt.Errorf("syncapi storage: recording search progress: %w", err)
	}
	return nil
}
