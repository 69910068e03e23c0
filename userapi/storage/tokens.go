package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

// TokenRow is an access or refresh token as stored (by hash).
type TokenRow struct {
	Hash      string
	Localpart api.Localpart
	DeviceID  api.DeviceID
	CreatedTS int64
	ExpiresTS int64 // 0: never
	// Moderation is the account's, read with an access token.
	Moderation Moderation
}

// InsertAccessToken stores an access token's hash.
func (s *Storage) InsertAccessToken(ctx context.Context, t TokenRow) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_access_tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.Localpart, t.DeviceID, t.CreatedTS, t.ExpiresTS)
	if err != nil {
		return fmt.Errorf("storage: inserting access token: %w", err)
	}
	return nil
}

// InsertRefreshToken stores a refresh token's hash.
func (s *Storage) InsertRefreshToken(ctx context.Context, t TokenRow) error {
	_, err := s.db.Exec(ctx, `INSERT INTO userapi_refresh_tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.Localpart, t.DeviceID, t.CreatedTS, t.ExpiresTS)
	if err != nil {
		return fmt.Errorf("storage: inserting refresh token: %w", err)
	}
	return nil
}

// tokenColumns are the columns of both token tables, in scanToken's order.
const tokenColumns = `token_hash, localpart, device_id, created_ts, expires_ts`

func scanToken(sc sqlutil.Scanner) (TokenRow, error) {
	var t TokenRow
	return t, sc.Scan(&t.Hash, &t.Localpart, &t.DeviceID, &t.CreatedTS, &t.ExpiresTS)
}

// AccessToken finds an access token by hash, with its account's
// moderation state; api.ErrUnknownToken if absent.
func (s *Storage) AccessToken(ctx context.Context, hash string) (*TokenRow, error) {
	var t TokenRow
	err := s.db.QueryRow(ctx, `SELECT t.token_hash, t.localpart, t.device_id, t.created_ts, t.expires_ts,
			COALESCE(a.locked, FALSE), COALESCE(a.suspended, FALSE)
		FROM userapi_access_tokens t LEFT JOIN userapi_accounts a ON a.localpart = t.localpart
		WHERE t.token_hash = $1`, hash).
		Scan(&t.Hash, &t.Localpart, &t.DeviceID, &t.CreatedTS, &t.ExpiresTS, &t.Moderation.Locked, &t.Moderation.Suspended)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading token: %w", err)
	}
	return &t, nil
}

// RefreshToken finds a refresh token by hash; api.ErrUnknownToken if absent.
func (s *Storage) RefreshToken(ctx context.Context, hash string) (*TokenRow, error) {
	return s.token(ctx, `SELECT `+tokenColumns+` FROM userapi_refresh_tokens WHERE token_hash = $1`, hash)
}

func (s *Storage) token(ctx context.Context, query, hash string) (*TokenRow, error) {
	t, err := scanToken(s.db.QueryRow(ctx, query, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading token: %w", err)
	}
	return &t, nil
}

// DeleteDeviceTokens deletes every access and refresh token of a device and returns
// the access token hashes removed.
func (s *Storage) DeleteDeviceTokens(ctx context.Context, localpart api.Localpart, id api.DeviceID) ([]string, error) {
	var hashes []string
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		hashes, err = sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
			var h string
			return h, sc.Scan(&h)
		}, `SELECT token_hash FROM userapi_access_tokens WHERE localpart = $1 AND device_id = $2`, localpart, id)
		if err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `DELETE FROM userapi_access_tokens WHERE localpart = $1 AND device_id = $2`, localpart, id)
		if err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `DELETE FROM userapi_refresh_tokens WHERE localpart = $1 AND device_id = $2`, localpart, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: deleting device tokens: %w", err)
	}
	return hashes, nil
}

// DeleteRefreshToken removes one refresh token; api.ErrUnknownToken if it
// was already gone (so two racing refreshes cannot both succeed).
func (s *Storage) DeleteRefreshToken(ctx context.Context, hash string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM userapi_refresh_tokens WHERE token_hash = $1`, hash)
	if err != nil {
		return fmt.Errorf("storage: deleting refresh token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrUnknownToken
	}
	return nil
}
