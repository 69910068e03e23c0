package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/userapi/api"
)

// InsertOpenIDToken stores an OpenID token's hash and deletes the tokens
// that expired before nowMs, in one transaction.
func (s *Storage) InsertOpenIDToken(ctx context.Context, hash string, localpart api.Localpart, nowMs, expiresMs int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM userapi_openid_tokens WHERE expires_ts <= $1`, nowMs); err != nil {
			return fmt.Errorf("storage: deleting expired openid tokens: %w", err)
		}
		_, err := s.db.Exec(ctx, `INSERT INTO userapi_openid_tokens (token_hash, localpart, created_ts, expires_ts)
			VALUES ($1, $2, $3, $4)`, hash, localpart, nowMs, expiresMs)
		if err != nil {
			return fmt.Errorf("storage: inserting openid token: %w", err)
		}
		return nil
	})
}

// OpenIDToken finds the owner of an OpenID token by hash, if it has not
// expired at nowMs; api.ErrUnknownToken otherwise.
func (s *Storage) OpenIDToken(ctx context.Context, hash string, nowMs int64) (api.Localpart, error) {
	var l api.Localpart
	err := s.db.QueryRow(ctx, `SELECT localpart FROM userapi_openid_tokens WHERE token_hash = $1 AND expires_ts > $2`,
		hash, nowMs).Scan(&l)
	if errors.Is(err, sql.ErrNoRows) {
		return "", api.ErrUnknownToken
	}
	if err != nil {
		return "", fmt.Errorf("storage: reading openid token: %w", err)
	}
	return l, nil
}

// DeleteOpenIDTokens deletes every OpenID token of a user (deactivation).
func (s *Storage) DeleteOpenIDTokens(ctx context.Context, localpart api.Localpart) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_openid_tokens WHERE localpart = $1`, localpart); err != nil {
		return fmt.Errorf("storage: deleting openid tokens: %w", err)
	}
	return nil
}
