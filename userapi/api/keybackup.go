package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// BackupVersion is one of a user's key backups as GET
// /room_keys/version/{version} describes it (spec: "Server-side key
// backups").
type BackupVersion struct {
	// Version is the backup's opaque version string (a decimal number here).
	Version   string
	Algorithm string
	// AuthData is the algorithm's public data (the backup's public key and
	// its signatures), kept as sent.
	AuthData json.RawMessage
	// Count is the number of keys in the backup and ETag the opaque string
	// that changes whenever they do.
	Count int64
	ETag  string
}

// BackupKey is one session's key in a backup (spec: KeyBackupData); the
// server reads the metadata and keeps SessionData as sent.
type BackupKey struct {
	FirstMessageIndex int64           `json:"first_message_index"`
	ForwardedCount    int64           `json:"forwarded_count"`
	IsVerified        bool            `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// BackupKeys are a backup's keys by room ID, then session ID.
type BackupKeys map[string]map[string]BackupKey

// BackupState is what a write or deletion of keys leaves: the backup's key
// count and etag (spec: RoomKeysUpdateResponse).
type BackupState struct {
	Count int64
	ETag  string
}

// Errors of the key backup API, with the answers the spec's key_backup
// endpoints give.
var (
	// ErrNoBackup is GET /room_keys/version, or a key write, when the user
	// has no backup that is not deleted.
	ErrNoBackup = coded.New("No current backup version", http.StatusNotFound, "M_NOT_FOUND")
	// ErrUnknownBackup is a version that does not exist or was deleted.
	ErrUnknownBackup = coded.New("Unknown backup version", http.StatusNotFound, "M_NOT_FOUND")
	// ErrBackupKeyNotFound is a session the backup holds no key for.
	ErrBackupKeyNotFound = coded.New("Key not found", http.StatusNotFound, "M_NOT_FOUND")
	// ErrBackupAlgorithm is PUT /room_keys/version/{version} naming another
	// algorithm than the backup's.
	ErrBackupAlgorithm = coded.New("Algorithm does not match", http.StatusBadRequest, "M_INVALID_PARAM")
	// ErrWrongBackupVersion is what errors.Is finds in a
	// *WrongBackupVersionError.
	ErrWrongBackupVersion = coded.New("Wrong backup version", http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION")
)

// WrongBackupVersionError is a key write to a version that is not the
// current one (spec: PUT /room_keys/keys, 403): the answer names the
// current version.
type WrongBackupVersionError struct {
	Current string
}

func (e *WrongBackupVersionError) Error() string { return ErrWrongBackupVersion.Error() }

// Is makes errors.Is(err, ErrWrongBackupVersion) true.
func (e *WrongBackupVersionError) Is(target error) bool { return target == ErrWrongBackupVersion }

// MatrixCode is 403 M_WRONG_ROOM_KEYS_VERSION.
func (e *WrongBackupVersionError) MatrixCode() (status int, errcode string) {
	return ErrWrongBackupVersion.MatrixCode()
}

// MatrixExtra is the error body's current_version.
func (e *WrongBackupVersionError) MatrixExtra() map[string]any {
	return map[string]any{"current_version": e.Current}
}

// KeyBackup is the server-side key backup surface (spec: "Server-side key
// backups"): a user's backup versions and the room keys in them. Versions
// are per user; only the current one (the latest not deleted) takes new
// keys, every version not deleted can be read.
type KeyBackup interface {
	// CreateBackup starts a new backup version, which becomes the current
	// one, and returns its version.
	CreateBackup(ctx context.Context, localpart Localpart, algorithm string, authData json.RawMessage) (string, error)
	// Backup describes a version, or the current one when version is "":
	// ErrUnknownBackup, or ErrNoBackup for "", when there is none.
	Backup(ctx context.Context, localpart Localpart, version string) (*BackupVersion, error)
	// UpdateBackup replaces a version's auth_data; algorithm must be the
	// version's (ErrBackupAlgorithm).
	UpdateBackup(ctx context.Context, localpart Localpart, version, algorithm string, authData json.RawMessage) error
	// DeleteBackup deletes a version and its keys. Deleting a deleted
	// version succeeds; one that never existed is ErrUnknownBackup.
	DeleteBackup(ctx context.Context, localpart Localpart, version string) error
	// PutBackupKeys stores keys in the current version, each unless the
	// backup holds a better key for its session (spec's replacement
	// rules). ErrNoBackup without a current version, a
	// *WrongBackupVersionError when version is another.
	PutBackupKeys(ctx context.Context, localpart Localpart, version string, keys BackupKeys) (BackupState, error)
	// BackupKeys returns a version's keys: all (roomID ""), a room's
	// (sessionID "") or one session's, which is ErrBackupKeyNotFound when
	// absent.
	BackupKeys(ctx context.Context, localpart Localpart, version, roomID, sessionID string) (BackupKeys, error)
	// DeleteBackupKeys deletes a version's keys: all, a room's or one
	// session's, as BackupKeys selects them.
	DeleteBackupKeys(ctx context.Context, localpart Localpart, version, roomID, sessionID string) (BackupState, error)
}
