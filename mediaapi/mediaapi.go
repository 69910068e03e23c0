// Package mediaapi is the media component, the content repository: users
// upload files (avatars, pictures, voice messages) and download them by
// their mxc:// URI. Other components use it through mediaapi/api.
package mediaapi

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal"
	"github.com/myelin-im/myelin/mediaapi/internal/preview"
	"github.com/myelin-im/myelin/mediaapi/internal/thumbnail"
	"github.com/myelin-im/myelin/mediaapi/internal/transcribe"
	"github.com/myelin-im/myelin/mediaapi/routing"
	"github.com/myelin-im/myelin/mediaapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Options are what New needs.
type Options struct {
	ServerName string
	Config     config.MediaAPI
	// BasePath is the directory of the file store (config.MediaBasePath).
	BasePath string
	DB       *sqlutil.DB
	// Users authenticates the client requests.
	Users userapi.Sessions
	// Router gets the client endpoints.
	Router *mux.Router
	// Remote fetches other servers' media (the federation component);
	// nil, in a process without federation, leaves their media not found.
	Remote     api.RemoteFetcher
	Registerer prometheus.Registerer
	Log        logrus.FieldLogger
}

// MediaAPI is the running media component: the api.MediaAPI other
// components use, the unstable features it offers, and Close.
type MediaAPI struct {
	*internal.Media
	previews    *internal.URLPreviews // nil when URL previews are off
	transcriber *internal.Transcriber
}

// The unstable features of the media component's extensions
// (docs/api-extensions.md).
const (
	// FeatureBatch: upload_batch and download_batch.
	FeatureBatch = "im.myelin.media_batch"
	// FeatureTranscribe: voice-message transcription.
	FeatureTranscribe = "im.myelin.transcribe"
)

// UnstableFeatures are the client API's unstable features this component
// serves, for /versions: batch transfer always; transcription true only
// when an engine can run (without one every request answers 501), false
// otherwise.
func (a *MediaAPI) UnstableFeatures() map[string]bool {
	return map[string]bool{FeatureBatch: true, FeatureTranscribe: a.transcriber.Available()}
}

var _ api.MediaAPI = (*MediaAPI)(nil)

// New migrates the media tables, opens the file store, starts the sweep of
// expired media IDs, builds the transcription engine the configuration
// chooses and registers the client endpoints.
func New(ctx context.Context, opts Options) (*MediaAPI, error) {
	store, err := storage.New(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	frozen, err := opts.Config.LegacyMedia.FrozenAfterTime()
	if err != nil {
		return nil, fmt.Errorf("mediaapi: %w", err)
	}
	m, err := internal.New(internal.Options{
		ServerName:         opts.ServerName,
		BasePath:           opts.BasePath,
		MaxUploadBytes:     opts.Config.MaxUploadBytes,
		UserQuotaBytes:     opts.Config.UserQuotaBytes,
		UnusedUploadExpiry: time.Duration(opts.Config.UnusedUploadExpiry),
		MaxPendingUploads:  opts.Config.MaxPendingUploads,
		Remote:             opts.Remote,
		ThumbnailSizes:     thumbnailSizes(opts.Config.ThumbnailSizes),
		ThumbnailLimits:    thumbnail.Limits{MaxPixels: opts.Config.MaxThumbnailPixels},
	}, store, opts.Log, opts.Registerer)
	if err != nil {
		return nil, err
	}
	previews, err := newURLPreviews(m, opts.Config.URLPreview)
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	tr, err := internal.NewTranscriber(m, transcribeConfig(opts.Config.Transcription), opts.Registerer)
	if err != nil {
		if previews != nil {
			previews.Close()
		}
		_ = m.Close()
		return nil, err
	}
	routing.Setup(opts.Router, m, opts.Users, routing.Options{
		LegacyEnabled: opts.Config.LegacyMedia.Enabled,
		FrozenAfter:   frozen,
		Previews:      previews,
		Transcriber:   tr,
	})
	return &MediaAPI{Media: m, previews: previews, transcriber: tr}, nil
}

// newURLPreviews is the preview_url service cfg describes, nil when it is
// off.
func newURLPreviews(m *internal.Media, cfg config.URLPreview) (*internal.URLPreviews, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	return internal.NewURLPreviews(m, internal.PreviewOptions{
		Fetch: preview.Config{
			IPRangeWhitelist: cfg.IPRangeWhitelist,
			IPRangeBlacklist: cfg.IPRangeBlacklist,
			MaxBytes:         cfg.MaxBytes,
			Timeout:          time.Duration(cfg.Timeout),
		},
		CacheTTL: time.Duration(cfg.CacheTTL),
	})
}

// Close stops the component: URL previews, the transcriptions still
// running, the sweep of expired media IDs.
func (a *MediaAPI) Close() error {
	if a.previews != nil {
		a.previews.Close()
	}
	a.transcriber.Close()
	return a.Media.Close()
}

// transcribeConfig is the transcription section of the configuration as the
// transcribe package takes it.
func transcribeConfig(c config.Transcription) transcribe.Config {
	return transcribe.Config{
		Engine:        c.Engine,
		Timeout:       time.Duration(c.Timeout),
		MaxConcurrent: c.MaxConcurrent,
		Pocketsphinx: transcribe.PocketsphinxConfig{
			Binary:   c.Pocketsphinx.Binary,
			HMM:      c.Pocketsphinx.HMM,
			LM:       c.Pocketsphinx.LM,
			Dict:     c.Pocketsphinx.Dict,
			Language: c.Pocketsphinx.Language,
		},
		OpenAI: transcribe.OpenAIConfig{URL: c.OpenAI.URL, Model: c.OpenAI.Model, APIKey: c.OpenAI.APIKey},
		Baidu: transcribe.BaiduConfig{
			APIKey:       c.Baidu.APIKey,
			SecretKey:    c.Baidu.SecretKey,
			TokenURL:     c.Baidu.TokenURL,
			RecognizeURL: c.Baidu.RecognizeURL,
			DevPID:       c.Baidu.DevPID,
		},
	}
}

// thumbnailSizes are the configured sizes (media_api.thumbnail_sizes) in
// the thumbnail package's terms.
func thumbnailSizes(configured []config.ThumbnailSize) thumbnail.Sizes {
	sizes := make(thumbnail.Sizes, 0, len(configured))
	for _, s := range configured {
		sizes = append(sizes, thumbnail.Size{Width: s.Width, Height: s.Height, Method: thumbnail.Method(s.Method)})
	}
	return sizes
}
