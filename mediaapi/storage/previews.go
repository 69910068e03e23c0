package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// URLPreview is a cached answer of GET /_matrix/client/v1/media/preview_url.
type URLPreview struct {
	// URL is the URL previewed, as fetched (without its fragment).
	URL string
	// Response is the answer's JSON object.
	Response []byte
	// FetchedTS is when the page was fetched, ExpiresTS when the answer
	// stops being reused, both in ms since the epoch.
	FetchedTS int64
	ExpiresTS int64
}

// urlKey is the row key of url: its SHA-256 in hex.
func urlKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return hex.EncodeToString(sum[:])
}

// URLPreview returns the answer cached for url that has not expired at now
// (ms since the epoch); ok is false when there is none.
func (s *Storage) URLPreview(ctx context.Context, url string, now int64) (response []byte, ok bool, err error) {
	err = s.db.QueryRow(ctx, `SELECT response FROM mediaapi_url_previews
		WHERE url_sha256 = $1 AND expires_ts > $2`, urlKey(url), now).Scan(&response)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("storage: reading a URL preview: %w", err)
	}
	return response, true, nil
}

// PutURLPreview caches p for its URL, replacing an older answer, and removes
// the answers expired by the time p was fetched, so the table holds about
// one row per URL previewed within the cache's lifetime.
func (s *Storage) PutURLPreview(ctx context.Context, p URLPreview) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		_, err := s.db.Exec(ctx, `INSERT INTO mediaapi_url_previews (url_sha256, url, response, fetched_ts, expires_ts)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (url_sha256) DO UPDATE SET
			url = EXCLUDED.url, response = EXCLUDED.response, fetched_ts = EXCLUDED.fetched_ts, expires_ts = EXCLUDED.expires_ts`,
			urlKey(p.URL), p.URL, string(p.Response), p.FetchedTS, p.ExpiresTS)
		if err != nil {
			return fmt.Errorf("storage: caching a URL preview: %w", err)
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM mediaapi_url_previews WHERE expires_ts <= $1`, p.FetchedTS); err != nil {
			return fmt.Errorf("storage: removing expired URL previews: %w", err)
		}
		return nil
	})
}
