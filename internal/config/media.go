package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Defaults of the media settings.
const (
	DefaultMediaDirName         = "media"
	DefaultMaxUploadBytes       = 100 << 20
	DefaultUnusedUploadExpiry   = 24 * time.Hour
	MinUnusedUploadExpiry       = time.Minute
	DefaultMaxPendingUploads    = 5
	DefaultMaxThumbnailPixels   = 32_000_000
	DefaultURLPreviewMaxBytes   = 10 << 20
	DefaultURLPreviewTimeout    = 10 * time.Second
	DefaultURLPreviewCacheTTL   = time.Hour
	DefaultTranscriptionTimeout = 2 * time.Minute
	DefaultOpenAIURL            = "https://api.openai.com"
	DefaultOpenAIModel          = "whisper-1"
	DefaultBaiduTokenURL        = "https://aip.baidubce.com/oauth/2.0/token"
	DefaultBaiduRecognizeURL    = "https://vop.baidu.com/server_api"
	DefaultBaiduDevPID          = 1537
)

// Thumbnail methods (ThumbnailSize.Method), as the spec names them
// (client-server API, "Thumbnails").
const (
	ThumbnailCrop  = "crop"
	ThumbnailScale = "scale"
)

// Transcription engines (Transcription.Engine).
const (
	TranscriptionAuto         = ""
	TranscriptionPocketsphinx = "pocketsphinx"
	TranscriptionOpenAI       = "openai"
	TranscriptionBaidu        = "baidu"
)

var (
	thumbnailMethods     = []string{ThumbnailCrop, ThumbnailScale}
	transcriptionEngines = []string{TranscriptionAuto, TranscriptionPocketsphinx, TranscriptionOpenAI, TranscriptionBaidu}
)

// DefaultThumbnailSizes are the sizes the spec recommends servers produce
// (client-server API, "Thumbnails"), which Synapse also uses.
var DefaultThumbnailSizes = []ThumbnailSize{
	{Width: 32, Height: 32, Method: ThumbnailCrop},
	{Width: 96, Height: 96, Method: ThumbnailCrop},
	{Width: 320, Height: 240, Method: ThumbnailScale},
	{Width: 640, Height: 480, Method: ThumbnailScale},
	{Width: 800, Height: 600, Method: ThumbnailScale},
}

// MediaAPI configures the content repository (uploads, downloads,
// thumbnails, URL previews, transcription).
type MediaAPI struct {
	// BasePath is the directory media files are kept in; "" means
	// <data_dir>/media (see Config.MediaBasePath).
	BasePath string `yaml:"base_path"`
	// MaxUploadBytes is the largest file accepted. Default 100 MiB.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// UserQuotaBytes is how many bytes each user may upload in total; 0
	// means no quota (the default).
	UserQuotaBytes int64 `yaml:"user_quota_bytes"`
	// UnusedUploadExpiry is how long a media ID made by POST
	// /_matrix/media/v1/create waits for its upload. Default 24h, >= 1m.
	UnusedUploadExpiry Duration `yaml:"unused_upload_expiry"`
	// MaxPendingUploads is how many created, not yet uploaded media IDs
	// a user may hold at once. Default 5.
	MaxPendingUploads int `yaml:"max_pending_uploads"`
	// LegacyMedia governs the unauthenticated /_matrix/media/v3/download
	// paths.
	LegacyMedia LegacyMedia `yaml:"legacy_media"`
	// MaxThumbnailPixels is the largest image (width × height) thumbnailed.
	// Default 32,000,000.
	MaxThumbnailPixels int64 `yaml:"max_thumbnail_pixels"`
	// ThumbnailSizes are generated for images on upload. Default: the
	// spec's recommended sizes (DefaultThumbnailSizes).
	ThumbnailSizes []ThumbnailSize `yaml:"thumbnail_sizes"`
	URLPreview     URLPreview      `yaml:"url_preview"`
	Transcription  Transcription   `yaml:"transcription"`
}

// LegacyMedia governs the deprecated unauthenticated download paths (spec:
// content repository, "Client behaviour", the freeze).
type LegacyMedia struct {
	// Enabled serves the unauthenticated paths. Default true. Defaults
	// never changes it, since false is meaningful: only Default sets it.
	Enabled bool `yaml:"enabled"`
	// FrozenAfter, an RFC 3339 time, freezes the unauthenticated paths:
	// media stored after it is served only on the authenticated ones. ""
	// means no freeze.
	FrozenAfter string `yaml:"frozen_after"`
}

// ThumbnailSize is one thumbnail size generated on upload.
type ThumbnailSize struct {
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
	Method string `yaml:"method"` // crop or scale
}

