package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/mediaapi/api"
)

// Transcription is what an engine heard in a media item, kept per media
// item, engine and requested language (the table's key).
type Transcription struct {
	Media  api.MXC
	Engine string
	// Requested is the language asked for, as a primary subtag ("" for
	// none).
	Requested string
	Text      string
	// Language is the language the engine transcribed ("" when it does
	// not say).
	Language   string
	DurationMS int64
	CreatedTS  int64
}

// Transcription returns the transcription of media by engine in the
// requested language; nil when there is none yet.
func (s *Storage) Transcription(ctx context.Context, media api.MXC, engine, requested string) (*Transcription, error) {
	tr := Transcription{Media: media, Engine: engine, Requested: requested}
	err := s.db.QueryRow(ctx, `SELECT text, language, duration_ms, created_ts FROM mediaapi_transcriptions
		WHERE origin = $1 AND media_id = $2 AND engine = $3 AND requested = $4`,
		media.ServerName, media.MediaID, engine, requested).Scan(&tr.Text, &tr.Language, &tr.DurationMS, &tr.CreatedTS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading a transcription: %w", err)
	}
	return &tr, nil
}

// InsertTranscription keeps tr. One already kept under the same key (by
// another process that transcribed the same item meanwhile) stays.
func (s *Storage) InsertTranscription(ctx context.Context, tr *Transcription) error {
	_, err := s.db.Exec(ctx, `INSERT INTO mediaapi_transcriptions
		(origin, media_id, engine, requested, text, language, duration_ms, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (origin, media_id, engine, requested) DO NOTHING`,
		tr.Media.ServerName, tr.Media.MediaID, tr.Engine, tr.Requested, tr.Text, tr.Language, tr.DurationMS, tr.CreatedTS)
	if err != nil {
		return fmt.Errorf("storage: inserting a transcription: %w", err)
	}
	return nil
}
