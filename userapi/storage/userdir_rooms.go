package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// SetDirectoryMember records that userID is joined to roomID (again is not
// an error).
func (s *Storage) SetDirectoryMember(ctx context.Context, roomID, userID string, local bool) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_user_directory_rooms (user_id, room_id, is_local) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, room_id) DO NOTHING`, userID, roomID, local)
	if err != nil {
		return fmt.Errorf("storage: writing directory membership: %w", err)
	}
	return nil
}

// RemoveDirectoryMember records that userID is no longer joined to roomID.
// When that leaves the room without local members, this server no longer
// hears of it: the room is forgotten. Other servers' users left in no room
// leave the directory.
func (s *Storage) RemoveDirectoryMember(ctx context.Context, roomID, userID string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_rooms WHERE user_id = $1 AND room_id = $2`,
			userID, roomID); err != nil {
			return fmt.Errorf("storage: deleting directory membership: %w", err)
		}
		gone := []string{userID}
		var locals int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM userapi_user_directory_rooms WHERE room_id = $1 AND is_local`,
			roomID).Scan(&locals); err != nil {
			return fmt.Errorf("storage: counting local members: %w", err)
		}
		if locals == 0 {
			rest, err := s.forgetRoom(ctx, roomID)
			if err != nil {
				return err
			}
			gone = append(gone, rest...)
		}
		for _, u := range gone {
			if err := s.dropRoomlessRemote(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// forgetRoom deletes a room's memberships and flags and returns its members.
func (s *Storage) forgetRoom(ctx context.Context, roomID string) ([]string, error) {
	members, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var u string
		return u, sc.Scan(&u)
	}, `SELECT user_id FROM userapi_user_directory_rooms WHERE room_id = $1`, roomID)
	if err != nil {
		return nil, fmt.Errorf("storage: listing room members: %w", err)
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_rooms WHERE room_id = $1`, roomID); err != nil {
		return nil, fmt.Errorf("storage: forgetting room: %w", err)
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_public_rooms WHERE room_id = $1`, roomID); err != nil {
		return nil, fmt.Errorf("storage: forgetting room: %w", err)
	}
	return members, nil
}

// dropRoomlessRemote removes another server's user who is in no known room
// from the directory.
func (s *Storage) dropRoomlessRemote(ctx context.Context, userID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory WHERE user_id = $1 AND NOT is_local
		AND NOT EXISTS (SELECT 1 FROM userapi_user_directory_rooms WHERE user_id = $1)`, userID); err != nil {
		return fmt.Errorf("storage: dropping remote user: %w", err)
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_user_directory_terms WHERE user_id = $1
		AND NOT EXISTS (SELECT 1 FROM userapi_user_directory WHERE user_id = $1)`, userID); err != nil {
		return fmt.Errorf("storage: dropping remote user's terms: %w", err)
	}
	return nil
}

// SetDirectoryRoomJoinPublic records whether a room's join rule is public.
func (s *Storage) SetDirectoryRoomJoinPublic(ctx context.Context, roomID string, public bool) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_user_directory_public_rooms (room_id, public_join, world_readable)
		VALUES ($1, $2, FALSE) ON CONFLICT (room_id) DO UPDATE SET public_join = EXCLUDED.public_join`, roomID, public)
	if err != nil {
		return fmt.Errorf("storage: writing room join rule: %w", err)
	}
	return nil
}

// SetDirectoryRoomWorldReadable records whether a room's history is world
// readable.
func (s *Storage) SetDirectoryRoomWorldReadable(ctx context.Context, roomID string, readable bool) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_user_directory_public_rooms (room_id, public_join, world_readable)
		VALUES ($1, FALSE, $2) ON CONFLICT (room_id) DO UPDATE SET world_readable = EXCLUDED.world_readable`, roomID, readable)
	if err != nil {
		return fmt.Errorf("storage: writing room history visibility: %w", err)
	}
	return nil
}

// DirectoryMember is one joined member of a room.
type DirectoryMember struct {
	RoomID string
	UserID string
	Local  bool
}

// InsertDirectoryMembers records many new memberships at once (benchmarks
// and bulk loads), in one transaction.
func (s *Storage) InsertDirectoryMembers(ctx context.Context, members []DirectoryMember) error {
	rows := make([][]any, 0, len(members))
	for _, m := range members {
		rows = append(rows, []any{m.UserID, m.RoomID, m.Local})
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.insertRows(ctx, `INSERT INTO userapi_user_directory_rooms (user_id, room_id, is_local) VALUES `, rows); err != nil {
			return fmt.Errorf("storage: inserting directory memberships: %w", err)
		}
		return nil
	})
}