// URLPreview configures GET /_matrix/client/v1/media/preview_url.
type URLPreview struct {
	// Enabled serves URL previews. Default true. Defaults never changes it,
	// since false is meaningful: only Default sets it.
	Enabled bool `yaml:"enabled"`
	// IPRangeWhitelist lists addresses (CIDR ranges or single addresses)
	// previews may fetch even though they are private, loopback or
	// link-local, or in IPRangeBlacklist.
	IPRangeWhitelist []string `yaml:"ip_range_whitelist"`
	// IPRangeBlacklist lists addresses refused besides the private,
	// loopback and link-local ranges, which are always refused.
	IPRangeBlacklist []string `yaml:"ip_range_blacklist"`
	// MaxBytes is the most of a page or image fetched. Default 10 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Timeout bounds one fetch. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// CacheTTL is how long a preview is reused. Default 1h.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// Transcription configures voice-message transcription
// (mediaapi/internal/transcribe, whose Config it fills).
type Transcription struct {
	// Engine is "" (pocketsphinx when installed), pocketsphinx, openai or
	// baidu.
	Engine string `yaml:"engine"`
	// Timeout bounds one transcription, waiting for a free slot included.
	// Default 2m.
	Timeout Duration `yaml:"timeout"`
	// MaxConcurrent bounds transcriptions running at once; 0 (the
	// default) means half the CPUs, at least one.
	MaxConcurrent int                `yaml:"max_concurrent"`
	Pocketsphinx  PocketsphinxEngine `yaml:"pocketsphinx"`
	OpenAI        OpenAIEngine       `yaml:"openai"`
	Baidu         BaiduEngine        `yaml:"baidu"`
}

// PocketsphinxEngine is the offline engine (Debian's pocketsphinx and
// pocketsphinx-en-us; ffmpeg from PATH). Each empty field takes the
// transcribe package's default: pocketsphinx_continuous and the US
// English model of pocketsphinx-en-us.
type PocketsphinxEngine struct {
	// Binary is the pocketsphinx_continuous program, a path or a name in
	// PATH.
	Binary string `yaml:"binary"`
	// HMM is the acoustic model's directory (-hmm).
	HMM string `yaml:"hmm"`
	// LM is the language model (-lm).
	LM string `yaml:"lm"`
	// Dict is the pronunciation dictionary (-dict).
	Dict string `yaml:"dict"`
	// Language is the model's language (ISO 639-1); others are refused.
	Language string `yaml:"language"`
}

// OpenAIEngine is an OpenAI-compatible /v1/audio/transcriptions server.
type OpenAIEngine struct {
	// URL is the server's base URL (…/v1/audio/transcriptions is added).
	// Default https://api.openai.com.
	URL string `yaml:"url"`
	// Model is the model asked for. Default "whisper-1".
	Model string `yaml:"model"`
	// APIKey is sent as a Bearer token; "" sends none.
	APIKey string `yaml:"api_key"`
}

// BaiduEngine is Baidu's speech recognition REST API.
type BaiduEngine struct {
	APIKey       string `yaml:"api_key"`
	SecretKey    string `yaml:"secret_key"`
	TokenURL     string `yaml:"token_url"`
	RecognizeURL string `yaml:"recognize_url"`
	// DevPID picks the language model. Default 1537 (Mandarin).
	DevPID int `yaml:"dev_pid"`
}

// Defaults fills the zero fields of m. It leaves LegacyMedia.Enabled and
// URLPreview.Enabled alone.
func (m *MediaAPI) Defaults() {
	setDefault(&m.MaxUploadBytes, DefaultMaxUploadBytes)
	setDefault(&m.UnusedUploadExpiry, Duration(DefaultUnusedUploadExpiry))
	setDefault(&m.MaxPendingUploads, DefaultMaxPendingUploads)
	setDefault(&m.MaxThumbnailPixels, DefaultMaxThumbnailPixels)
	if len(m.ThumbnailSizes) == 0 {
		m.ThumbnailSizes = slices.Clone(DefaultThumbnailSizes)
	}
	m.URLPreview.Defaults()
	m.Transcription.Defaults()
}

// Defaults fills the zero fields of u. It leaves Enabled alone.
func (u *URLPreview) Defaults() {
	setDefault(&u.MaxBytes, DefaultURLPreviewMaxBytes)
	setDefault(&u.Timeout, Duration(DefaultURLPreviewTimeout))
	setDefault(&u.CacheTTL, Duration(DefaultURLPreviewCacheTTL))
	if len(u.IPRangeWhitelist) == 0 {
		u.IPRangeWhitelist = nil
	}
	if len(u.IPRangeBlacklist) == 0 {
		u.IPRangeBlacklist = nil
	}
}

// Defaults fills the zero fields of t.
func (t *Transcription) Defaults() {
	setDefault(&t.Timeout, Duration(DefaultTranscriptionTimeout))
	setDefault(&t.OpenAI.URL, DefaultOpenAIURL)
	setDefault(&t.OpenAI.Model, DefaultOpenAIModel)
	setDefault(&t.Baidu.TokenURL, DefaultBaiduTokenURL)
	setDefault(&t.Baidu.RecognizeURL, DefaultBaiduRecognizeURL)
	setDefault(&t.Baidu.DevPID, DefaultBaiduDevPID)
}

// Verify records the problems of m in errs.
func (m *MediaAPI) Verify(errs *Errors) {
	if m.BasePath != "" && strings.TrimSpace(m.BasePath) == "" {
		errs.Add("media_api.base_path", "must be empty (<data_dir>/media) or a directory")
	}
	if m.MaxUploadBytes < 1 {
		errs.Add("media_api.max_upload_bytes", "must be >= 1 (got %d)", m.MaxUploadBytes)
	}
	if m.UserQuotaBytes < 0 {
		errs.Add("media_api.user_quota_bytes", "must be >= 0, where 0 means no quota (got %d)", m.UserQuotaBytes)
	}
	if time.Duration(m.UnusedUploadExpiry) < MinUnusedUploadExpiry {
		errs.Add("media_api.unused_upload_expiry", "must be >= %s (got %s)", Duration(MinUnusedUploadExpiry), m.UnusedUploadExpiry)
	}
	if m.MaxPendingUploads < 1 {
		errs.Add("media_api.max_pending_uploads", "must be >= 1 (got %d)", m.MaxPendingUploads)
	}
	if _, err := m.LegacyMedia.FrozenAfterTime(); err != nil {
		errs.Add("media_api.legacy_media.frozen_after", "%v", err)
	}
	if m.MaxThumbnailPixels < 1 {
		errs.Add("media_api.max_thumbnail_pixels", "must be >= 1 (got %d)", m.MaxThumbnailPixels)
	}
	for i, s := range m.ThumbnailSizes {
		s.verify(errs, fmt.Sprintf("media_api.thumbnail_sizes[%d]", i))
	}
	m.URLPreview.Verify(errs)
	m.Transcription.Verify(errs)
}

// FrozenAfterTime parses FrozenAfter: the zero time when there is no
// freeze.
func (l *LegacyMedia) FrozenAfterTime() (time.Time, error) {
	if l.FrozenAfter == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, l.FrozenAfter)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be empty (no freeze) or an RFC 3339 time such as 2024-09-01T00:00:00Z (got %q)", l.FrozenAfter)
	}
	return t, nil
}

