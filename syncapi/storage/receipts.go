package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/syncapi/api"
)

// PutReceipt stores r as its user's receipt of its type in its room and
// thread, unless it would not move the receipt on: the same event, or an
// event earlier in the stream than the one already acknowledged (spec:
// "Receipts": a receipt marks everything up to its event as read, so an
// earlier one adds nothing). When stored, r.Pos is its new receipt-stream
// position and announce runs in the same transaction (to publish it on the
// bus, delivered iff the receipt commits).
func (s *Storage) PutReceipt(ctx context.Context, r *api.Receipt, announce func(ctx context.Context, r *api.Receipt) error) (bool, error) {
	stored := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		stored = false
		evPos, err := s.eventPos(ctx, r.RoomID, r.EventID)
		if err != nil {
			return err
		}
		var curID string
		var curPos int64
		err = s.db.QueryRow(ctx, `SELECT event_id, event_pos FROM syncapi_receipts
			WHERE room_id = $1 AND receipt_type = $2 AND user_id = $3 AND thread_id = $4`,
			r.RoomID, r.Type, r.UserID, r.ThreadID).Scan(&curID, &curPos)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case curID == r.EventID, curPos > 0 && evPos > 0 && evPos < curPos:
			return nil
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM syncapi_receipts
			WHERE room_id = $1 AND receipt_type = $2 AND user_id = $3 AND thread_id = $4`,
			r.RoomID, r.Type, r.UserID, r.ThreadID); err != nil {
			return err
		}
		if r.Pos, err = s.nextStreamPos(ctx, receiptStream); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO syncapi_receipts (receipt_pos, room_id, receipt_type, user_id, thread_id, event_id,
			event_pos, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.Pos, r.RoomID, r.Type, r.UserID, r.ThreadID, r.EventID, evPos, r.TS); err != nil {
			return err
		}
		stored = true
		if announce == nil {
			return nil
		}
		return announce(ctx, r)
	})
	if err != nil {
		return false, fmt.Errorf("syncapi storage: storing a receipt: %w", err)
	}
	return stored, nil
}

// eventPos is the stream position of a room's event (0: not stored).
func (s *Storage) eventPos(ctx context.Context, roomID, eventID string) (int64, error) {
	var p int64
	err := s.db.QueryRow(ctx, `SELECT stream_pos FROM syncapi_events WHERE event_id = $1 AND room_id = $2 AND outlier = 0`,
		eventID, roomID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return p, err
}

// ReceiptsSince returns the receipts of rooms with since < position <=
// upto, at most perRoom of each room (the newest), oldest first. Private
// receipts (m.read.private) are returned only when they are viewer's own.
func (s *Storage) ReceiptsSince(
	ctx context.Context, roomIDs []string, viewer string, since, upto int64, perRoom int,
) ([]api.Receipt, error) {
	if len(roomIDs) == 0 {
		return nil, nil
	}
	rs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (api.Receipt, error) {
		var r api.Receipt
		return r, sc.Scan(&r.Pos, &r.RoomID, &r.Type, &r.UserID, &r.ThreadID, &r.EventID, &r.TS)
	}, `SELECT receipt_pos, room_id, receipt_type, user_id, thread_id, event_id, ts FROM (
			SELECT receipt_pos, room_id, receipt_type, user_id, thread_id, event_id, ts,
				ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY receipt_pos DESC) AS n
			FROM syncapi_receipts
			WHERE room_id = ANY($1) AND receipt_pos > $2 AND receipt_pos <= $3
				AND (receipt_type <> 'm.read.private' OR user_id = $4)
		) recent WHERE n <= $5 ORDER BY receipt_pos`, sqlutil.List(roomIDs), since, upto, viewer, perRoom)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading receipts: %w", err)
	}
	return rs, nil
}

// MaxReceiptPos is the receipt stream's latest position (0: none).
func (s *Storage) MaxReceiptPos(ctx context.Context) (int64, error) {
	return s.streamPos(ctx, receiptStream)
}

// ReadUpTo is the stream position of the latest event a user's read
// receipts (m.read or m.read.private, unthreaded or for the main timeline)
// acknowledge in a room (0: none).
func (s *Storage) ReadUpTo(ctx context.Context, roomID, userID string) (int64, error) {
	var p int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(event_pos), 0) FROM syncapi_receipts
		WHERE room_id = $1 AND user_id = $2 AND receipt_type IN ('m.read', 'm.read.private') AND thread_id IN ('', 'main')`,
		roomID, userID).Scan(&p)
	if err != nil {
		return 0, fmt.Errorf("syncapi storage: reading the read receipt: %w", err)
	}
	return p, nil
}

// ReadPoints are the stream positions of the events a user's read
// receipts (m.read and m.read.private) acknowledge in a room, per thread:
// "" for unthreaded receipts, "main" for the main timeline, else a thread
// root.
func (s *Storage) ReadPoints(ctx context.Context, roomID, userID string) (map[string]int64, error) {
	type point struct {
		thread string
		pos    int64
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (point, error) {
		var p point
		err := sc.Scan(&p.thread, &p.pos)
		return p, err
	}, `SELECT thread_id, MAX(event_pos) FROM syncapi_receipts
		WHERE room_id = $1 AND user_id = $2 AND receipt_type IN ('m.read', 'm.read.private')
		GROUP BY thread_id`, roomID, userID)
	if err != nil {
		return nil, fmt.Errorf("syncapi storage: reading read receipts: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.thread] = r.pos
	}
	return out, nil
}
