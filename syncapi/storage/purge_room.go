package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// RoomTables are the sync component's tables that hold rows of a room
// (each has a room_id column). PurgeRoom empties them of the room; its
// test checks that every table with a room_id column is here.
var RoomTables = []string{
	"syncapi_events",
	"syncapi_current_state",
	"syncapi_receipts",
	"syncapi_notify_events",
	"syncapi_notify_users",
	"syncapi_relations",
	"syncapi_timeline_gaps",
}

// PurgeRoom removes every row of a room, in one transaction, and returns
// the highest stream position it had (0: none). With queueSearch, the
// room's events are queued for the search backend to drop
// (SearchPurges). Purging a room again does nothing.
func (s *Storage) PurgeRoom(ctx context.Context, roomID string, queueSearch bool) (int64, error) {
	var maxPos int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM syncapi_events WHERE room_id = $1`,
			roomID).Scan(&maxPos); err != nil {
			return err
		}
		if queueSearch {
			if _, err := s.db.Exec(ctx, `INSERT INTO syncapi_search_purges (event_id)
				SELECT event_id FROM syncapi_events WHERE room_id = $1 ON CONFLICT (event_id) DO NOTHING`, roomID); err != nil {
				return err
			}
		}
		for _, t := range RoomTables {
			// The table names are constants of this file, never input.
			if _, err := s.db.Exec(ctx, `DELETE FROM `+t+` WHERE room_id = $1`, roomID); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: purging room %s: %w", roomID, err)
	}
	return maxPos, nil
}

// CountRoomRows counts a room's rows in each of RoomTables.
func (s *Storage) CountRoomRows(ctx context.Context, roomID string) (map[string]int, error) {
	out := make(map[string]int, len(RoomTables))
	for _, t := range RoomTables {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t+` WHERE room_id = $1`, roomID).Scan(&n); err != nil {
			return nil, fmt.Errorf("syncapi storage: counting %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// SearchPurges returns up to limit events queued for the search backend
// to drop.
func (s *Storage) SearchPurges(ctx context.Context, limit int) ([]string, error) {
	out, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT event_id FROM syncapi_search_purges ORDER BY event_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading search purges: %w", err)
	}
	return out, nil
}

// DoneSearchPurges removes events the search backend has dropped from the
// queue.
func (s *Storage) DoneSearchPurges(ctx context.Context, eventIDs []string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM syncapi_search_purges WHERE event_id = ANY($1)`, sqlutil.List(eventIDs)); err != nil {
		return fmt.Errorf("syncapi storage: removing search purges: %w", err)
	}
	return nil
}
