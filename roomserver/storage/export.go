package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// Position is where a page of a room's events in DAG order ends: the
// depth and NID of its last event (the zero Position is the start).
type Position struct {
	Depth int64
	NID   EventNID
}

// EventsInDAGOrder returns up to limit events of a room after pos, ordered
// by depth and then by the order stored: a topological order of the DAG,
// since an event's depth exceeds its prev events'. sender, when not "",
// keeps that sender's events only.
func (s *Storage) EventsInDAGOrder(ctx context.Context, room RoomNID, pos Position, limit int, sender string) ([]*Event, error) {
	q := `SELECT ` + eventColumns + ` FROM roomserver_events
		WHERE room_nid = $1 AND (depth > $2 OR (depth = $2 AND event_nid > $3))`
	args := []any{room, pos.Depth, pos.NID, limit}
	if sender != "" {
		q += ` AND sender = $5`
		args = append(args, sender)
	}
	evs, err := sqlutil.Select(ctx, s.db, scanEvent, q+` ORDER BY depth, event_nid LIMIT $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: reading a room's events in DAG order: %w", err)
	}
	return evs, nil
}

// CountEvents is how many events a room has stored.
func (s *Storage) CountEvents(ctx context.Context, room RoomNID) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_events WHERE room_nid = $1`, room).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: counting a room's events: %w", err)
	}
	return n, nil
}

// UserRoom is a room a user has a membership in, and that membership.
type UserRoom struct {
	RoomID     string
	Membership string
}

// RoomsOfUser lists every room the user has a current membership row in
// (joined, invited, left, banned, knocking), by room ID.
func (s *Storage) RoomsOfUser(ctx context.Context, userID string) ([]UserRoom, error) {
	rooms, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (UserRoom, error) {
		var r UserRoom
		return r, sc.Scan(&r.RoomID, &r.Membership)
	}, `SELECT r.room_id, m.membership FROM roomserver_memberships m
		JOIN roomserver_rooms r ON r.room_nid = m.room_nid WHERE m.user_id = $1 ORDER BY r.room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading a user's rooms: %w", err)
	}
	return rooms, nil
}
