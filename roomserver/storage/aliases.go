package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// ErrAliasExists is returned when an alias is already mapped to a room.
var ErrAliasExists = errors.New("roomserver storage: alias exists")

// Alias is a room alias's row.
type Alias struct {
	Alias     string
	RoomID    string
	Creator   string
	CreatedTS int64
}

// InsertAlias maps alias to a room; ErrAliasExists if the alias is taken
// (decided by the database, so concurrent requests cannot both win).
func (s *Storage) InsertAlias(ctx context.Context, alias, roomID, creator string, nowMs int64) error {
	var got string
	err := s.db.QueryRowWrite(ctx, `INSERT INTO roomserver_room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)
		ON CONFLICT (alias) DO NOTHING RETURNING alias`, alias, roomID, creator, nowMs).Scan(&got)
	if isNoRows(err) {
		return ErrAliasExists
	}
	if err != nil {
		return fmt.Errorf("storage: inserting alias: %w", err)
	}
	return nil
}

// Alias reads an alias; ErrNotFound if unknown.
func (s *Storage) Alias(ctx context.Context, alias string) (*Alias, error) {
	var a Alias
	err := s.db.QueryRow(ctx, `SELECT alias, room_id, creator, created_ts FROM roomserver_room_aliases WHERE alias = $1`, alias).
		Scan(&a.Alias, &a.RoomID, &a.Creator, &a.CreatedTS)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading alias: %w", err)
	}
	return &a, nil
}

// DeleteAlias removes an alias; ErrNotFound if it was not there (or another
// request removed it first).
func (s *Storage) DeleteAlias(ctx context.Context, alias string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM roomserver_room_aliases WHERE alias = $1`, alias)
	if err != nil {
		return fmt.Errorf("storage: deleting alias: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("storage: deleting alias: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// AliasesOfRoom lists the aliases mapped to a room, sorted (nil: none).
func (s *Storage) AliasesOfRoom(ctx context.Context, roomID string) ([]string, error) {
	out, err := sqlutil.Select(ctx, s.db, scanString, `SELECT alias FROM roomserver_room_aliases WHERE room_id = $1 ORDER BY alias`, roomID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading aliases: %w", err)
	}
	return out, nil
}

// SetPublished adds a room to the published room directory or removes it.
// Both are idempotent.
func (s *Storage) SetPublished(ctx context.Context, roomID string, published bool, nowMs int64) error {
	var err error
	if published {
		_, err = s.db.Exec(ctx, `INSERT INTO roomserver_published_rooms (room_id, published_ts) VALUES ($1, $2)
			ON CONFLICT (room_id) DO NOTHING`, roomID, nowMs)
	} else {
		_, err = s.db.Exec(ctx, `DELETE FROM roomserver_published_rooms WHERE room_id = $1`, roomID)
	}
	if err != nil {
		return fmt.Errorf("storage: setting room visibility: %w", err)
	}
	return nil
}

// IsPublished reports whether a room is in the published room directory.
func (s *Storage) IsPublished(ctx context.Context, roomID string) (bool, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM roomserver_published_rooms WHERE room_id = $1`, roomID).Scan(&n); err != nil {
		return false, fmt.Errorf("storage: reading room visibility: %w", err)
	}
	return n > 0, nil
}

// PublishedRooms lists the rooms in the published room directory, sorted by
// room ID (nil: none).
func (s *Storage) PublishedRooms(ctx context.Context) ([]string, error) {
	out, err := sqlutil.Select(ctx, s.db, scanString, `SELECT room_id FROM roomserver_published_rooms ORDER BY room_id`)
	if err != nil {
		return nil, fmt.Errorf("storage: reading published rooms: %w", err)
	}
	return out, nil
}
