package storage

import (
	"context"
	"fmt"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
)

// UploadsOf lists the media a local user uploaded, oldest first.
func (s *Storage) UploadsOf(ctx context.Context, userID string) ([]*api.Metadata, error) {
	ms, err := sqlutil.Select(ctx, s.db, scanMedia, `SELECT `+mediaColumns+` FROM mediaapi_media
		WHERE uploader = $1 ORDER BY created_ts, media_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: reading a user's uploads: %w", err)
	}
	return ms, nil
}
