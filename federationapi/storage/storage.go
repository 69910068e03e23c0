// Package storage keeps the federation component's data: other servers'
// signing keys and this server's key history.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when nothing is stored.
var ErrNotFound = errors.New("federationapi storage: not found")

// Storage is the federation component's database.
type Storage struct {
	db *sqlutil.DB
}

// New migrates the schema and returns the storage.
func New(ctx context.Context, db *sqlutil.DB) (*Storage, error) {
	if err := sqlutil.MigrateDir(ctx, db, "federationapi", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Storage{db: db}, nil
}

// ServerKey is one verify key of a server.
type ServerKey struct {
	ServerName   string
	KeyID        string
	PublicKey    string // unpadded base64
	ValidUntilTS int64
	ExpiredTS    int64 // 0: current
}

// ServerKeys returns the stored keys of serverName with the given IDs (all
// of its keys when ids is empty).
func (s *Storage) ServerKeys(ctx context.Context, serverName string, ids []string) ([]ServerKey, error) {
	query := `SELECT server_name, key_id, public_key, valid_until_ts, expired_ts FROM federation_server_keys WHERE server_name = $1`
	args := []any{serverName}
	if len(ids) > 0 {
		query += ` AND key_id = ANY($2)`
		args = append(args, sqlutil.List(ids))
	}
	keys, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (ServerKey, error) {
		var k ServerKey
		return k, sc.Scan(&k.ServerName, &k.KeyID, &k.PublicKey, &k.ValidUntilTS, &k.ExpiredTS)
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("federationapi storage: reading keys of %s: %w", serverName, err)
	}
	return keys, nil
}

// StoreServerKeys records keys; a key already stored takes the later
// validity and keeps an expiry once it has one.
func (s *Storage) StoreServerKeys(ctx context.Context, keys []ServerKey) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		for _, k := range keys {
			if _, err := s.db.Exec(ctx, `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key,
					valid_until_ts = CASE WHEN excluded.valid_until_ts > federation_server_keys.valid_until_ts
						THEN excluded.valid_until_ts ELSE federation_server_keys.valid_until_ts END,
					expired_ts = CASE WHEN federation_server_keys.expired_ts > 0
						THEN federation_server_keys.expired_ts ELSE excluded.expired_ts END`,
				k.ServerName, k.KeyID, k.PublicKey, k.ValidUntilTS, k.ExpiredTS); err != nil {
				return fmt.Errorf("federationapi storage: storing a key of %s: %w", k.ServerName, err)
			}
		}
		return nil
	})
}

// StoreKeyResponse keeps a server's signed key answer for notary use, unless
// a newer one is stored.
func (s *Storage) StoreKeyResponse(ctx context.Context, serverName string, response []byte, validUntilTS int64) error {
	_, err := s.db.Exec(ctx, `INSERT INTO federation_key_responses (server_name, response, valid_until_ts) VALUES ($1, $2, $3)
		ON CONFLICT (server_name) DO UPDATE SET response = excluded.response, valid_until_ts = excluded.valid_until_ts
		WHERE excluded.valid_until_ts >= federation_key_responses.valid_until_ts`, serverName, string(response), validUntilTS)
	if err != nil {
		return fmt.Errorf("federationapi storage: storing the key answer of %s: %w", serverName, err)
	}
	return nil
}

// KeyResponse returns a server's stored signed key answer.
func (s *Storage) KeyResponse(ctx context.Context, serverName string) ([]byte, int64, error) {
	var resp string
	var until int64
	err := s.db.QueryRow(ctx, `SELECT response, valid_until_ts FROM federation_key_responses WHERE server_name = $1`, serverName).
		Scan(&resp, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("federationapi storage: reading the key answer of %s: %w", serverName, err)
	}
	return []byte(resp), until, nil
}

// OwnKey is one of this server's signing keys.
type OwnKey struct {
	KeyID     string
	PublicKey string
	ExpiredTS int64
}

// RecordOwnKey makes keyID the current key: it is stored if new, and every
// other key without an expiry expires at nowMs. It returns all the keys.
func (s *Storage) RecordOwnKey(ctx context.Context, keyID, publicKey string, nowMs int64) ([]OwnKey, error) {
	var keys []OwnKey
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `INSERT INTO federation_own_keys (key_id, public_key, expired_ts) VALUES ($1, $2, 0)
			ON CONFLICT (key_id) DO UPDATE SET expired_ts = 0`, keyID, publicKey); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `UPDATE federation_own_keys SET expired_ts = $2 WHERE key_id <> $1 AND expired_ts = 0`,
			keyID, nowMs); err != nil {
			return err
		}
		var err error
		keys, err = sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (OwnKey, error) {
			var k OwnKey
			return k, sc.Scan(&k.KeyID, &k.PublicKey, &k.ExpiredTS)
		}, `SELECT key_id, public_key, expired_ts FROM federation_own_keys ORDER BY key_id`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("federationapi storage: recording this server's key: %w", err)
	}
	return keys, nil
}

// RecordInvite remembers the server an invite came through.
func (s *Storage) RecordInvite(ctx context.Context, roomID, userID, via, eventID, roomVersion, inviter string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO federation_invites (room_id, user_id, via, event_id, room_version, inviter)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (room_id, user_id) DO UPDATE SET via = excluded.via, event_id = excluded.event_id,
			room_version = excluded.room_version, inviter = excluded.inviter`,
		roomID, userID, via, eventID, roomVersion, inviter)
	if err != nil {
		return fmt.Errorf("federationapi storage: recording an invite: %w", err)
	}
	return nil
}

// Invite is a recorded invite of a local user from another server.
type Invite struct {
	Via, EventID, RoomVersion, Inviter string
}

// InviteOf returns a user's recorded invite to a room (ErrNotFound if none).
func (s *Storage) InviteOf(ctx context.Context, roomID, userID string) (Invite, error) {
	var inv Invite
	err := s.db.QueryRow(ctx, `SELECT via, event_id, room_version, inviter FROM federation_invites WHERE room_id = $1 AND user_id = $2`,
		roomID, userID).Scan(&inv.Via, &inv.EventID, &inv.RoomVersion, &inv.Inviter)
	if errors.Is(err, sql.ErrNoRows) {
		return Invite{}, ErrNotFound
	}
	if err != nil {
		return Invite{}, fmt.Errorf("federationapi storage: reading an invite: %w", err)
	}
	return inv, nil
}

// ForgetInvite drops a user's recorded invite to a room.
func (s *Storage) ForgetInvite(ctx context.Context, roomID, userID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM federation_invites WHERE room_id = $1 AND user_id = $2`, roomID, userID); err != nil {
		return fmt.Errorf("federationapi storage: forgetting an invite: %w", err)
	}
	return nil
}
