package storage

import (
	"context"
	"fmt"
)

// EventsWithMedia calls fn with the JSON of each accepted event of the
// room that mentions an mxc:// URI, in the order stored, one row at a
// time (a room's history need not fit in memory).
func (s *Storage) EventsWithMedia(ctx context.Context, room RoomNID, fn func(eventJSON []byte) error) error {
	rows, err := s.db.Query(ctx, `SELECT event_json FROM roomserver_events
		WHERE room_nid = $1 AND NOT rejected AND event_json LIKE $2 ESCAPE '\' ORDER BY event_nid`, room, containsPattern("mxc://"))
	if err != nil {
		return fmt.Errorf("storage: reading a room's events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var js []byte
	for rows.Next() {
		if err := rows.Scan(&js); err != nil {
			return fmt.Errorf("storage: reading a room's events: %w", err)
		}
		if err := fn(js); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: reading a room's events: %w", err)
	}
	return nil
}
