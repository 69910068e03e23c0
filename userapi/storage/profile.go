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

// ProfileFields returns every profile field of a user.
func (s *Storage) ProfileFields(ctx context.Context, localpart api.Localpart) (map[string]json.RawMessage, error) {
	type kv struct {
		k string
		v string
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (kv, error) {
		var r kv
		return r, sc.Scan(&r.k, &r.v)
	}, `SELECT field, value FROM userapi_profile_fields WHERE localpart = $1`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: reading profile: %w", err)
	}
	out := make(map[string]json.RawMessage, len(rows))
	for _, r := range rows {
		out[r.k] = json.RawMessage(r.v)
	}
	return out, nil
}

// SetProfileField stores one field, after checking with check (inside the
// same transaction) that the profile with the new value stays within limits.
func (s *Storage) SetProfileField(
	ctx context.Context, localpart api.Localpart, key string, value json.RawMessage, check func(map[string]json.RawMessage) error,
) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		fields, err := s.ProfileFields(ctx, localpart)
		if err != nil {
			return err
		}
		fields[key] = value
		if err := check(fields); err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `INSERT INTO userapi_profile_fields (localpart, field, value) VALUES ($1, $2, $3)
			ON CONFLICT (localpart, field) DO UPDATE SET value = EXCLUDED.value`, localpart, key, string(value))
		if err != nil {
			return fmt.Errorf("storage: writing profile field: %w", err)
		}
		return nil
	})
}

// DeleteProfileField removes one field (absent is not an error).
func (s *Storage) DeleteProfileField(ctx context.Context, localpart api.Localpart, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_profile_fields WHERE localpart = $1 AND field = $2`, localpart, key)
	if err != nil {
		return fmt.Errorf("storage: deleting profile field: %w", err)
	}
	return nil
}

// DeleteProfile removes every profile field of a user.
func (s *Storage) DeleteProfile(ctx context.Context, localpart api.Localpart) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_profile_fields WHERE localpart = $1`, localpart)
	return err
}

// AccountData returns one account-data object; api.ErrNotFound if absent.
func (s *Storage) AccountData(ctx context.Context, localpart api.Localpart, roomID, dataType string) (json.RawMessage, error) {
	var content string
	err := s.db.QueryRow(ctx, `SELECT content FROM userapi_account_data WHERE localpart = $1 AND room_id = $2 AND data_type = $3`,
		localpart, roomID, dataType).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading account data: %w", err)
	}
	return json.RawMessage(content), nil
}

// SetAccountData stores one account-data object with the next stream
// position of that user, and returns the position.
func (s *Storage) SetAccountData(
	ctx context.Context, localpart api.Localpart, roomID, dataType string, content json.RawMessage,
) (int64, error) {
	var pos int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		row := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) + 1 FROM userapi_account_data WHERE localpart = $1`, localpart)
		if err := row.Scan(&pos); err != nil {
			return err
		}
		_, err := s.db.Exec(ctx, `INSERT INTO userapi_account_data (localpart, room_id, data_type, content, stream_pos)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (localpart, room_id, data_type) DO UPDATE SET content = EXCLUDED.content, stream_pos = EXCLUDED.stream_pos`,
			localpart, roomID, dataType, string(content), pos)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: writing account data: %w", err)
	}
	return pos, nil
}

// DeleteAccountData removes all of a user's account data.
func (s *Storage) DeleteAccountData(ctx context.Context, localpart api.Localpart) error {
	_, err := s.db.Exec(ctx, `DELETE FROM userapi_account_data WHERE localpart = $1`, localpart)
	return err
}

// InsertRegistrationToken creates a registration token.
func (s *Storage) InsertRegistrationToken(ctx context.Context, token string, usesAllowed *int64, expiryTS *int64, nowMs int64) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_registration_tokens (token, uses_allowed, completed, expiry_ts, created_ts)
		VALUES ($1, $2, 0, $3, $4)`,
		token, usesAllowed, expiryTS, nowMs)
	if err != nil {
		return fmt.Errorf("storage: inserting registration token: %w", err)
	}
	return nil
}

// RegistrationTokenValid reports whether a token exists, has uses left and
// has not expired.
func (s *Storage) RegistrationTokenValid(ctx context.Context, token string, nowMs int64) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM userapi_registration_tokens WHERE token = $1
		AND (uses_allowed IS NULL OR completed < uses_allowed) AND (expiry_ts IS NULL OR expiry_ts > $2)`, token, nowMs).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("storage: checking registration token: %w", err)
	}
	return n > 0, nil
}

// UseRegistrationToken counts one completed registration against a token,
// failing with api.ErrBadRegToken when it is no longer valid.
func (s *Storage) UseRegistrationToken(ctx context.Context, token string, nowMs int64) error {
	res, err := s.db.Exec(ctx, `UPDATE userapi_registration_tokens SET completed = completed + 1 WHERE token = $1
		AND (uses_allowed IS NULL OR completed < uses_allowed) AND (expiry_ts IS NULL OR expiry_ts > $2)`, token, nowMs)
	if err != nil {
		return fmt.Errorf("storage: using registration token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrBadRegToken
	}
	return nil
}

// AccountDataSince returns a user's account data changed after position
// since, oldest first, and the user's latest position.
func (s *Storage) AccountDataSince(ctx context.Context, localpart api.Localpart, since int64) ([]api.AccountDataEntry, int64, error) {
	entries, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (api.AccountDataEntry, error) {
		var e api.AccountDataEntry
		var content string
		err := sc.Scan(&e.RoomID, &e.Type, &content, &e.Pos)
		e.Content = json.RawMessage(content)
		return e, err
	}, `SELECT room_id, data_type, content, stream_pos FROM userapi_account_data
		WHERE localpart = $1 AND stream_pos > $2 ORDER BY stream_pos`, localpart, since)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: reading account data: %w", err)
	}
	var max int64
	row := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(stream_pos), 0) FROM userapi_account_data WHERE localpart = $1`, localpart)
	if err := row.Scan(&max); err != nil {
		return nil, 0, err
	}
	return entries, max, nil
}
