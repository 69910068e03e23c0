package storage

import (
	"context"
	"errors"
	"fmt"
)

// RoomTables are the roomserver's tables that hold rows of a room, each
// with the condition that selects a room's rows ($1: the room's ID when
// ByID, else its NID). PurgeRoom empties them of the room; its test checks that every
// table is here. roomserver_blocked_rooms, roomserver_room_deletes,
// roomserver_purges and roomserver_legal_holds are left: they record what
// admins did to the room (docs/decisions.md; a held room is never purged).
var RoomTables = []struct {
	Table, Where string
	ByID         bool
}{
	{"roomserver_txns", `event_id IN (SELECT event_id FROM roomserver_events WHERE room_nid = $1)`, false},
	{"roomserver_snapshot_entries", `snapshot_nid IN (SELECT snapshot_nid FROM roomserver_snapshots WHERE room_nid = $1)`, false},
	{"roomserver_snapshots", `room_nid = $1`, false},
	{"roomserver_memberships", `room_nid = $1`, false},
	{"roomserver_redacted_originals", `room_nid = $1`, false},
	{"roomserver_events", `room_nid = $1`, false},
	{"roomserver_room_aliases", `room_id = $1`, true},
	{"roomserver_published_rooms", `room_id = $1`, true},
	{"roomserver_direct_invites", `room_id = $1`, true},
	{"roomserver_reports", `room_id = $1`, true},
	{"roomserver_rooms", `room_nid = $1`, false},
}

// PurgeRoom removes every row of a room from the roomserver's tables, in
// the caller's transaction (or one of its own), and reports whether the
// room was there: purging a room that is gone does nothing, so a purge
// that a crash interrupted is simply run again.
func (s *Storage) PurgeRoom(ctx context.Context, roomID string) (bool, error) {
	found := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.Room(ctx, roomID)
		if errors.Is(err, ErrNotFound) {
			return s.purgeRows(ctx, -1, roomID)
		}
		if err != nil {
			return err
		}
		found = true
		return s.purgeRows(ctx, r.NID, roomID)
	})
	return found, err
}

// purgeRows deletes the room's rows, table by table (nid -1: the room row
// is gone, the rows keyed by its ID may not be).
func (s *Storage) purgeRows(ctx context.Context, nid RoomNID, roomID string) error {
	for _, t := range RoomTables {
		// The conditions are constants of this file, never input.
		if _, err := s.db.Exec(ctx, `DELETE FROM `+t.Table+` WHERE `+t.Where, roomArg(t.ByID, nid, roomID)); err != nil {
			return fmt.Errorf("storage: purging %s of room %s: %w", t.Table, roomID, err)
		}
	}
	return nil
}

// CountRoomRows counts the rows a room has in each of RoomTables (for
// tests and checks after a purge).
func (s *Storage) CountRoomRows(ctx context.Context, nid RoomNID, roomID string) (map[string]int, error) {
	out := make(map[string]int, len(RoomTables))
	for _, t := range RoomTables {
		var n int
		err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Table+` WHERE `+t.Where, roomArg(t.ByID, nid, roomID)).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("storage: counting %s: %w", t.Table, err)
		}
		out[t.Table] = n
	}
	return out, nil
}

func roomArg(byID bool, nid RoomNID, roomID string) any {
	if byID {
		return roomID
	}
	return nid
}
