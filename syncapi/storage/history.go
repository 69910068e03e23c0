package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// History queries: like EventNearTS and RoomEventsBetweenTS, but bounded to
// the stream positions (lo, hi] a user may see, so that history visibility
// is applied in the query rather than after it (an invisible event must not
// hide a visible one behind it).

// VisibleEventNearTS finds the event of a room closest to ts in direction
// forward ("first at or after ts", else "last at or before ts") among those
// at positions lo < pos <= hi. Ties on the timestamp go to the earliest
// position forwards and the latest backwards. ErrNotFound if there is none.
func (s *Storage) VisibleEventNearTS(ctx context.Context, roomID string, ts int64, forward bool, lo, hi int64) (*Event, error) {
	q := `SELECT ` + eventColumns + ` FROM syncapi_events WHERE room_id = $1 AND origin_server_ts <= $2
		AND stream_pos > $3 AND stream_pos <= $4 AND outlier = 0 ORDER BY origin_server_ts DESC, stream_pos DESC LIMIT 1`
	if forward {
		q = `SELECT ` + eventColumns + ` FROM syncapi_events WHERE room_id = $1 AND origin_server_ts >= $2
		AND stream_pos > $3 AND stream_pos <= $4 AND outlier = 0 ORDER BY origin_server_ts ASC, stream_pos ASC LIMIT 1`
	}
	e, err := scanEvent(s.db.QueryRow(ctx, q, roomID, ts, lo, hi))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// RoomEventsInTSWindow returns up to limit events of a room whose
// origin_server_ts is in [fromTS, toTS] and whose position is in
// (from, to], oldest (lowest position) first.
func (s *Storage) RoomEventsInTSWindow(ctx context.Context, roomID string, fromTS, toTS, from, to int64, limit int) ([]*Event, error) {
	return sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM syncapi_events
		WHERE room_id = $1 AND origin_server_ts >= $2 AND origin_server_ts <= $3 AND stream_pos > $4 AND stream_pos <= $5 AND outlier = 0
		ORDER BY stream_pos ASC LIMIT $6`, roomID, fromTS, toTS, from, to, limit)
}
