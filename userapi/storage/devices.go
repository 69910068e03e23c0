package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// UpsertDevice creates a device, or updates the display name of an existing
// one of the same user (when displayName is not nil).
func (s *Storage) UpsertDevice(
	ctx context.Context, localpart api.Localpart, id api.DeviceID, displayName *string, nowMs int64, ip, userAgent string,
) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_devices
			(localpart, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, user_agent)
		VALUES ($1, $2, $3, $4, $4, $5, $6)
		ON CONFLICT (localpart, device_id) DO UPDATE SET
			display_name = COALESCE(EXCLUDED.display_name, userapi_devices.display_name),
			last_seen_ts = EXCLUDED.last_seen_ts, last_seen_ip = EXCLUDED.last_seen_ip, user_agent = EXCLUDED.user_agent`,
		localpart, id, displayName, nowMs, ip, userAgent)
	if err != nil {
		return fmt.Errorf("storage: upserting device: %w", err)
	}
	return nil
}

func scanDevice(s sqlutil.Scanner) (api.Device, error) {
	var d api.Device
	var name sql.NullString
	err := s.Scan(&d.Localpart, &d.ID, &name, &d.LastSeenTS, &d.LastSeenIP, &d.UserAgent)
	d.DisplayName = name.String
	return d, err
}

const deviceColumns = `localpart, device_id, display_name, last_seen_ts, last_seen_ip, user_agent`

// Devices lists a user's devices.
func (s *Storage) Devices(ctx context.Context, localpart api.Localpart) ([]api.Device, error) {
	ds, err := sqlutil.Select(ctx, s.db, scanDevice, `SELECT `+deviceColumns+` FROM userapi_devices
		WHERE localpart = $1 ORDER BY created_ts, device_id`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: listing devices: %w", err)
	}
	return ds, nil
}

// Device returns one device; api.ErrNoSuchDevice when there is none.
func (s *Storage) Device(ctx context.Context, localpart api.Localpart, id api.DeviceID) (*api.Device, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceColumns+` FROM userapi_devices
		WHERE localpart = $1 AND device_id = $2`, localpart, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNoSuchDevice
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading device: %w", err)
	}
	return &d, nil
}

// SetDeviceDisplayName renames a device; api.ErrNoSuchDevice when there is none.
func (s *Storage) SetDeviceDisplayName(ctx context.Context, localpart api.Localpart, id api.DeviceID, name string) error {
	res, err := s.db.Exec(ctx, `UPDATE userapi_devices SET display_name = $3 WHERE localpart = $1 AND device_id = $2`, localpart, id, name)
	if err != nil {
		return fmt.Errorf("storage: renaming device: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrNoSuchDevice
	}
	return nil
}

// TouchDevice records when and from where a device was last seen.
func (s *Storage) TouchDevice(ctx context.Context, localpart api.Localpart, id api.DeviceID, nowMs int64, ip, userAgent string) error {
	_, err := s.db.Exec(ctx, `UPDATE userapi_devices SET last_seen_ts = $3, last_seen_ip = $4, user_agent = $5
		WHERE localpart = $1 AND device_id = $2`,
		localpart, id, nowMs, ip, userAgent)
	return err
}

// deviceTables hold rows that belong to one device, removed with it: its
// tokens, its encryption keys, its undelivered to-device messages and the
// transaction IDs it sent them with, its mark as the user's dehydrated
// device, the pushers it set, and last the device itself (whose count
// DeleteDevices reports).
var deviceTables = []string{
	"userapi_access_tokens", "userapi_refresh_tokens",
	"userapi_device_keys", "userapi_one_time_keys", "userapi_fallback_keys",
	"userapi_to_device", "userapi_to_device_txns",
	"userapi_dehydrated_devices",
	"userapi_pushers",
	"userapi_devices",
}

// DeleteDevices removes devices, every token and key that belongs to them,
// and returns the hashes of the access tokens removed (so caches can forget
// them) and how many devices were removed. ids nil means every device of
// the user; except, when not empty, is kept.
func (s *Storage) DeleteDevices(
	ctx context.Context, localpart api.Localpart, ids []api.DeviceID, except api.DeviceID,
) (hashes []string, devices int64, err error) {
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		scanHash := func(sc sqlutil.Scanner) (string, error) {
			var h string
			return h, sc.Scan(&h)
		}
		if ids == nil {
			hashes, err = sqlutil.Select(ctx, s.db, scanHash, `SELECT token_hash FROM userapi_access_tokens
				WHERE localpart = $1 AND device_id <> $2`, localpart, except)
			if err != nil {
				return err
			}
			devices, err = s.deleteDeviceRows(ctx, `localpart = $1 AND device_id <> $2`, localpart, except)
			return err
		}
		list := sqlutil.List(ids)
		hashes, err = sqlutil.Select(ctx, s.db, scanHash, `SELECT token_hash FROM userapi_access_tokens
			WHERE localpart = $1 AND device_id = ANY($2)`, localpart, list)
		if err != nil {
			return err
		}
		devices, err = s.deleteDeviceRows(ctx, `localpart = $1 AND device_id = ANY($2)`, localpart, list)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("storage: deleting devices: %w", err)
	}
	return hashes, devices, nil
}

// deleteDeviceRows deletes the rows of deviceTables that match where, and
// returns how many devices it deleted.
func (s *Storage) deleteDeviceRows(ctx context.Context, where string, args ...any) (int64, error) {
	var n int64
	for _, table := range deviceTables {
		// table and where are constants of this file, never input.
		res, err := s.db.Exec(ctx, `DELETE FROM `+table+` WHERE `+where, args...)
		if err != nil {
			return 0, err
		}
		n, _ = res.RowsAffected()
	}
	return n, nil
}
