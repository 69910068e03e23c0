package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// ThumbnailKey names a stored thumbnail: the media, and the request box
// (width, height, method, animated) it answers.
type ThumbnailKey struct {
	Origin  string
	MediaID api.MediaID
	Spec    api.ThumbnailSpec
}

// Thumbnail is a stored thumbnail: its key, and the file holding it.
type Thumbnail struct {
	ThumbnailKey
	ContentType string
	Size        int64
	// SHA256 names the file in the content-addressed store.
	SHA256 string
	// CreatedTS is when it was stored, in milliseconds since the epoch.
	CreatedTS int64
}

// ErrThumbnailExists is InsertThumbnail's answer when the key already has
// a thumbnail (another request stored it first).
var ErrThumbnailExists = errors.New("storage: thumbnail already stored")

const thumbnailColumns = `origin, media_id, width, height, method, animated, content_type, size, sha256, created_ts`

func scanThumbnail(s sqlutil.Scanner) (*Thumbnail, error) {
	var t Thumbnail
	err := s.Scan(&t.Origin, &t.MediaID, &t.Spec.Width, &t.Spec.Height, &t.Spec.Method, &t.Spec.Animated,
		&t.ContentType, &t.Size, &t.SHA256, &t.CreatedTS)
	return &t, err
}

// Thumbnail returns the thumbnail stored under key; api.ErrNotFound when
// there is none.
func (s *Storage) Thumbnail(ctx context.Context, key ThumbnailKey) (*Thumbnail, error) {
	t, err := scanThumbnail(s.db.QueryRow(ctx, `SELECT `+thumbnailColumns+` FROM mediaapi_thumbnails
		WHERE origin = $1 AND media_id = $2 AND width = $3 AND height = $4 AND method = $5 AND animated = $6`,
		key.Origin, key.MediaID, key.Spec.Width, key.Spec.Height, key.Spec.Method, key.Spec.Animated))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading a thumbnail: %w", err)
	}
	return t, nil
}

// Thumbnails lists the thumbnails stored for origin's mediaID.
func (s *Storage) Thumbnails(ctx context.Context, origin string, id api.MediaID) ([]*Thumbnail, error) {
	ts, err := sqlutil.Select(ctx, s.db, scanThumbnail, `SELECT `+thumbnailColumns+` FROM mediaapi_thumbnails
		WHERE origin = $1 AND media_id = $2 ORDER BY width, height, method, animated`, origin, id)
	if err != nil {
		return nil, fmt.Errorf("storage: listing thumbnails: %w", err)
	}
	return ts, nil
}

// InsertThumbnail records t; ErrThumbnailExists when its key already has
// one, which stays as it is.
func (s *Storage) InsertThumbnail(ctx context.Context, t *Thumbnail) error {
	res, err := s.db.Exec(ctx, `INSERT INTO mediaapi_thumbnails (`+thumbnailColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (origin, media_id, width, height, method, animated) DO NOTHING`,
		t.Origin, t.MediaID, t.Spec.Width, t.Spec.Height, t.Spec.Method, t.Spec.Animated,
		t.ContentType, t.Size, t.SHA256, t.CreatedTS)
	if err != nil {
		return fmt.Errorf("storage: inserting a thumbnail: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrThumbnailExists
	}
	return nil
}
