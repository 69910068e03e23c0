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

// KeyBackupRow is a backup version as stored, with the number of keys in
// it.
type KeyBackupRow struct {
	Version   int64
	Algorithm string
	AuthData  json.RawMessage
	ETag      int64
	Deleted   bool
	Count     int64
}

// BackupKeyRow is one room key of a backup.
type BackupKeyRow struct {
	RoomID    string
	SessionID string
	Key       api.BackupKey
}

// maxBackupInsertTries bounds InsertKeyBackup's retries; each one means
// another backup of the same user was created at that moment.
const maxBackupInsertTries = 10

// InsertKeyBackup creates a user's next backup version (the highest so far,
// deleted ones included, plus one) and returns its number.
//
// On PostgreSQL two concurrent creations may pick the same number: the
// second INSERT waits for the first to commit, then inserts nothing, and
// the next try takes the following number. On SQLite the single writer runs
// them one after another.
func (s *Storage) InsertKeyBackup(ctx context.Context, localpart api.Localpart, algorithm string, authData json.RawMessage) (int64, error) {
	for range maxBackupInsertTries {
		var version int64
		err := s.db.QueryRowWrite(ctx, `INSERT INTO userapi_key_backup_versions (localpart, version, algorithm, auth_data)
			SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3 FROM userapi_key_backup_versions WHERE localpart = $1
			ON CONFLICT (localpart, version) DO NOTHING RETURNING version`,
			localpart, algorithm, string(authData)).Scan(&version)
		if err == nil {
			return version, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("storage: creating key backup: %w", err)
		}
	}
	return 0, fmt.Errorf("storage: creating key backup: %d concurrent creations", maxBackupInsertTries)
}

const keyBackupColumns = `SELECT v.version, v.algorithm, v.auth_data, v.etag, v.deleted,
		(SELECT COUNT(*) FROM userapi_key_backup_keys k WHERE k.localpart = v.localpart AND k.version = v.version)
	FROM userapi_key_backup_versions v`

// KeyBackup returns a backup version, deleted or not, or with version 0
// the current one: the highest not deleted. nil when there is none.
func (s *Storage) KeyBackup(ctx context.Context, localpart api.Localpart, version int64) (*KeyBackupRow, error) {
	var row *sql.Row
	if version == 0 {
		row = s.db.QueryRow(ctx, keyBackupColumns+` WHERE v.localpart = $1 AND NOT v.deleted ORDER BY v.version DESC LIMIT 1`,
			localpart)
	} else {
		row = s.db.QueryRow(ctx, keyBackupColumns+` WHERE v.localpart = $1 AND v.version = $2`, localpart, version)
	}
	var b KeyBackupRow
	var authData string
	err := row.Scan(&b.Version, &b.Algorithm, &authData, &b.ETag, &b.Deleted, &b.Count)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading key backup: %w", err)
	}
	b.AuthData = json.RawMessage(authData)
	return &b, nil
}

