package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// PurgeEvents removes a room's purged message events (the roomserver's
// OutputPurgedEvents; docs/decisions.md, "Message retention") from the
// timeline, relations and notifications, and queues them for the search
// indexer (syncapi_search_purges), all in one transaction. State events
// are never removed: the room's state at any position stays readable. It
// returns the IDs it removed; a repeat removes nothing.
func (s *Storage) PurgeEvents(ctx context.Context, roomID string, eventIDs []string) ([]string, error) {
	var removed []string
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		removed, err = sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT event_id FROM syncapi_events WHERE event_id = ANY($1) AND room_id = $2 AND state_key IS NULL`,
			sqlutil.List(eventIDs), roomID)
		if err != nil || len(removed) == 0 {
			return err
		}
		list := sqlutil.List(removed)
		for _, q := range []string{
			`DELETE FROM syncapi_notify_users WHERE EXISTS (SELECT 1 FROM syncapi_notify_events e
				WHERE e.event_id = ANY($1) AND e.room_id = syncapi_notify_users.room_id
				AND e.stream_pos = syncapi_notify_users.stream_pos)`,
			`DELETE FROM syncapi_notify_events WHERE event_id = ANY($1)`,
			`DELETE FROM syncapi_relations WHERE event_id = ANY($1)`,
			`INSERT INTO syncapi_search_purges (event_id) SELECT event_id FROM syncapi_events WHERE event_id = ANY($1)
				ON CONFLICT DO NOTHING`,
			`DELETE FROM syncapi_events WHERE event_id = ANY($1)`,
		} {
			if _, err := s.db.Exec(ctx, q, list); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: purging events of %s: %w", roomID, err)
	}
	return removed, nil
}
