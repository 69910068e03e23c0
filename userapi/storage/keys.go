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

// DeviceKeysRow is a device's identity keys as uploaded, with the device's
// display name (which /keys/query adds as unsigned data).
type DeviceKeysRow struct {
	DeviceID    api.DeviceID
	KeyJSON     json.RawMessage
	DisplayName string
}

// OneTimeKey is a one-time or fallback key: its algorithm, its key ID (the
// part after "algorithm:") and the key as uploaded.
type OneTimeKey struct {
	Algorithm string
	KeyID     string
	KeyJSON   json.RawMessage
}

// DeviceKeys returns a device's identity keys; nil when it has none.
func (s *Storage) DeviceKeys(ctx context.Context, localpart api.Localpart, id api.DeviceID) (json.RawMessage, error) {
	var k string
	err := s.db.QueryRow(ctx, `SELECT key_json FROM userapi_device_keys WHERE localpart = $1 AND device_id = $2`,
		localpart, id).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading device keys: %w", err)
	}
	return json.RawMessage(k), nil
}

// SetDeviceKeys stores (or replaces) a device's identity keys.
func (s *Storage) SetDeviceKeys(ctx context.Context, localpart api.Localpart, id api.DeviceID, keys json.RawMessage) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_device_keys (localpart, device_id, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (localpart, device_id) DO UPDATE SET key_json = EXCLUDED.key_json`, localpart, id, string(keys))
	if err != nil {
		return fmt.Errorf("storage: writing device keys: %w", err)
	}
	return nil
}

// QueryDeviceKeys returns the identity keys of a user's devices that have
// uploaded some; ids nil means every device.
func (s *Storage) QueryDeviceKeys(ctx context.Context, localpart api.Localpart, ids []api.DeviceID) ([]DeviceKeysRow, error) {
	scan := func(sc sqlutil.Scanner) (DeviceKeysRow, error) {
		var r DeviceKeysRow
		var k string
		var name sql.NullString
		err := sc.Scan(&r.DeviceID, &k, &name)
		r.KeyJSON, r.DisplayName = json.RawMessage(k), name.String
		return r, err
	}
	const q = `SELECT k.device_id, k.key_json, d.display_name FROM userapi_device_keys k
		JOIN userapi_devices d ON d.localpart = k.localpart AND d.device_id = k.device_id
		WHERE k.localpart = $1`
	var rows []DeviceKeysRow
	var err error
	if ids == nil {
		rows, err = sqlutil.Select(ctx, s.db, scan, q+` ORDER BY k.device_id`, localpart)
	} else {
		rows, err = sqlutil.Select(ctx, s.db, scan, q+` AND k.device_id = ANY($2) ORDER BY k.device_id`, localpart, sqlutil.List(ids))
	}
	if err != nil {
		return nil, fmt.Errorf("storage: querying device keys: %w", err)
	}
	return rows, nil
}

// OneTimeKeys returns those of a device's unclaimed one-time keys whose
// "algorithm:key_id" is in fullIDs, by that name.
func (s *Storage) OneTimeKeys(
	ctx context.Context, localpart api.Localpart, id api.DeviceID, fullIDs []string,
) (map[string]json.RawMessage, error) {
	type kv struct {
		id  string
		key string
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (kv, error) {
		var r kv
		return r, sc.Scan(&r.id, &r.key)
	}, `SELECT algorithm || ':' || key_id, key_json FROM userapi_one_time_keys
		WHERE localpart = $1 AND device_id = $2 AND algorithm || ':' || key_id = ANY($3)`, localpart, id, sqlutil.List(fullIDs))
	if err != nil {
		return nil, fmt.Errorf("storage: reading one-time keys: %w", err)
	}
	out := make(map[string]json.RawMessage, len(rows))
	for _, r := range rows {
		out[r.id] = json.RawMessage(r.key)
	}
	return out, nil
}

// InsertOneTimeKeys stores one upload's one-time keys, all with the
// device's next upload sequence number; keys already held are left as they
// are.
func (s *Storage) InsertOneTimeKeys(ctx context.Context, localpart api.Localpart, id api.DeviceID, keys []OneTimeKey) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var seq int64
		err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(upload_seq), 0) + 1 FROM userapi_one_time_keys
			WHERE localpart = $1 AND device_id = $2`, localpart, id).Scan(&seq)
		if err != nil {
			return err
		}
		for _, k := range keys {
			_, err := s.db.Exec(ctx, `INSERT INTO userapi_one_time_keys
					(localpart, device_id, algorithm, key_id, key_json, upload_seq)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (localpart, device_id, algorithm, key_id) DO NOTHING`,
				localpart, id, k.Algorithm, k.KeyID, string(k.KeyJSON), seq)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: inserting one-time keys: %w", err)
	}
	return nil
}

