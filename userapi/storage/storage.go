// Package storage keeps the user API's data: accounts, devices, access and
// refresh tokens, profile fields, account data and registration tokens. Every
// query is written once and runs on SQLite and PostgreSQL.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Storage is the user API's database.
type Storage struct {
	db *sqlutil.DB
}

// New migrates the schema and returns the storage.
func New(ctx context.Context, db *sqlutil.DB) (*Storage, error) {
	if err := sqlutil.MigrateDir(ctx, db, "userapi", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Storage{db: db}, nil
}

// WithTx runs fn in one transaction.
func (s *Storage) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.WithTx(ctx, fn)
}

// AfterCommit runs fn once the transaction in ctx (if any) has committed.
func (s *Storage) AfterCommit(ctx context.Context, fn func()) { s.db.AfterCommit(ctx, fn) }

// AccountRow is an account as stored.
type AccountRow struct {
	Localpart    api.Localpart
	PasswordHash string
	CreatedTS    int64
	IsAdmin      bool
	Deactivated  bool
}

// InsertAccount creates an account; api.ErrUserInUse when the localpart is taken.
func (s *Storage) InsertAccount(ctx context.Context, a AccountRow) error {
	res, err := s.db.Exec(ctx, `INSERT INTO userapi_accounts (localpart, password_hash, created_ts, is_admin, deactivated)
		VALUES ($1, $2, $3, $4, FALSE) ON CONFLICT (localpart) DO NOTHING`,
		a.Localpart, a.PasswordHash, a.CreatedTS, a.IsAdmin)
	if err != nil {
		return fmt.Errorf("storage: inserting account: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrUserInUse
	}
	return nil
}

// Account returns an account; api.ErrNoSuchAccount when there is none.
func (s *Storage) Account(ctx context.Context, localpart api.Localpart) (*AccountRow, error) {
	a := AccountRow{Localpart: localpart}
	err := s.db.QueryRow(ctx, `SELECT password_hash, created_ts, is_admin, deactivated FROM userapi_accounts
		WHERE localpart = $1`, localpart).
		Scan(&a.PasswordHash, &a.CreatedTS, &a.IsAdmin, &a.Deactivated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNoSuchAccount
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading account: %w", err)
	}
	return &a, nil
}

// SetPasswordHash replaces an account's password hash.
func (s *Storage) SetPasswordHash(ctx context.Context, localpart api.Localpart, hash string) error {
	return s.execOne(ctx, `UPDATE userapi_accounts SET password_hash = $2 WHERE localpart = $1`, localpart, hash)
}

// SetDeactivated marks an account deactivated and drops its password.
func (s *Storage) SetDeactivated(ctx context.Context, localpart api.Localpart) error {
	return s.execOne(ctx, `UPDATE userapi_accounts SET deactivated = TRUE, password_hash = '' WHERE localpart = $1`, localpart)
}

func (s *Storage) execOne(ctx context.Context, query string, args ...any) error {
	res, err := s.db.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrNoSuchAccount
	}
	return nil
}
