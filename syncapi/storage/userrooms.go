package storage

import (
	"context"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// RoomsOfMember lists the rooms a user is or was joined to: their current
// membership is join, leave or ban (a leave may also be a rejected invite;
// callers apply history visibility).
func (s *Storage) RoomsOfMember(ctx context.Context, userID string) ([]RoomUserMembership, error) {
	return sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (RoomUserMembership, error) {
		r := RoomUserMembership{UserID: userID}
		return r, sc.Scan(&r.RoomID, &r.Membership, &r.Pos)
	}, `SELECT room_id, membership, stream_pos FROM syncapi_current_state
		WHERE event_type = 'm.room.member' AND state_key = $1 AND membership IN ('join', 'leave', 'ban')
		ORDER BY room_id`, userID)
}
