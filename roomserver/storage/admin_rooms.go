package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// SetBlocked blocks a room (recording the admin) or unblocks it; both are
// idempotent (blocking again keeps the first admin).
func (s *Storage) SetBlocked(ctx context.Context, roomID, by string, blocked bool, nowMs int64) error {
	var err error
	if blocked {
		_, err = s.db.Exec(ctx, `INSERT INTO roomserver_blocked_rooms (room_id, user_id, blocked_ts) VALUES ($1, $2, $3)
			ON CONFLICT (room_id) DO NOTHING`, roomID, by, nowMs)
	} else {
		_, err = s.db.Exec(ctx, `DELETE FROM roomserver_blocked_rooms WHERE room_id = $1`, roomID)
	}
	if err != nil {
		return fmt.Errorf("storage: setting room block: %w", err)
	}
	return nil
}

// Blocked reports whether a room is blocked and by whom.
func (s *Storage) Blocked(ctx context.Context, roomID string) (bool, string, error) {
	var by string
	err := s.db.QueryRow(ctx, `SELECT user_id FROM roomserver_blocked_rooms WHERE room_id = $1`, roomID).Scan(&by)
	if isNoRows(err) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("storage: reading room block: %w", err)
	}
	return true, by, nil
}

// AllRoomIDs lists every room's ID, in creation order.
func (s *Storage) AllRoomIDs(ctx context.Context) ([]string, error) {
	out, err := sqlutil.Select(ctx, s.db, scanString, `SELECT room_id FROM roomserver_rooms ORDER BY room_nid`)
	if err != nil {
		return nil, fmt.Errorf("storage: listing rooms: %w", err)
	}
	return out, nil
}

// MemberRow is a user's membership row of a room.
type MemberRow struct {
	UserID     string
	Membership string
	Forgotten  bool
}

// MemberRows lists every membership row of a room.
func (s *Storage) MemberRows(ctx context.Context, room RoomNID) ([]MemberRow, error) {
	out, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (MemberRow, error) {
		var m MemberRow
		return m, sc.Scan(&m.UserID, &m.Membership, &m.Forgotten)
	}, `SELECT user_id, membership, forgotten FROM roomserver_memberships WHERE room_nid = $1 ORDER BY user_id`, room)
	if err != nil {
		return nil, fmt.Errorf("storage: reading memberships: %w", err)
	}
	return out, nil
}

// RoomDeleteRow is a room delete's row.
type RoomDeleteRow struct {
	DeleteID  string
	RoomID    string
	Request   string // JSON
	Status    string
	Error     string
	Result    string // JSON
	CreatedTS int64
}

const roomDeleteColumns = `delete_id, room_id, request, status, error, result, created_ts`

func scanRoomDelete(sc sqlutil.Scanner) (RoomDeleteRow, error) {
	var d RoomDeleteRow
	return d, sc.Scan(&d.DeleteID, &d.RoomID, &d.Request, &d.Status, &d.Error, &d.Result, &d.CreatedTS)
}

// InsertRoomDelete records a new delete. unfinished lists the statuses of
// a delete that has not ended: when one of the room has such a status, the
// delete is not recorded and ok is false (the check and the insert are one
// transaction).
func (s *Storage) InsertRoomDelete(ctx context.Context, d RoomDeleteRow, unfinished []string) (ok bool, err error) {
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_room_deletes WHERE room_id = $1 AND status = ANY($2)`,
			d.RoomID, sqlutil.List(unfinished)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		ok = true
		_, err := s.db.Exec(ctx, `INSERT INTO roomserver_room_deletes (`+roomDeleteColumns+`, updated_ts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, d.DeleteID, d.RoomID, d.Request, d.Status, d.Error, d.Result, d.CreatedTS)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("storage: recording room delete: %w", err)
	}
	return ok, nil
}

// UpdateRoomDelete records a delete's progress.
func (s *Storage) UpdateRoomDelete(ctx context.Context, deleteID, status, errText, result string, nowMs int64) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_room_deletes SET status = $2, error = $3, result = $4, updated_ts = $5
		WHERE delete_id = $1`, deleteID, status, errText, result, nowMs)
	if err != nil {
		return fmt.Errorf("storage: updating room delete: %w", err)
	}
	return nil
}

// RoomDelete reads one delete; ErrNotFound if unknown.
func (s *Storage) RoomDelete(ctx context.Context, deleteID string) (RoomDeleteRow, error) {
	d, err := scanRoomDelete(s.db.QueryRow(ctx, `SELECT `+roomDeleteColumns+` FROM roomserver_room_deletes WHERE delete_id = $1`, deleteID))
	if isNoRows(err) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("storage: reading room delete: %w", err)
	}
	return d, nil
}

// RoomDeletes lists a room's deletes (roomID "": those with one of
// statuses, of every room), oldest first.
func (s *Storage) RoomDeletes(ctx context.Context, roomID string, statuses []string) ([]RoomDeleteRow, error) {
	q := `SELECT ` + roomDeleteColumns + ` FROM roomserver_room_deletes WHERE room_id = $1 ORDER BY created_ts, delete_id`
	arg := any(roomID)
	if roomID == "" {
		q = `SELECT ` + roomDeleteColumns + ` FROM roomserver_room_deletes WHERE status = ANY($1) ORDER BY created_ts, delete_id`
		arg = sqlutil.List(statuses)
	}
	out, err := sqlutil.Select(ctx, s.db, scanRoomDelete, q, arg)
	if err != nil {
		return nil, fmt.Errorf("storage: listing room deletes: %w", err)
	}
	return out, nil
}

// TimelineEvents reads up to limit of a room's timeline events (neither
// outliers nor rejected) in storage order: forwards, those with after <
// NID < before, lowest first; backwards, highest first.
func (s *Storage) TimelineEvents(ctx context.Context, room RoomNID, after, before EventNID, backwards bool, limit int) ([]*Event, error) {
	order := `ASC`
	if backwards {
		order = `DESC`
	}
	evs, err := sqlutil.Select(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM roomserver_events
		WHERE room_nid = $1 AND event_nid > $2 AND event_nid < $3 AND NOT outlier AND NOT rejected
		ORDER BY event_nid `+order+` LIMIT $4`, room, after, before, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: reading timeline: %w", err)
	}
	return evs, nil
}
