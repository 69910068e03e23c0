package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// RemoteDeviceLists returns the cached device lists of those of userIDs
// that have one.
func (s *Storage) RemoteDeviceLists(ctx context.Context, userIDs []string) (map[string]api.RemoteDeviceList, error) {
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (api.RemoteDeviceList, error) {
		var l api.RemoteDeviceList
		var keys string
		if err := sc.Scan(&l.UserID, &keys, &l.StreamID, &l.Fresh); err != nil {
			return l, err
		}
		return l, json.Unmarshal([]byte(keys), &l)
	}, `SELECT user_id, keys_json, stream_id, fresh FROM userapi_remote_device_lists WHERE user_id = ANY($1)`,
		sqlutil.List(userIDs))
	if err != nil {
		return nil, fmt.Errorf("storage: reading remote device lists: %w", err)
	}
	out := make(map[string]api.RemoteDeviceList, len(rows))
	for _, l := range rows {
		out[l.UserID] = l
	}
	return out, nil
}

// RemoteDeviceList returns one user's cached device list; ok is false when
// there is none.
func (s *Storage) RemoteDeviceList(ctx context.Context, userID string) (api.RemoteDeviceList, bool, error) {
	l := api.RemoteDeviceList{UserID: userID}
	var keys string
	err := s.db.QueryRow(ctx, `SELECT keys_json, stream_id, fresh FROM userapi_remote_device_lists WHERE user_id = $1`,
		userID).Scan(&keys, &l.StreamID, &l.Fresh)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err == nil {
		err = json.Unmarshal([]byte(keys), &l)
	}
	if err != nil {
		return l, false, fmt.Errorf("storage: reading remote device list: %w", err)
	}
	return l, true, nil
}

// SetRemoteDeviceList stores (or replaces) a user's cached device list.
func (s *Storage) SetRemoteDeviceList(ctx context.Context, l api.RemoteDeviceList) error {
	if l.Devices == nil {
		l.Devices = map[string]json.RawMessage{}
	}
	keys, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO userapi_remote_device_lists (user_id, keys_json, stream_id, fresh)
		VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET
			keys_json = EXCLUDED.keys_json, stream_id = EXCLUDED.stream_id, fresh = EXCLUDED.fresh`,
		l.UserID, string(keys), l.StreamID, l.Fresh)
	if err != nil {
		return fmt.Errorf("storage: writing remote device list: %w", err)
	}
	return nil
}

// MarkRemoteStale marks a user's cached device list stale (nothing when
// there is none).
func (s *Storage) MarkRemoteStale(ctx context.Context, userID string) error {
	if _, err := s.db.Exec(ctx, `UPDATE userapi_remote_device_lists SET fresh = FALSE WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("storage: marking remote device list stale: %w", err)
	}
	return nil
}

// DeviceListStreamID is the position of a user's latest device-list change
// (0: none).
func (s *Storage) DeviceListStreamID(ctx context.Context, userID string) (int64, error) {
	var pos int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(pos), 0) FROM userapi_device_list_changes WHERE user_id = $1`, userID).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("storage: reading device list position: %w", err)
	}
	return pos, nil
}
