// Package storage keeps the media component's records: the metadata of
// every mxc:// URI with content, the media IDs created for uploads still to
// come, each user's bytes uploaded, URL previews answered lately
// (previews.go) and the thumbnails made of media. The files themselves are
// kept by mediaapi/internal. Every query is written once and runs on SQLite
// and PostgreSQL.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Storage is the media component's database.
type Storage struct {
	db *sqlutil.DB
}

// New migrates the schema and returns the storage.
func New(ctx context.Context, db *sqlutil.DB) (*Storage, error) {
	if err := sqlutil.MigrateDir(ctx, db, "mediaapi", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Storage{db: db}, nil
}

const mediaColumns = `origin, media_id, content_type, upload_name, size, sha256, uploader, created_ts`

func scanMedia(s sqlutil.Scanner) (*api.Metadata, error) {
	var m api.Metadata
	err := s.Scan(&m.Origin, &m.MediaID, &m.ContentType, &m.UploadName, &m.Size, &m.SHA256, &m.Uploader, &m.CreatedTS)
	return &m, err
}

// Media returns the metadata of origin's mediaID; api.ErrNotFound when it
// has no content here.
func (s *Storage) Media(ctx context.Context, origin string, id api.MediaID) (*api.Metadata, error) {
	m, err := scanMedia(s.db.QueryRow(ctx, `SELECT `+mediaColumns+` FROM mediaapi_media
		WHERE origin = $1 AND media_id = $2`, origin, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading media: %w", err)
	}
	return m, nil
}

// FileReferenced reports whether any media or thumbnail row names the file
// with this SHA-256 (a thumbnail may have the same bytes as an original).
func (s *Storage) FileReferenced(ctx context.Context, sha256 string) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM mediaapi_media WHERE sha256 = $1
		UNION ALL SELECT 1 FROM mediaapi_thumbnails WHERE sha256 = $1 LIMIT 1`, sha256).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: looking for a file's media: %w", err)
	}
	return true, nil
}

// InsertMedia records m as uploaded by m.Uploader (counted against quota
// bytes when quota > 0; remote media, with no uploader, counts against no
// one) in one transaction: api.ErrCannotOverwrite when the URI already has
// content, api.ErrQuotaExceeded when the upload would pass the quota.
func (s *Storage) InsertMedia(ctx context.Context, m *api.Metadata, quota int64) error {
	return s.InsertMediaBatch(ctx, []*api.Metadata{m}, quota)
}

// InsertMediaBatch records every row of ms as InsertMedia records one, all
// in one transaction: all of them, or none when one fails. The failure of
// a row is a *RowError naming it (and wrapping InsertMedia's errors).
func (s *Storage) InsertMediaBatch(ctx context.Context, ms []*api.Metadata, quota int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		for i, m := range ms {
			if err := s.insertMedia(ctx, m); err != nil {
				return &RowError{Index: i, Err: err}
			}
			if err := s.addUsage(ctx, m.Uploader, m.Size, quota); err != nil {
				return &RowError{Index: i, Err: err}
			}
		}
		return nil
	})
}

// RowError is the failure of one row of InsertMediaBatch: its index in the
// batch and why.
type RowError struct {
	Index int
	Err   error
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Index, e.Err) }

// Unwrap gives errors.Is the row's own error (api.ErrQuotaExceeded, …).
func (e *RowError) Unwrap() error { return e.Err }

func (s *Storage) insertMedia(ctx context.Context, m *api.Metadata) error {
	res, err := s.db.Exec(ctx, `INSERT INTO mediaapi_media (`+mediaColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (origin, media_id) DO NOTHING`,
		m.Origin, m.MediaID, m.ContentType, m.UploadName, m.Size, m.SHA256, m.Uploader, m.CreatedTS)
	if err != nil {
		return fmt.Errorf("storage: inserting media: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return api.ErrCannotOverwrite
	}
	return nil
}

// addUsage adds size bytes to user's usage, refusing (and so rolling the
// transaction back) when that passes quota.
func (s *Storage) addUsage(ctx context.Context, user string, size, quota int64) error {
	if user == "" {
		return nil
	}
	var total int64
	err := s.db.QueryRowWrite(ctx, `INSERT INTO mediaapi_usage (user_id, bytes) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET bytes = mediaapi_usage.bytes + EXCLUDED.bytes
		RETURNING bytes`, user, size).Scan(&total)
	if err != nil {
		return fmt.Errorf("storage: counting usage: %w", err)
	}
	if quota > 0 && total > quota {
		return api.ErrQuotaExceeded
	}
	return nil
}

// Usage is how many bytes user has uploaded.
func (s *Storage) Usage(ctx context.Context, user string) (int64, error) {
	var total int64
	err := s.db.QueryRow(ctx, `SELECT bytes FROM mediaapi_usage WHERE user_id = $1`, user).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("storage: reading usage: %w", err)
	}
	return total, nil
}
