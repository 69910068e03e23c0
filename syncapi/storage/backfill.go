package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// historyPositions reserves n stream positions below every other one (for
// history from other servers) and returns the lowest; the reserved ones are
// low, low+1, …, low+n-1. The counter row serialises concurrent writers.
func (s *Storage) historyPositions(ctx context.Context, n int) (int64, error) {
	var low int64
	if err := s.db.QueryRowWrite(ctx, `UPDATE syncapi_history SET low = low - $1 WHERE id = 1 RETURNING low`, n).Scan(&low); err != nil {
		return 0, fmt.Errorf("syncapi storage: reserving history positions: %w", err)
	}
	return low, nil
}

// InsertHistory places events from before the oldest of a room's timeline
// (backfilled; evs newest first) below it: each gets the next lower stream
// position, an outlier of the room's state takes its place in the
// timeline, and events already in the timeline are skipped. State events
// among them do not change the current state. It returns how many events
// took a place.
func (s *Storage) InsertHistory(ctx context.Context, evs []*Event) (int, error) {
	placed := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		placed = 0
		var todo []*Event
		moved := map[string]bool{}
		for _, e := range evs {
			var outlier int
			err := s.db.QueryRow(ctx, `SELECT outlier FROM syncapi_events WHERE event_id = $1`, e.ID).Scan(&outlier)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case outlier == 0:
				continue
			default:
				moved[e.ID] = true
			}
			todo = append(todo, e)
		}
		if len(todo) == 0 {
			return nil
		}
		low, err := s.historyPositions(ctx, len(todo))
		if err != nil {
			return err
		}
		for i, e := range todo {
			pos := low + int64(len(todo)-1-i)
			if moved[e.ID] {
				if _, err := s.db.Exec(ctx, `UPDATE syncapi_events SET stream_pos = $2, outlier = 0
					WHERE event_id = $1`, e.ID, pos); err != nil {
					return err
				}
				if _, err := s.db.Exec(ctx, `UPDATE syncapi_current_state SET stream_pos = $2 WHERE event_id = $1`, e.ID, pos); err != nil {
					return err
				}
			} else {
				var m any
				if e.Membership != "" {
					m = e.Membership
				}
				if _, err := s.db.Exec(ctx, `INSERT INTO syncapi_events (stream_pos, event_id, room_id, event_type, sender, state_key,
					membership, origin_server_ts, txn_id, device_id, event_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '', $9)`,
					pos, e.ID, e.RoomID, e.Type, e.Sender, e.StateKey, m, e.TS, string(e.JSON)); err != nil {
					return err
				}
			}
			if err := s.indexRelation(ctx, e, pos); err != nil {
				return err
			}
			e.Pos = pos
			placed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: inserting history: %w", err)
	}
	return placed, nil
}

// OldestEvent returns the oldest event of a room's timeline (ErrNotFound
// when it has none).
func (s *Storage) OldestEvent(ctx context.Context, roomID string) (*Event, error) {
	e, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE room_id = $1 AND outlier = 0 ORDER BY stream_pos ASC LIMIT 1`, roomID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// MembershipChange is one of a user's membership events in a room.
type MembershipChange struct {
	Pos        int64
	Membership string
}

// MembershipHistory lists a user's membership events in a room, oldest
// first (history included).
func (s *Storage) MembershipHistory(ctx context.Context, roomID, userID string) ([]MembershipChange, error) {
	return sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (MembershipChange, error) {
		var m MembershipChange
		return m, sc.Scan(&m.Pos, &m.Membership)
	}, `SELECT stream_pos, COALESCE(membership, '') FROM syncapi_events WHERE room_id = $1 AND event_type = 'm.room.member'
		AND state_key = $2 AND outlier = 0 ORDER BY stream_pos`, roomID, userID)
}