// OneTimeKeyCounts counts a device's unclaimed one-time keys by algorithm.
func (s *Storage) OneTimeKeyCounts(ctx context.Context, localpart api.Localpart, id api.DeviceID) (map[string]int, error) {
	type count struct {
		alg string
		n   int
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (count, error) {
		var c count
		return c, sc.Scan(&c.alg, &c.n)
	}, `SELECT algorithm, COUNT(*) FROM userapi_one_time_keys WHERE localpart = $1 AND device_id = $2
		GROUP BY algorithm`, localpart, id)
	if err != nil {
		return nil, fmt.Errorf("storage: counting one-time keys: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, c := range rows {
		out[c.alg] = c.n
	}
	return out, nil
}

// SetFallbackKey makes k the device's fallback key for its algorithm,
// unused. Uploading the key it already has changes nothing, so a used key
// sent again stays used.
func (s *Storage) SetFallbackKey(ctx context.Context, localpart api.Localpart, id api.DeviceID, k OneTimeKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_fallback_keys (localpart, device_id, algorithm, key_id, key_json, used)
		VALUES ($1, $2, $3, $4, $5, FALSE)
		ON CONFLICT (localpart, device_id, algorithm) DO UPDATE SET
			key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json, used = FALSE
		WHERE userapi_fallback_keys.key_id <> EXCLUDED.key_id OR userapi_fallback_keys.key_json <> EXCLUDED.key_json`,
		localpart, id, k.Algorithm, k.KeyID, string(k.KeyJSON))
	if err != nil {
		return fmt.Errorf("storage: writing fallback key: %w", err)
	}
	return nil
}

// UnusedFallbackKeyTypes lists the algorithms for which a device has a
// fallback key not yet handed out.
func (s *Storage) UnusedFallbackKeyTypes(ctx context.Context, localpart api.Localpart, id api.DeviceID) ([]string, error) {
	algs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var a string
		return a, sc.Scan(&a)
	}, `SELECT algorithm FROM userapi_fallback_keys WHERE localpart = $1 AND device_id = $2 AND NOT used
		ORDER BY algorithm`, localpart, id)
	if err != nil {
		return nil, fmt.Errorf("storage: reading fallback keys: %w", err)
	}
	return algs, nil
}

// ClaimKey hands out one key of a device for an algorithm: its oldest
// one-time key, deleted so no one else gets it, or when none is left its
// fallback key, marked used and kept. ok is false when the device has
// neither. In a transaction of ctx's when it carries one.
//
// Two claimers may pick the same oldest key: on PostgreSQL the second
// DELETE waits for the first to commit and then finds the row gone, so it
// tries the next key; on SQLite the single writer runs them one after
// another. A key is never handed out twice.
func (s *Storage) ClaimKey(ctx context.Context, localpart api.Localpart, id api.DeviceID, algorithm string) (OneTimeKey, bool, error) {
	var k OneTimeKey
	var ok bool
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		k, ok, err = s.claimKey(ctx, localpart, id, algorithm)
		return err
	})
	return k, ok, err
}

func (s *Storage) claimKey(ctx context.Context, localpart api.Localpart, id api.DeviceID, algorithm string) (OneTimeKey, bool, error) {
	k := OneTimeKey{Algorithm: algorithm}
	for {
		var key string
		err := s.db.QueryRow(ctx, `DELETE FROM userapi_one_time_keys
			WHERE localpart = $1 AND device_id = $2 AND algorithm = $3 AND key_id = (
				SELECT key_id FROM userapi_one_time_keys WHERE localpart = $1 AND device_id = $2 AND algorithm = $3
				ORDER BY upload_seq, key_id LIMIT 1)
			RETURNING key_id, key_json`, localpart, id, algorithm).Scan(&k.KeyID, &key)
		if err == nil {
			k.KeyJSON = json.RawMessage(key)
			return k, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return k, false, fmt.Errorf("storage: claiming one-time key: %w", err)
		}
		var left int
		err = s.db.QueryRow(ctx, `SELECT COUNT(*) FROM userapi_one_time_keys
			WHERE localpart = $1 AND device_id = $2 AND algorithm = $3`, localpart, id, algorithm).Scan(&left)
		if err != nil {
			return k, false, fmt.Errorf("storage: claiming one-time key: %w", err)
		}
		if left == 0 {
			return s.useFallbackKey(ctx, localpart, id, algorithm)
		}
	}
}

func (s *Storage) useFallbackKey(
	ctx context.Context, localpart api.Localpart, id api.DeviceID, algorithm string,
) (OneTimeKey, bool, error) {
	k := OneTimeKey{Algorithm: algorithm}
	var key string
	err := s.db.QueryRow(ctx, `UPDATE userapi_fallback_keys SET used = TRUE
		WHERE localpart = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json`,
		localpart, id, algorithm).Scan(&k.KeyID, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("storage: claiming fallback key: %w", err)
	}
	k.KeyJSON = json.RawMessage(key)
	return k, true, nil
}

// AppendDeviceListChange records that a user's device list changed and
// returns the change's position. ctx should carry the transaction of the
// change itself: the counter's row stays locked until it commits.
func (s *Storage) AppendDeviceListChange(ctx context.Context, userID string) (int64, error) {
	var pos int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		err := s.db.QueryRow(ctx, `UPDATE userapi_device_list_counter SET pos = pos + 1 WHERE id = 0 RETURNING pos`).Scan(&pos)
		if err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `INSERT INTO userapi_device_list_changes (pos, user_id) VALUES ($1, $2)`, pos, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: recording device list change: %w", err)
	}
	return pos, nil
}

// DeviceListChanges returns the users whose device lists changed at a
// position in (from, to] (to < 0: up to the latest), each once, and the
// latest position.
func (s *Storage) DeviceListChanges(ctx context.Context, from, to int64) ([]string, int64, error) {
	var latest int64
	if err := s.db.QueryRow(ctx, `SELECT pos FROM userapi_device_list_counter WHERE id = 0`).Scan(&latest); err != nil {
		return nil, 0, fmt.Errorf("storage: reading device list position: %w", err)
	}
	if to < 0 || to > latest {
		to = latest
	}
	users, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
		var u string
		return u, sc.Scan(&u)
	}, `SELECT DISTINCT user_id FROM userapi_device_list_changes WHERE pos > $1 AND pos <= $2 ORDER BY user_id`, from, to)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: reading device list changes: %w", err)
	}
	return users, latest, nil
}
