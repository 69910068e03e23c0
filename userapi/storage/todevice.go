package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// ToDeviceRow is one send-to-device message for one local device.
type ToDeviceRow struct {
	Localpart    api.Localpart
	DeviceID     api.DeviceID
	Sender       string // the sender's user ID
	SenderDevice api.DeviceID
	TxnID        string
	Type         string
	Content      json.RawMessage
}

// toDeviceLockKey names the PostgreSQL advisory lock that to-device writes
// take (the migration lock is 7365012).
const toDeviceLockKey = 7365013

// ClaimToDeviceTxn records that the sender's device used txnID, in the
// transaction ctx must carry, and reports whether it is the first use (a
// retried send finds it taken and stores nothing).
//
// On PostgreSQL it first takes a lock held until the transaction ends, so
// that sends commit in the order of their positions: a device's token
// carries the last position it received, and a smaller position committing
// after a larger one was delivered would be acknowledged unseen. SQLite's
// single writer gives that order already.
func (s *Storage) ClaimToDeviceTxn(
	ctx context.Context, localpart api.Localpart, device api.DeviceID, txnID string, nowMs int64,
) (bool, error) {
	if !s.db.InTx(ctx) {
		return false, fmt.Errorf("storage: claiming a to-device transaction outside a transaction")
	}
	if s.db.Dialect() == sqlutil.Postgres {
		if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, toDeviceLockKey); err != nil {
			return false, fmt.Errorf("storage: locking to-device positions: %w", err)
		}
	}
	res, err := s.db.Exec(ctx, `INSERT INTO userapi_to_device_txns (localpart, device_id, txn_id, created_ts)
		VALUES ($1, $2, $3, $4) ON CONFLICT (localpart, device_id, txn_id) DO NOTHING`, localpart, device, txnID, nowMs)
	if err != nil {
		return false, fmt.Errorf("storage: recording a to-device transaction: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// InsertToDevice stores one message and returns its position.
func (s *Storage) InsertToDevice(ctx context.Context, m ToDeviceRow) (int64, error) {
	var pos int64
	err := s.db.QueryRowWrite(ctx, `INSERT INTO userapi_to_device
			(localpart, device_id, sender, sender_device, txn_id, event_type, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING pos`,
		m.Localpart, m.DeviceID, m.Sender, m.SenderDevice, m.TxnID, m.Type, string(m.Content)).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("storage: storing a to-device message: %w", err)
	}
	return pos, nil
}

// ToDeviceSince returns up to limit of a device's messages after position
// since, oldest first, and latest: the device's newest stored position when
// more are left, else the last one returned (since when none is).
func (s *Storage) ToDeviceSince(
	ctx context.Context, localpart api.Localpart, device api.DeviceID, since int64, limit int,
) ([]api.ToDeviceMessage, int64, error) {
	msgs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (api.ToDeviceMessage, error) {
		var m api.ToDeviceMessage
		var content string
		err := sc.Scan(&m.Pos, &m.Sender, &m.Type, &content)
		m.Content = json.RawMessage(content)
		return m, err
	}, `SELECT pos, sender, event_type, content FROM userapi_to_device
		WHERE localpart = $1 AND device_id = $2 AND pos > $3 ORDER BY pos LIMIT $4`, localpart, device, since, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: reading to-device messages: %w", err)
	}
	if len(msgs) == 0 {
		return nil, since, nil
	}
	latest := msgs[len(msgs)-1].Pos
	if len(msgs) == limit {
		err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM userapi_to_device WHERE localpart = $1 AND device_id = $2`,
			localpart, device).Scan(&latest)
		if err != nil {
			return nil, 0, fmt.Errorf("storage: reading the latest to-device position: %w", err)
		}
	}
	return msgs, latest, nil
}

// AckToDevice deletes a device's messages at or below position upTo.
func (s *Storage) AckToDevice(ctx context.Context, localpart api.Localpart, device api.DeviceID, upTo int64) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_to_device WHERE localpart = $1 AND device_id = $2 AND pos <= $3`,
		localpart, device, upTo)
	if err != nil {
		return fmt.Errorf("storage: deleting delivered to-device messages: %w", err)
	}
	return nil
}
