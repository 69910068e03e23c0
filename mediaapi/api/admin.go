package api

import "context"

// AdminMedia is one piece of media as the admin API lists it: its
// metadata and what admins decided about it.
type AdminMedia struct {
	Metadata
	// QuarantinedBy is the admin who quarantined it ("" if not).
	QuarantinedBy string
	// Protected media is skipped by bulk quarantines and deletions.
	Protected bool
}

// UserMediaQuery selects a page of a user's uploads.
type UserMediaQuery struct {
	UserID string
	// Offset and Limit page (Limit 0: all).
	Offset, Limit int
	// OrderBy is one of UserMediaOrders ("": created_ts); Backwards sorts
	// descending.
	OrderBy   string
	Backwards bool
}

// UserMediaOrders are the orders of a user's media (Synapse's order_by
// values that this server records).
var UserMediaOrders = []string{"media_id", "upload_name", "created_ts", "media_length", "media_type",
	"quarantined_by", "safe_from_quarantine"}

// DeleteOldQuery selects local media to delete by age and size.
type DeleteOldQuery struct {
	// BeforeTS: uploaded before it (milliseconds since the epoch).
	BeforeTS int64
	// SizeGT: larger than it, in bytes.
	SizeGT int64
	// Keep, when set, says which of those to keep anyway (avatars).
	Keep func(ctx context.Context, m *Metadata) (bool, error)
}

// Admin is what the server's admins do with media. Deleting removes the
// records and, when no other record names the same bytes, the file.
type Admin interface {
	// UserMedia returns a page of a user's uploads and how many they have.
	UserMedia(ctx context.Context, q UserMediaQuery) ([]AdminMedia, int, error)
	// DeleteMedia deletes local media by ID and returns the IDs it deleted
	// (unknown IDs are skipped).
	DeleteMedia(ctx context.Context, ids []MediaID) ([]MediaID, error)
	// DeleteOld deletes unprotected local media matching q and returns the
	// IDs it deleted.
	DeleteOld(ctx context.Context, q DeleteOldQuery) ([]MediaID, error)
	// Quarantine quarantines (by is the admin) or releases (by "") the
	// URIs; skipProtected leaves protected local media alone. It returns
	// how many URIs changed.
	Quarantine(ctx context.Context, uris []MXC, by string, skipProtected bool) (int, error)
	// Protect protects local media from bulk quarantines and deletions,
	// or stops protecting it; ErrNotFound for an unknown ID.
	Protect(ctx context.Context, id MediaID, protected bool) error
}
