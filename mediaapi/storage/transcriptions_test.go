package storage_test

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// TestTranscriptions: a transcription is found by its media item, engine
// and requested language only, and the first one kept under a key stays.
func TestTranscriptions(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		s := open(t, db)
		voice := api.MXC{ServerName: origin, MediaID: "voice"}
		kept := &storage.Transcription{
			Media:      voice,
			Engine:     "pocketsphinx",
			Requested:  "",
			Text:       "please call me tomorrow morning",
			Language:   "en",
			DurationMS: 2130,
			CreatedTS:  1000,
		}
		if err := s.InsertTranscription(ctx, kept); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Transcription(ctx, voice, "pocketsphinx", ""); err != nil || got == nil || *got != *kept {
			t.Fatalf("Transcription = %+v, %v; want %+v", got, err, kept)
		}
		for _, other := range []struct {
			media             api.MXC
			engine, requested string
		}{
			{voice, "pocketsphinx", "en"},
			{voice, "openai", ""},
			{api.MXC{ServerName: origin, MediaID: "other"}, "pocketsphinx", ""},
			{api.MXC{ServerName: "other.example", MediaID: "voice"}, "pocketsphinx", ""},
		} {
			if got, err := s.Transcription(ctx, other.media, other.engine, other.requested); got != nil || err != nil {
				t.Errorf("Transcription(%s, %s, %q) = %+v, %v; want none", other.media, other.engine, other.requested, got, err)
			}
		}
		again := *kept
		again.Text, again.CreatedTS = "please call me tomorrow", 2000
		if err := s.InsertTranscription(ctx, &again); err != nil {
			t.Fatalf("keeping a transcription twice: %v", err)
		}
		if got, _ := s.Transcription(ctx, voice, "pocketsphinx", ""); got == nil || *got != *kept {
			t.Fatalf("after a second insert: %+v, want the first kept %+v", got, kept)
		}
	})
}
