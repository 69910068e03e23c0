package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

const regTokenColumns = `token, uses_allowed, completed, expiry_ts`

// regTokenValid is the condition of a token that can still be used at $1.
const regTokenValid = `(uses_allowed IS NULL OR completed < uses_allowed) AND (expiry_ts IS NULL OR expiry_ts > $1)`

func scanRegToken(sc sqlutil.Scanner) (api.RegistrationToken, error) {
	var t api.RegistrationToken
	var uses, exp sql.NullInt64
	err := sc.Scan(&t.Token, &uses, &t.Completed, &exp)
	if uses.Valid {
		t.UsesAllowed = &uses.Int64
	}
	if exp.Valid {
		t.ExpiryTS = &exp.Int64
	}
	return t, err
}

// RegistrationTokens lists the registration tokens, oldest first: valid
// nil every one, true those usable at nowMs, false the others.
func (s *Storage) RegistrationTokens(ctx context.Context, valid *bool, nowMs int64) ([]api.RegistrationToken, error) {
	where := `CAST($1 AS BIGINT) IS NOT NULL`
	if valid != nil && *valid {
		where = regTokenValid
	} else if valid != nil {
		where = `NOT (` + regTokenValid + `)`
	}
	// where is one of the constants above, never input.
	ts, err := sqlutil.Select(ctx, s.db, scanRegToken, `SELECT `+regTokenColumns+` FROM userapi_registration_tokens
		WHERE `+where+` ORDER BY created_ts, token`, nowMs)
	if err != nil {
		return nil, fmt.Errorf("storage: listing registration tokens: %w", err)
	}
	return ts, nil
}

// RegistrationToken returns one token; api.ErrNotFound when there is none.
func (s *Storage) RegistrationToken(ctx context.Context, token string) (*api.RegistrationToken, error) {
	t, err := scanRegToken(s.db.QueryRow(ctx, `SELECT `+regTokenColumns+` FROM userapi_registration_tokens
		WHERE token = $1`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading registration token: %w", err)
	}
	return &t, nil
}

// AddRegistrationToken stores a new token; api.ErrRegistrationTokenExists
// when it is taken.
func (s *Storage) AddRegistrationToken(ctx context.Context, t api.RegistrationToken, nowMs int64) error {
	res, err := s.db.Exec(ctx, `INSERT INTO userapi_registration_tokens (token, uses_allowed, completed, expiry_ts, created_ts)
		VALUES ($1, $2, 0, $3, $4) ON CONFLICT (token) DO NOTHING`, t.Token, t.UsesAllowed, t.ExpiryTS, nowMs)
	if err != nil {
		return fmt.Errorf("storage: inserting registration token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrRegistrationTokenExists
	}
	return nil
}

// UpdateRegistrationToken changes a token's limits and returns it;
// api.ErrNotFound when there is none.
func (s *Storage) UpdateRegistrationToken(
	ctx context.Context, token string, u api.RegistrationTokenUpdate,
) (*api.RegistrationToken, error) {
	var out *api.RegistrationToken
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		t, err := s.RegistrationToken(ctx, token)
		if err != nil {
			return err
		}
		if u.ClearUsesAllowed {
			t.UsesAllowed = nil
		} else if u.UsesAllowed != nil {
			t.UsesAllowed = u.UsesAllowed
		}
		if u.ClearExpiryTS {
			t.ExpiryTS = nil
		} else if u.ExpiryTS != nil {
			t.ExpiryTS = u.ExpiryTS
		}
		_, err = s.db.Exec(ctx, `UPDATE userapi_registration_tokens SET uses_allowed = $2, expiry_ts = $3 WHERE token = $1`,
			token, t.UsesAllowed, t.ExpiryTS)
		out = t
		return err
	})
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("storage: updating registration token: %w", err)
	}
	return out, nil
}

// DeleteRegistrationToken removes a token; api.ErrNotFound when there is none.
func (s *Storage) DeleteRegistrationToken(ctx context.Context, token string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM userapi_registration_tokens WHERE token = $1`, token)
	if err != nil {
		return fmt.Errorf("storage: deleting registration token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrNotFound
	}
	return nil
}