func (s ThumbnailSize) verify(errs *Errors, section string) {
	if s.Width < 1 || s.Height < 1 {
		errs.Add(section, "width and height must be >= 1 (got %dx%d)", s.Width, s.Height)
	}
	checkOneOf(errs, section+".method", s.Method, thumbnailMethods)
}

// Verify records the problems of u in errs.
func (u *URLPreview) Verify(errs *Errors) {
	checkIPRanges(errs, "media_api.url_preview.ip_range_whitelist", u.IPRangeWhitelist)
	checkIPRanges(errs, "media_api.url_preview.ip_range_blacklist", u.IPRangeBlacklist)
	if u.MaxBytes < 1 {
		errs.Add("media_api.url_preview.max_bytes", "must be >= 1 (got %d)", u.MaxBytes)
	}
	if u.Timeout <= 0 {
		errs.Add("media_api.url_preview.timeout", "must be > 0 (got %s)", u.Timeout)
	}
	if u.CacheTTL < 0 {
		errs.Add("media_api.url_preview.cache_ttl", "must be >= 0 (got %s)", u.CacheTTL)
	}
}

// ParseIPRange reads an entry of an IP range list: a CIDR range, or a
// single address (a range of one).
func ParseIPRange(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range or an IP address", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkIPRanges(errs *Errors, section string, ranges []string) {
	for _, r := range ranges {
		if _, err := ParseIPRange(r); err != nil {
			errs.Add(section, "%v", err)
		}
	}
}

// Verify records the problems of t in errs.
func (t *Transcription) Verify(errs *Errors) {
	checkOneOf(errs, "media_api.transcription.engine", t.Engine, transcriptionEngines)
	if t.Timeout <= 0 {
		errs.Add("media_api.transcription.timeout", "must be > 0 (got %s)", t.Timeout)
	}
	if t.MaxConcurrent < 0 {
		errs.Add("media_api.transcription.max_concurrent", "must be >= 0, where 0 means half the CPUs (got %d)", t.MaxConcurrent)
	}
	checkHTTPURL(errs, "media_api.transcription.openai.url", t.OpenAI.URL)
	if t.Engine == TranscriptionBaidu && (t.Baidu.APIKey == "" || t.Baidu.SecretKey == "") {
		errs.Add("media_api.transcription.baidu", "api_key and secret_key must be set when engine is baidu")
	}
	checkHTTPURL(errs, "media_api.transcription.baidu.token_url", t.Baidu.TokenURL)
	checkHTTPURL(errs, "media_api.transcription.baidu.recognize_url", t.Baidu.RecognizeURL)
}

// checkHTTPURL checks an absolute http(s) URL.
func checkHTTPURL(errs *Errors, section, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		errs.Add(section, "must be an absolute http(s) URL: %v", urlErr(err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs.Add(section, "must be an absolute http(s) URL (got %s)", describeURL(raw))
	}
}

// MediaBasePath returns the directory media files are kept in:
// MediaAPI.BasePath, or <data_dir>/media when that is empty.
func (c *Config) MediaBasePath() string {
	if c.MediaAPI.BasePath != "" {
		return c.MediaAPI.BasePath
	}
	return filepath.Join(c.Global.DataDir, DefaultMediaDirName)
}
