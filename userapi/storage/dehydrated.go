package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/userapi/api"
)

// DehydratedDevice returns the user's dehydrated device (MSC3814) and the
// device_data it was uploaded with; api.ErrNoDehydratedDevice when the
// user has none.
func (s *Storage) DehydratedDevice(ctx context.Context, localpart api.Localpart) (*api.DehydratedDevice, error) {
	var d api.DehydratedDevice
	var data string
	err := s.db.QueryRow(ctx, `SELECT device_id, device_data FROM userapi_dehydrated_devices WHERE localpart = $1`,
		localpart).Scan(&d.DeviceID, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNoDehydratedDevice
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading the dehydrated device: %w", err)
	}
	d.DeviceData = json.RawMessage(data)
	return &d, nil
}

// SetDehydratedDevice marks a device of the user, which must exist, as its
// dehydrated device, replacing the mark on any other. It does not delete
// the device previously marked: the caller does, with DeleteDevices, which
// removes this row with the device.
func (s *Storage) SetDehydratedDevice(ctx context.Context, localpart api.Localpart, id api.DeviceID, data json.RawMessage) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_dehydrated_devices (localpart, device_id, device_data) VALUES ($1, $2, $3)
		ON CONFLICT (localpart) DO UPDATE SET device_id = EXCLUDED.device_id, device_data = EXCLUDED.device_data`,
		localpart, id, string(data))
	if err != nil {
		return fmt.Errorf("storage: writing the dehydrated device: %w", err)
	}
	return nil
}

// LockDehydratedDevice locks the user's account row until the transaction
// in ctx ends, so that two uploads of a dehydrated device for one user run
// one after the other and the second deletes the first's device instead of
// leaving it behind unmarked. On SQLite the single writer does the same.
func (s *Storage) LockDehydratedDevice(ctx context.Context, localpart api.Localpart) error {
	if _, err := s.db.Exec(ctx, `UPDATE userapi_accounts SET deactivated = deactivated WHERE localpart = $1`, localpart); err != nil {
		return fmt.Errorf("storage: locking the dehydrated device: %w", err)
	}
	return nil
}

// UnmarkDehydratedDevice makes a device of the user an ordinary one if it
// is the dehydrated device, dropping its device_data.
func (s *Storage) UnmarkDehydratedDevice(ctx context.Context, localpart api.Localpart, id api.DeviceID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_dehydrated_devices WHERE localpart = $1 AND device_id = $2`, localpart, id)
	if err != nil {
		return fmt.Errorf("storage: unmarking the dehydrated device: %w", err)
	}
	return nil
}
