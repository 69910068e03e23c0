package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/userapi/api"
)

// InsertThreepid binds a 3PID to an account, validated at ts:
// api.ErrThreepidInUse when any account (this one included) holds it.
func (s *Storage) InsertThreepid(ctx context.Context, localpart api.Localpart, medium, address string, ts int64) error {
	res, err := s.db.Exec(ctx, `INSERT INTO userapi_threepids (medium, address, localpart, added_ts, validated_ts)
		VALUES ($1, $2, $3, $4, $4) ON CONFLICT (medium, address) DO NOTHING`, medium, address, localpart, ts)
	if err != nil {
		return fmt.Errorf("storage: inserting 3pid: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrThreepidInUse
	}
	return nil
}

// ThreepidOwner returns the account holding a 3PID: api.ErrThreepidNotFound if none.
func (s *Storage) ThreepidOwner(ctx context.Context, medium, address string) (api.Localpart, error) {
	var l api.Localpart
	err := s.db.QueryRow(ctx, `SELECT localpart FROM userapi_threepids WHERE medium = $1 AND address = $2`,
		medium, address).Scan(&l)
	if errors.Is(err, sql.ErrNoRows) {
		return "", api.ErrThreepidNotFound
	}
	if err != nil {
		return "", fmt.Errorf("storage: reading 3pid owner: %w", err)
	}
	return l, nil
}

// Threepids lists an account's 3PIDs, oldest first.
func (s *Storage) Threepids(ctx context.Context, localpart api.Localpart) ([]api.Threepid, error) {
	rows, err := s.db.Query(ctx, `SELECT medium, address, added_ts, validated_ts FROM userapi_threepids
		WHERE localpart = $1 ORDER BY added_ts, medium, address`, localpart)
	if err != nil {
		return nil, fmt.Errorf("storage: listing 3pids: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []api.Threepid
	for rows.Next() {
		var t api.Threepid
		if err := rows.Scan(&t.Medium, &t.Address, &t.AddedTS, &t.ValidatedTS); err != nil {
			return nil, fmt.Errorf("storage: reading 3pid: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: listing 3pids: %w", err)
	}
	return out, nil
}

// DeleteThreepid removes one of an account's 3PIDs: api.ErrThreepidNotFound
// when the account does not hold it.
func (s *Storage) DeleteThreepid(ctx context.Context, localpart api.Localpart, medium, address string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM userapi_threepids WHERE medium = $1 AND address = $2 AND localpart = $3`,
		medium, address, localpart)
	if err != nil {
		return fmt.Errorf("storage: deleting 3pid: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrThreepidNotFound
	}
	return nil
}

// DeleteThreepids removes every 3PID of an account.
func (s *Storage) DeleteThreepids(ctx context.Context, localpart api.Localpart) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM userapi_threepids WHERE localpart = $1`, localpart); err != nil {
		return fmt.Errorf("storage: deleting 3pids: %w", err)
	}
	return nil
}
