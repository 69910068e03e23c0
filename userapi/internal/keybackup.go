package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Server-side key backups (spec: "Server-side key backups"). A backup's
// auth_data and its keys' session_data are encrypted for or by the client;
// the server keeps them as sent (compacted) and reads only the metadata
// that decides which key of a session to keep.
//
// Writers of a version's keys lock the version's row first (see
// storage.LockKeyBackup): the replacement rule reads a session's key before
// writing it, and the etag must count every change.

var _ api.KeyBackup = (*UserAPI)(nil)

// parseBackupVersion reads a version string as this server writes them: a
// positive decimal number without leading zeros. Anything else names no
// version.
func parseBackupVersion(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != v {
		return 0, false
	}
	return n, true
}

func formatBackupVersion(n int64) string { return strconv.FormatInt(n, 10) }

// compactJSON compacts a JSON value the handler has already checked.
func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("userapi: compacting JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// CreateBackup implements api.KeyBackup. Any algorithm name is taken: the
// spec lists one, but the server never uses it, clients may try newer ones,
// and Complement names "m.megolm_backup.v1".
func (u *UserAPI) CreateBackup(ctx context.Context, localpart api.Localpart, algorithm string, authData json.RawMessage) (string, error) {
	authData, err := compactJSON(authData)
	if err != nil {
		return "", err
	}
	v, err := u.store.InsertKeyBackup(ctx, localpart, algorithm, authData)
	if err != nil {
		return "", err
	}
	return formatBackupVersion(v), nil
}

// liveBackup returns a version that exists and is not deleted:
// ErrUnknownBackup otherwise.
func (u *UserAPI) liveBackup(ctx context.Context, localpart api.Localpart, version string) (*storage.KeyBackupRow, error) {
	n, ok := parseBackupVersion(version)
	if !ok {
		return nil, api.ErrUnknownBackup
	}
	row, err := u.store.KeyBackup(ctx, localpart, n)
	if err != nil {
		return nil, err
	}
	if row == nil || row.Deleted {
		return nil, api.ErrUnknownBackup
	}
	return row, nil
}

// Backup implements api.KeyBackup.
func (u *UserAPI) Backup(ctx context.Context, localpart api.Localpart, version string) (*api.BackupVersion, error) {
	var row *storage.KeyBackupRow
	var err error
	if version == "" {
		if row, err = u.store.KeyBackup(ctx, localpart, 0); err == nil && row == nil {
			err = api.ErrNoBackup
		}
	} else {
		row, err = u.liveBackup(ctx, localpart, version)
	}
	if err != nil {
		return nil, err
	}
	return &api.BackupVersion{
		Version:   formatBackupVersion(row.Version),
		Algorithm: row.Algorithm,
		AuthData:  row.AuthData,
		Count:     row.Count,
		ETag:      formatETag(row.ETag),
	}, nil
}

// formatETag writes a version's change counter as its etag: versions are
// never reused, so (version, etag) never repeats.
func formatETag(n int64) string { return strconv.FormatInt(n, 10) }

// UpdateBackup implements api.KeyBackup (spec: PUT
// /room_keys/version/{version}: only auth_data can be modified, the
// algorithm must be the backup's).
func (u *UserAPI) UpdateBackup(
	ctx context.Context, localpart api.Localpart, version, algorithm string, authData json.RawMessage,
) error {
	authData, err := compactJSON(authData)
	if err != nil {
		return err
	}
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		row, err := u.liveBackup(ctx, localpart, version)
		if err != nil {
			return err
		}
		if row.Algorithm != algorithm {
			return api.ErrBackupAlgorithm
		}
		ok, err := u.store.SetKeyBackupAuthData(ctx, localpart, row.Version, authData)
		if err == nil && !ok {
			err = api.ErrUnknownBackup // deleted meanwhile
		}
		return err
	})
}

// DeleteBackup implements api.KeyBackup (spec: DELETE
// /room_keys/version/{version}: a version deleted before is deleted again
// without error).
func (u *UserAPI) DeleteBackup(ctx context.Context, localpart api.Localpart, version string) error {
	n, ok := parseBackupVersion(version)
	if !ok {
		return api.ErrUnknownBackup
	}
	found, err := u.store.DeleteKeyBackup(ctx, localpart, n)
	if err == nil && !found {
		err = api.ErrUnknownBackup
	}
	return err
}

