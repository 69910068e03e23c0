// Package storage keeps the admin API's own data: the audit log of admin
// actions. Its tables have their own migrations (admin_*), apart from every
// other component's.
package storage

import (
	"context"
	"embed"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the admin API's tables on a database.
type Store struct {
	db *sqlutil.DB
}

// New migrates the tables in db and returns the store; db stays the
// caller's.
func New(ctx context.Context, db *sqlutil.DB) (*Store, error) {
	if err := sqlutil.MigrateDir(ctx, db, "admin", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("admin storage: %w", err)
	}
	return &Store{db: db}, nil
}

// AuditEntry is one admin action.
type AuditEntry struct {
	ID          int64
	TS          int64 // milliseconds since the epoch
	AdminUserID string
	Method      string
	Path        string
	// Target is the user, room or media the request names ("" if none).
	Target string
	// Detail is what the handler adds (the device a support login made).
	Detail string
	// Status is the HTTP status answered; 0 while the action runs, or if
	// the process stopped during it.
	Status int
}

// Begin records an action before it runs and returns its ID.
func (s *Store) Begin(ctx context.Context, e AuditEntry) (int64, error) {
	var id int64
	err := s.db.QueryRowWrite(ctx, `INSERT INTO admin_audit_log (ts, admin_user_id, method, path, target, detail, status)
		VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id`,
		e.TS, e.AdminUserID, e.Method, e.Path, e.Target, e.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("admin storage: recording %s %s: %w", e.Method, e.Path, err)
	}
	return id, nil
}

// Finish records how the action with id ended, and any detail the handler
// added ("" keeps what Begin stored).
func (s *Store) Finish(ctx context.Context, id int64, status int, detail string) error {
	_, err := s.db.Exec(ctx, `UPDATE admin_audit_log SET status = $2,
		detail = CASE WHEN $3 = '' THEN detail ELSE $3 END WHERE id = $1`, id, status, detail)
	if err != nil {
		return fmt.Errorf("admin storage: finishing audit entry %d: %w", id, err)
	}
	return nil
}

// AuditQuery selects a page of the log, newest first.
type AuditQuery struct {
	// Before, when positive, keeps entries with a smaller ID (paging).
	Before int64
	Limit  int
	// AdminUserID and Target, when set, keep the entries by that admin or
	// about that target.
	AdminUserID, Target string
}

// Audit returns a page of the log, newest first.
func (s *Store) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	entries, err := sqlutil.Select(ctx, s.db, scanAudit, `SELECT id, ts, admin_user_id, method, path, target, detail, status
		FROM admin_audit_log WHERE id < $1 AND ($2 = '' OR admin_user_id = $2) AND ($3 = '' OR target = $3)
		ORDER BY id DESC LIMIT $4`, before, q.AdminUserID, q.Target, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("admin storage: reading the audit log: %w", err)
	}
	return entries, nil
}

func scanAudit(sc sqlutil.Scanner) (AuditEntry, error) {
	var e AuditEntry
	err := sc.Scan(&e.ID, &e.TS, &e.AdminUserID, &e.Method, &e.Path, &e.Target, &e.Detail, &e.Status)
	return e, err
}
