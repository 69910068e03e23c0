package api

import (
	"context"
	"time"
)

// Exporter is what an admin's room or user export reads of the media
// component.
type Exporter interface {
	// OpenStored opens media this server has a copy of (uploaded here, or
	// another server's already fetched) without fetching anything:
	// ErrNotFound otherwise. The caller closes the content.
	OpenStored(ctx context.Context, mxc MXC, wait time.Duration) (*Metadata, Content, error)
	// UploadsOf lists the media a local user uploaded, oldest first.
	UploadsOf(ctx context.Context, userID string) ([]*Metadata, error)
}