// SetKeyBackupAuthData replaces a backup version's auth_data; false when
// the version does not exist or is deleted.
func (s *Storage) SetKeyBackupAuthData(
	ctx context.Context, localpart api.Localpart, version int64, authData json.RawMessage,
) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE userapi_key_backup_versions SET auth_data = $3
		WHERE localpart = $1 AND version = $2 AND NOT deleted`, localpart, version, string(authData))
	if err != nil {
		return false, fmt.Errorf("storage: updating key backup: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteKeyBackup marks a backup version deleted and deletes its keys;
// false when the version never existed. Deleting a deleted version again
// finds it.
func (s *Storage) DeleteKeyBackup(ctx context.Context, localpart api.Localpart, version int64) (bool, error) {
	var found bool
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		// The version's row first, as every writer of its keys locks it.
		res, err := s.db.Exec(ctx, `UPDATE userapi_key_backup_versions SET deleted = TRUE
			WHERE localpart = $1 AND version = $2`, localpart, version)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if found = n > 0; err != nil || !found {
			return err
		}
		_, err = s.db.Exec(ctx, `DELETE FROM userapi_key_backup_keys WHERE localpart = $1 AND version = $2`, localpart, version)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("storage: deleting key backup: %w", err)
	}
	return found, nil
}

// LockKeyBackup locks a backup version's row until the transaction in ctx
// ends, so that its keys are written (and its etag counted) one writer at
// a time and a deletion waits for them; false when the version does not
// exist or is deleted. On SQLite the single writer does the same.
func (s *Storage) LockKeyBackup(ctx context.Context, localpart api.Localpart, version int64) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE userapi_key_backup_versions SET etag = etag
		WHERE localpart = $1 AND version = $2 AND NOT deleted`, localpart, version)
	if err != nil {
		return false, fmt.Errorf("storage: locking key backup: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// BumpKeyBackupETag records that a backup version's keys changed.
func (s *Storage) BumpKeyBackupETag(ctx context.Context, localpart api.Localpart, version int64) error {
	_, err := s.db.Exec(ctx, `UPDATE userapi_key_backup_versions SET etag = etag + 1
		WHERE localpart = $1 AND version = $2`, localpart, version)
	if err != nil {
		return fmt.Errorf("storage: updating key backup etag: %w", err)
	}
	return nil
}

// BackupKeys returns a backup version's keys: all of them (roomID ""), a
// room's (sessionID "") or one session's, by room and session.
func (s *Storage) BackupKeys(
	ctx context.Context, localpart api.Localpart, version int64, roomID, sessionID string,
) ([]BackupKeyRow, error) {
	rows, err := sqlutil.Select(ctx, s.db, scanBackupKey, `SELECT room_id, session_id, first_message_index, forwarded_count,
			is_verified, session_data
		FROM userapi_key_backup_keys WHERE localpart = $1 AND version = $2 AND `+backupKeysWhere+`
		ORDER BY room_id, session_id`, localpart, version, roomID, sessionID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading backup keys: %w", err)
	}
	return rows, nil
}

// backupKeysWhere narrows a query to a room ($3 not empty) and to a
// session ($4 not empty).
const backupKeysWhere = `(CAST($3 AS TEXT) = '' OR room_id = $3) AND (CAST($4 AS TEXT) = '' OR session_id = $4)`

func scanBackupKey(sc sqlutil.Scanner) (BackupKeyRow, error) {
	var r BackupKeyRow
	var data string
	err := sc.Scan(&r.RoomID, &r.SessionID, &r.Key.FirstMessageIndex, &r.Key.ForwardedCount, &r.Key.IsVerified, &data)
	r.Key.SessionData = json.RawMessage(data)
	return r, err
}

// PutBackupKey stores (or replaces) a session's key in a backup version.
func (s *Storage) PutBackupKey(
	ctx context.Context, localpart api.Localpart, version int64, roomID, sessionID string, k api.BackupKey,
) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_key_backup_keys
			(localpart, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (localpart, version, room_id, session_id) DO UPDATE SET
			first_message_index = EXCLUDED.first_message_index, forwarded_count = EXCLUDED.forwarded_count,
			is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data`,
		localpart, version, roomID, sessionID, k.FirstMessageIndex, k.ForwardedCount, k.IsVerified, string(k.SessionData))
	if err != nil {
		return fmt.Errorf("storage: writing backup key: %w", err)
	}
	return nil
}

// DeleteBackupKeys deletes a backup version's keys, selected as BackupKeys
// selects them, and returns how many it deleted.
func (s *Storage) DeleteBackupKeys(ctx context.Context, localpart api.Localpart, version int64, roomID, sessionID string) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM userapi_key_backup_keys WHERE localpart = $1 AND version = $2 AND `+backupKeysWhere,
		localpart, version, roomID, sessionID)
	if err != nil {
		return 0, fmt.Errorf("storage: deleting backup keys: %w", err)
	}
	return res.RowsAffected()
}