// PutBackupKeys implements api.KeyBackup (spec: PUT /room_keys/keys: keys
// can only be written to the current version, 403
// M_WRONG_ROOM_KEYS_VERSION with current_version otherwise).
func (u *UserAPI) PutBackupKeys(
	ctx context.Context, localpart api.Localpart, version string, keys api.BackupKeys,
) (api.BackupState, error) {
	var state api.BackupState
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		current, err := u.store.KeyBackup(ctx, localpart, 0)
		if err != nil {
			return err
		}
		if current == nil {
			return api.ErrNoBackup
		}
		if formatBackupVersion(current.Version) != version {
			return &api.WrongBackupVersionError{Current: formatBackupVersion(current.Version)}
		}
		if ok, err := u.store.LockKeyBackup(ctx, localpart, current.Version); err != nil || !ok {
			return orErr(err, api.ErrNoBackup) // deleted meanwhile
		}
		changed, err := u.putBackupKeys(ctx, localpart, current.Version, keys)
		if err != nil {
			return err
		}
		state, err = u.backupChanged(ctx, localpart, current.Version, changed)
		return err
	})
	return state, err
}

// orErr is err, or otherwise when err is nil.
func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// putBackupKeys writes each key that replaces the session's stored one,
// rooms and sessions in a fixed order; it returns how many it wrote.
func (u *UserAPI) putBackupKeys(ctx context.Context, localpart api.Localpart, version int64, keys api.BackupKeys) (int, error) {
	changed := 0
	for _, roomID := range sortedKeys(keys) {
		for _, sessionID := range sortedKeys(keys[roomID]) {
			k := keys[roomID][sessionID]
			old, err := u.store.BackupKeys(ctx, localpart, version, roomID, sessionID)
			if err != nil {
				return 0, err
			}
			if len(old) > 0 && !replacesBackupKey(k, old[0].Key) {
				continue
			}
			if k.SessionData, err = compactJSON(k.SessionData); err != nil {
				return 0, err
			}
			if err := u.store.PutBackupKey(ctx, localpart, version, roomID, sessionID, k); err != nil {
				return 0, err
			}
			changed++
		}
	}
	return changed, nil
}

// replacesBackupKey reports whether a key uploaded for a session replaces
// the one the backup holds (spec: "Server-side key backups"): the verified
// one is kept; between equally verified keys the one with the lower
// first_message_index; then the one with the lower forwarded_count. A key
// equal on all three keeps the stored one.
func replacesBackupKey(uploaded, stored api.BackupKey) bool {
	if uploaded.IsVerified != stored.IsVerified {
		return uploaded.IsVerified
	}
	if uploaded.FirstMessageIndex != stored.FirstMessageIndex {
		return uploaded.FirstMessageIndex < stored.FirstMessageIndex
	}
	return uploaded.ForwardedCount < stored.ForwardedCount
}

// backupChanged moves a version's etag on when changed keys were written
// or deleted and returns the version's count and etag.
func (u *UserAPI) backupChanged(ctx context.Context, localpart api.Localpart, version int64, changed int) (api.BackupState, error) {
	if changed > 0 {
		if err := u.store.BumpKeyBackupETag(ctx, localpart, version); err != nil {
			return api.BackupState{}, err
		}
	}
	row, err := u.store.KeyBackup(ctx, localpart, version)
	if err != nil {
		return api.BackupState{}, err
	}
	if row == nil {
		return api.BackupState{}, api.ErrUnknownBackup
	}
	return api.BackupState{Count: row.Count, ETag: formatETag(row.ETag)}, nil
}

// BackupKeys implements api.KeyBackup (spec: GET /room_keys/keys and its
// variants; a room without keys is no error, a session without one is).
func (u *UserAPI) BackupKeys(ctx context.Context, localpart api.Localpart, version, roomID, sessionID string) (api.BackupKeys, error) {
	row, err := u.liveBackup(ctx, localpart, version)
	if err != nil {
		return nil, err
	}
	rows, err := u.store.BackupKeys(ctx, localpart, row.Version, roomID, sessionID)
	if err != nil {
		return nil, err
	}
	if sessionID != "" && len(rows) == 0 {
		return nil, api.ErrBackupKeyNotFound
	}
	out := api.BackupKeys{}
	for _, r := range rows {
		if out[r.RoomID] == nil {
			out[r.RoomID] = map[string]api.BackupKey{}
		}
		out[r.RoomID][r.SessionID] = r.Key
	}
	return out, nil
}

// DeleteBackupKeys implements api.KeyBackup. Keys may be deleted from any
// version not deleted, not only the current one (the spec restricts
// writes only).
func (u *UserAPI) DeleteBackupKeys(
	ctx context.Context, localpart api.Localpart, version, roomID, sessionID string,
) (api.BackupState, error) {
	n, ok := parseBackupVersion(version)
	if !ok {
		return api.BackupState{}, api.ErrUnknownBackup
	}
	var state api.BackupState
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		if ok, err := u.store.LockKeyBackup(ctx, localpart, n); err != nil || !ok {
			return orErr(err, api.ErrUnknownBackup)
		}
		deleted, err := u.store.DeleteBackupKeys(ctx, localpart, n, roomID, sessionID)
		if err != nil {
			return err
		}
		state, err = u.backupChanged(ctx, localpart, n, int(deleted))
		return err
	})
	return state, err
}
