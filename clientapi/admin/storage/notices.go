package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// NoticeRoom returns the room of userID's server notices ("" if none yet).
func (s *Store) NoticeRoom(ctx context.Context, userID string) (string, error) {
	var roomID string
	err := s.db.QueryRow(ctx, `SELECT room_id FROM admin_server_notice_rooms WHERE user_id = $1`, userID).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("admin storage: reading the notices room of %s: %w", userID, err)
	}
	return roomID, nil
}

// SetNoticeRoom records roomID as the room of userID's server notices.
func (s *Store) SetNoticeRoom(ctx context.Context, userID, roomID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO admin_server_notice_rooms (user_id, room_id) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id`, userID, roomID)
	if err != nil {
		return fmt.Errorf("admin storage: recording the notices room of %s: %w", userID, err)
	}
	return nil
}

// NoticeTxn is a notice sent with a transaction ID by an admin's device.
type NoticeTxn struct {
	AdminUserID, DeviceID, TxnID string
}

// NoticeTxnEvent returns the event a transaction sent ("" if none).
func (s *Store) NoticeTxnEvent(ctx context.Context, t NoticeTxn) (string, error) {
	var eventID string
	err := s.db.QueryRow(ctx, `SELECT event_id FROM admin_server_notice_txns
		WHERE admin_user_id = $1 AND device_id = $2 AND txn_id = $3`, t.AdminUserID, t.DeviceID, t.TxnID).Scan(&eventID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("admin storage: reading notice transaction %s: %w", t.TxnID, err)
	}
	return eventID, nil
}

// SetNoticeTxnEvent records the event a transaction sent.
func (s *Store) SetNoticeTxnEvent(ctx context.Context, t NoticeTxn, eventID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO admin_server_notice_txns (admin_user_id, device_id, txn_id, event_id)
		VALUES ($1, $2, $3, $4) ON CONFLICT (admin_user_id, device_id, txn_id) DO NOTHING`,
		t.AdminUserID, t.DeviceID, t.TxnID, eventID)
	if err != nil {
		return fmt.Errorf("admin storage: recording notice transaction %s: %w", t.TxnID, err)
	}
	return nil
}
