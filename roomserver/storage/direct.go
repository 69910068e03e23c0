package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// DirectInvite is an invite made as a direct chat (spec: m.room.member,
// is_direct): the invitee, who invited them, and the invite's reason.
type DirectInvite struct {
	RoomID  string
	UserID  string
	Sender  string
	EventID string
	TS      int64
	Reason  string
	// Outside, for an invite to a room this server is not in (received
	// over federation), is the invitee's membership known outside the
	// room's state: "invite", or "leave" once rejected. "" otherwise.
	Outside string
}

// NoteDirectInvite records a direct invite; a later one of the same user to
// the same room replaces it.
func (s *Storage) NoteDirectInvite(ctx context.Context, d DirectInvite) error {
	_, err := s.db.Exec(ctx, `INSERT INTO roomserver_direct_invites
		(room_id, user_id, sender, event_id, origin_server_ts, reason, outside_membership) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id, user_id) DO UPDATE SET sender = EXCLUDED.sender, event_id = EXCLUDED.event_id,
			origin_server_ts = EXCLUDED.origin_server_ts, reason = EXCLUDED.reason, outside_membership = EXCLUDED.outside_membership`,
		d.RoomID, d.UserID, d.Sender, d.EventID, d.TS, d.Reason, d.Outside)
	if err != nil {
		return fmt.Errorf("storage: noting a direct invite: %w", err)
	}
	return nil
}

// SetOutsideMembership records the membership of a direct invitee of a room
// this server is not in (the rejection of an invite received over
// federation). Users with no direct invite to the room are left alone.
func (s *Storage) SetOutsideMembership(ctx context.Context, roomID, userID, membership string) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_direct_invites SET outside_membership = $3 WHERE room_id = $1 AND user_id = $2`,
		roomID, userID, membership)
	if err != nil {
		return fmt.Errorf("storage: setting an outside membership: %w", err)
	}
	return nil
}

// clearOutsideMembership forgets the outside membership of a user whose
// membership of the room the room's state now gives.
func (s *Storage) clearOutsideMembership(ctx context.Context, room RoomNID, userID string) error {
	_, err := s.db.Exec(ctx, `UPDATE roomserver_direct_invites SET outside_membership = ''
		WHERE user_id = $2 AND outside_membership <> '' AND room_id = (SELECT room_id FROM roomserver_rooms WHERE room_nid = $1)`,
		room, userID)
	if err != nil {
		return fmt.Errorf("storage: clearing an outside membership: %w", err)
	}
	return nil
}

// TwoPersonRoom is a room where the user and exactly one other user are
// joined.
type TwoPersonRoom struct {
	RoomID string
	// Other is the other joined user; OtherJoin their join event.
	Other     string
	OtherJoin []byte
	// MyJoinTS and OtherJoinTS are the joins' origin_server_ts.
	MyJoinTS, OtherJoinTS int64
	// Direct reports a direct invite of either user to the room.
	Direct bool
}

// TwoPersonRooms lists the rooms where userID and exactly one other user are
// joined, in one query: the other member is the first joined member other
// than the user (the primary key's order), and the room counts when no
// third is joined, so a large room costs two index probes, not a count.
// The other's join event is read only for users of other servers than
// server (whose profiles the join carries).
func (s *Storage) TwoPersonRooms(ctx context.Context, userID, server string) ([]TwoPersonRoom, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (TwoPersonRoom, error) {
		var t TwoPersonRoom
		var js string
		err := sc.Scan(&t.RoomID, &t.Other, &js, &t.MyJoinTS, &t.OtherJoinTS, &t.Direct)
		t.OtherJoin = []byte(js)
		return t, err
	}, `SELECT r.room_id, o.user_id, CASE WHEN o.user_id LIKE $2 THEN '' ELSE oe.event_json END,
			mye.origin_server_ts, oe.origin_server_ts,
			EXISTS (SELECT 1 FROM roomserver_direct_invites d WHERE d.room_id = r.room_id AND d.user_id IN (me.user_id, o.user_id))
		FROM roomserver_memberships me
		JOIN roomserver_rooms r ON r.room_nid = me.room_nid
		JOIN roomserver_memberships o ON o.room_nid = me.room_nid AND o.user_id = (
			SELECT MIN(c.user_id) FROM roomserver_memberships c
			WHERE c.room_nid = me.room_nid AND c.membership = 'join' AND c.user_id <> me.user_id)
		JOIN roomserver_events mye ON mye.event_nid = me.event_nid
		JOIN roomserver_events oe ON oe.event_nid = o.event_nid
		WHERE me.user_id = $1 AND me.membership = 'join' AND NOT EXISTS (
			SELECT 1 FROM roomserver_memberships c
			WHERE c.room_nid = me.room_nid AND c.membership = 'join' AND c.user_id <> me.user_id AND c.user_id <> o.user_id)
		ORDER BY r.room_nid`, userID, "%:"+server)
	if err != nil {
		return nil, fmt.Errorf("storage: reading two-person rooms: %w", err)
	}
	return rows, nil
}

const directInviteColumns = `d.room_id, d.user_id, d.sender, d.event_id, d.origin_server_ts, d.reason`

func scanDirectInvite(sc sqlutil.Scanner) (DirectInvite, error) {
	var d DirectInvite
	return d, sc.Scan(&d.RoomID, &d.UserID, &d.Sender, &d.EventID, &d.TS, &d.Reason)
}

// IncomingDirectInvites lists the direct invites userID has not answered:
// those whose current membership (outside the room's state first, for rooms
// this server is not in) is still invite.
func (s *Storage) IncomingDirectInvites(ctx context.Context, userID string) ([]DirectInvite, error) {
	rows, err := sqlutil.Select(ctx, s.db, scanDirectInvite, `SELECT `+directInviteColumns+`
		FROM roomserver_direct_invites d
		LEFT JOIN roomserver_rooms r ON r.room_id = d.room_id
		LEFT JOIN roomserver_memberships m ON m.room_nid = r.room_nid AND m.user_id = d.user_id
		WHERE d.user_id = $1 AND COALESCE(NULLIF(d.outside_membership, ''), m.membership, 'leave') = 'invite'
		ORDER BY d.origin_server_ts, d.room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading incoming direct invites: %w", err)
	}
	return rows, nil
}

// OutgoingDirectInvites lists the direct invites userID sent that are still
// pending, in rooms the sender is still joined to.
func (s *Storage) OutgoingDirectInvites(ctx context.Context, userID string) ([]DirectInvite, error) {
	rows, err := sqlutil.Select(ctx, s.db, scanDirectInvite, `SELECT `+directInviteColumns+`
		FROM roomserver_direct_invites d
		JOIN roomserver_rooms r ON r.room_id = d.room_id
		JOIN roomserver_memberships m ON m.room_nid = r.room_nid AND m.user_id = d.user_id AND m.membership = 'invite'
		JOIN roomserver_memberships s ON s.room_nid = r.room_nid AND s.user_id = d.sender AND s.membership = 'join'
		WHERE d.sender = $1
		ORDER BY d.origin_server_ts, d.room_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading outgoing direct invites: %w", err)
	}
	return rows, nil
}
