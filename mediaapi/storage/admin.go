package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// adminColumns are a media row's columns with the admins' decisions, over
// mediaapi_media m.
const adminColumns = `m.origin, m.media_id, m.content_type, m.upload_name, m.size, m.sha256, m.uploader, m.created_ts,
	COALESCE(q.quarantined_by, ''), p.media_id IS NOT NULL`

const adminJoins = ` FROM mediaapi_media m
	LEFT JOIN mediaapi_quarantine q ON q.origin = m.origin AND q.media_id = m.media_id
	LEFT JOIN mediaapi_protected p ON p.media_id = m.media_id AND m.uploader <> ''`

func scanAdminMedia(s sqlutil.Scanner) (api.AdminMedia, error) {
	var m api.AdminMedia
	err := s.Scan(&m.Origin, &m.MediaID, &m.ContentType, &m.UploadName, &m.Size, &m.SHA256, &m.Uploader, &m.CreatedTS,
		&m.QuarantinedBy, &m.Protected)
	return m, err
}

// userMediaOrder maps api.UserMediaOrders to columns.
var userMediaOrder = map[string]string{
	"media_id": "m.media_id", "upload_name": "m.upload_name", "created_ts": "m.created_ts", "media_length": "m.size",
	"media_type": "m.content_type", "quarantined_by": "COALESCE(q.quarantined_by, '')",
	"safe_from_quarantine": "(p.media_id IS NOT NULL)",
}

// UserMedia returns a page of a local user's uploads and how many they
// have.
func (s *Storage) UserMedia(ctx context.Context, q api.UserMediaQuery) ([]api.AdminMedia, int, error) {
	if q.OrderBy == "" {
		q.OrderBy = "created_ts"
	}
	col, ok := userMediaOrder[q.OrderBy]
	if !ok {
		return nil, 0, fmt.Errorf("storage: unknown media order %q", q.OrderBy)
	}
	dir := " ASC"
	if q.Backwards {
		dir = " DESC"
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM mediaapi_media WHERE uploader = $1`, q.UserID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("storage: counting %s's media: %w", q.UserID, err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = math.MaxInt32
	}
	out, err := sqlutil.Select(ctx, s.db, scanAdminMedia, `SELECT `+adminColumns+adminJoins+
		` WHERE m.uploader = $1 ORDER BY `+col+dir+`, m.media_id`+dir+` LIMIT $2 OFFSET $3`, q.UserID, limit, q.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: reading %s's media: %w", q.UserID, err)
	}
	return out, total, nil
}

// OldMedia returns the unprotected media of origin uploaded before
// beforeTS and larger than sizeGT bytes.
func (s *Storage) OldMedia(ctx context.Context, origin string, beforeTS, sizeGT int64) ([]api.AdminMedia, error) {
	out, err := sqlutil.Select(ctx, s.db, scanAdminMedia, `SELECT `+adminColumns+adminJoins+
		` WHERE m.origin = $1 AND m.created_ts < $2 AND m.size > $3 AND p.media_id IS NULL ORDER BY m.created_ts`,
		origin, beforeTS, sizeGT)
	if err != nil {
		return nil, fmt.Errorf("storage: reading old media: %w", err)
	}
	return out, nil
}

// DeleteMedia deletes the records of origin's media id (and its
// thumbnails) and returns the SHA-256 of the files they named; found is
// false when it had no record.
func (s *Storage) DeleteMedia(ctx context.Context, origin string, id api.MediaID) (sums []string, found bool, err error) {
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		m, err := s.Media(ctx, origin, id)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found, sums = true, []string{m.SHA256}
		thumbs, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (string, error) {
			var sum string
			return sum, sc.Scan(&sum)
		}, `SELECT sha256 FROM mediaapi_thumbnails WHERE origin = $1 AND media_id = $2`, origin, id)
		if err != nil {
			return err
		}
		sums = append(sums, thumbs...)
		for _, q := range []string{
			`DELETE FROM mediaapi_thumbnails WHERE origin = $1 AND media_id = $2`,
			`DELETE FROM mediaapi_media WHERE origin = $1 AND media_id = $2`,
		} {
			if _, err := s.db.Exec(ctx, q, origin, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("storage: deleting media %s: %w", id, err)
	}
	return sums, found, nil
}

// SetQuarantined quarantines origin's media id (by the admin by, at ts)
// or releases it (by ""); changed says whether that changed anything.
func (s *Storage) SetQuarantined(ctx context.Context, origin string, id api.MediaID, by string, ts int64) (changed bool, err error) {
	var res sql.Result
	if by == "" {
		res, err = s.db.Exec(ctx, `DELETE FROM mediaapi_quarantine WHERE origin = $1 AND media_id = $2`, origin, id)
	} else {
		res, err = s.db.Exec(ctx, `INSERT INTO mediaapi_quarantine (origin, media_id, quarantined_by, quarantined_ts)
			VALUES ($1, $2, $3, $4) ON CONFLICT (origin, media_id) DO NOTHING`, origin, id, by, ts)
	}
	if err != nil {
		return false, fmt.Errorf("storage: quarantining media %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Quarantined reports whether origin's media id is quarantined.
func (s *Storage) Quarantined(ctx context.Context, origin string, id api.MediaID) (bool, error) {
	return s.exists(ctx, `SELECT 1 FROM mediaapi_quarantine WHERE origin = $1 AND media_id = $2`, origin, id)
}

// Protected reports whether local media id is protected.
func (s *Storage) Protected(ctx context.Context, id api.MediaID) (bool, error) {
	return s.exists(ctx, `SELECT 1 FROM mediaapi_protected WHERE media_id = $1`, id)
}

// SetProtected protects local media id or stops protecting it.
func (s *Storage) SetProtected(ctx context.Context, id api.MediaID, protected bool) error {
	q := `DELETE FROM mediaapi_protected WHERE media_id = $1`
	if protected {
		q = `INSERT INTO mediaapi_protected (media_id) VALUES ($1) ON CONFLICT (media_id) DO NOTHING`
	}
	if _, err := s.db.Exec(ctx, q, id); err != nil {
		return fmt.Errorf("storage: protecting media %s: %w", id, err)
	}
	return nil
}

func (s *Storage) exists(ctx context.Context, q string, args ...any) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, q, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: %w", err)
	}
	return true, nil
}
