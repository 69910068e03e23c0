package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// Pending is a media ID created for an upload still to come.
type Pending struct {
	MediaID   api.MediaID
	Uploader  string
	CreatedTS int64
	ExpiresTS int64
}

// CreatePending records p unless p.Uploader already holds max unexpired
// pending IDs (api.ErrTooManyPending).
func (s *Storage) CreatePending(ctx context.Context, p Pending, max int) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var n int
		err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM mediaapi_pending WHERE uploader = $1 AND expires_ts > $2`,
			p.Uploader, p.CreatedTS).Scan(&n)
		if err != nil {
			return fmt.Errorf("storage: counting pending uploads: %w", err)
		}
		if n >= max {
			return api.ErrTooManyPending
		}
		_, err = s.db.Exec(ctx, `INSERT INTO mediaapi_pending (media_id, uploader, created_ts, expires_ts)
			VALUES ($1, $2, $3, $4)`, p.MediaID, p.Uploader, p.CreatedTS, p.ExpiresTS)
		if err != nil {
			return fmt.Errorf("storage: inserting pending upload: %w", err)
		}
		return nil
	})
}

// Pending returns the pending upload of id unexpired at nowMs;
// api.ErrNotFound when there is none.
func (s *Storage) Pending(ctx context.Context, id api.MediaID, nowMs int64) (*Pending, error) {
	p := Pending{MediaID: id}
	err := s.db.QueryRow(ctx, `SELECT uploader, created_ts, expires_ts FROM mediaapi_pending
		WHERE media_id = $1 AND expires_ts > $2`, id, nowMs).Scan(&p.Uploader, &p.CreatedTS, &p.ExpiresTS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, api.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading pending upload: %w", err)
	}
	return &p, nil
}

// CompletePending records m as the content of the pending ID m.MediaID, in
// one transaction with the pending row's removal; m.CreatedTS, the time of
// the upload, is when expiry is judged. api.ErrCannotOverwrite
// when it already has content, api.ErrNotFound when it was never created
// or has expired, api.ErrNotUploader when another user created it, and
// InsertMedia's errors.
func (s *Storage) CompletePending(ctx context.Context, m *api.Metadata, quota int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `DELETE FROM mediaapi_pending WHERE media_id = $1 AND uploader = $2 AND expires_ts > $3`,
			m.MediaID, m.Uploader, m.CreatedTS)
		if err != nil {
			return fmt.Errorf("storage: taking pending upload: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return s.whyNotPending(ctx, m)
		}
		if err := s.insertMedia(ctx, m); err != nil {
			return err
		}
		return s.addUsage(ctx, m.Uploader, m.Size, quota)
	})
}

// whyNotPending tells why m.MediaID was not pending for m.Uploader.
func (s *Storage) whyNotPending(ctx context.Context, m *api.Metadata) error {
	if _, err := s.Media(ctx, m.Origin, m.MediaID); err == nil {
		return api.ErrCannotOverwrite
	}
	p, err := s.Pending(ctx, m.MediaID, m.CreatedTS)
	if err != nil {
		return err
	}
	if p.Uploader != m.Uploader {
		return api.ErrNotUploader
	}
	return api.ErrNotFound
}

// DeleteExpiredPending removes the pending uploads expired at nowMs and
// says how many there were.
func (s *Storage) DeleteExpiredPending(ctx context.Context, nowMs int64) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM mediaapi_pending WHERE expires_ts <= $1`, nowMs)
	if err != nil {
		return 0, fmt.Errorf("storage: deleting expired pending uploads: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
