package internal

import (
	"context"

	"github.com/myelin-im/myelin/mediaapi/api"
)

var _ api.Exporter = (*Media)(nil)

// UploadsOf implements api.Exporter.
func (m *Media) UploadsOf(ctx context.Context, userID string) ([]*api.Metadata, error) {
	return m.store.UploadsOf(ctx, userID)
}
