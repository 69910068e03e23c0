// Package transcribe turns voice messages into text for the media
// component's transcription extension
// (POST /_matrix/client/unstable/im.myelin/media/transcribe/...).
//
// An Engine takes an audio file on disk, whatever its container (Ogg/Opus
// voice messages, MP3, WAV, M4A, WebM), converts it with ffmpeg to 16 kHz
// mono PCM and hands that to a recognizer: pocketsphinx (offline, Debian's
// pocketsphinx and pocketsphinx-en-us), any OpenAI-compatible
// /v1/audio/transcriptions server (whisper.cpp, faster-whisper, the hosted
// API) or Baidu's speech recognition REST API. New picks the engine from
// Config; with none configured it takes pocketsphinx when it is installed,
// so a fresh install transcribes out of the box:
//
//	eng, err := transcribe.New(cfg)
//	if errors.Is(err, transcribe.ErrNoEngine) { … answer 501 with err … }
//	res, err := eng.Transcribe(ctx, transcribe.Audio{Path: p, ContentType: "audio/ogg"})
//
// Every engine runs under the same limits: at most Config.MaxConcurrent
// transcriptions at once and Config.Timeout for each, waiting included. The
// errors returned are the sentinels of errors.go, each with its Matrix
// status and errcode.
package transcribe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Engine names (Config.Engine).
const (
	EnginePocketsphinx = "pocketsphinx"
	EngineOpenAI       = "openai"
	EngineBaidu        = "baidu"
)

// DefaultTimeout is Config.Timeout's default. pocketsphinx needs about
// 0.6 s of CPU per second of speech plus a second to load its model, so
// this is a voice message of about three minutes on an idle CPU, or a
// remote engine's round trip.
const DefaultTimeout = 2 * time.Minute

// DefaultMaxConcurrent is Config.MaxConcurrent's default: half the CPUs
// (at least one), since ffmpeg and pocketsphinx each keep a CPU busy and the
// homeserver needs the rest.
func DefaultMaxConcurrent() int { return max(1, runtime.NumCPU()/2) }

// Config chooses and sets up the engine. Zero fields take their defaults.
type Config struct {
	// Engine is pocketsphinx, openai or baidu; empty means pocketsphinx when
	// it is installed (PocketsphinxConfig.Available), else none (ErrNoEngine).
	Engine string
	// Timeout bounds one transcription, waiting for a free slot included.
	Timeout time.Duration
	// MaxConcurrent is how many transcriptions run at once; more wait.
	MaxConcurrent int
	// Pocketsphinx configures the offline engine.
	Pocketsphinx PocketsphinxConfig
	// OpenAI configures the OpenAI-compatible engine.
	OpenAI OpenAIConfig
	// Baidu configures Baidu's speech recognition.
	Baidu BaiduConfig
}

// Audio is a file to transcribe.
type Audio struct {
	// Path is the media file on disk (ffmpeg reads files).
	Path string
	// ContentType is the type the file was uploaded with; it must be audio/*.
	ContentType string
	// Language is the language spoken, optional: an ISO 639-1 code or a
	// BCP 47 tag ("en", "zh-CN"); only its primary subtag is used.
	Language string
}

// Result is a transcription.
type Result struct {
	// Text is what was said; empty when the engine heard no speech.
	Text string
	// Engine is the name of the engine that transcribed it.
	Engine string
	// Language is the language transcribed, empty when the engine does not
	// say (an OpenAI-compatible server asked without a language).
	Language string
	// DurationMS is how long the audio plays, in milliseconds.
	DurationMS int64
}

// Engine transcribes audio files.
type Engine interface {
	// Name is the engine's name, as in Config.Engine.
	Name() string
	// Transcribe returns the text spoken in audio. Its errors are ErrNotAudio,
	// ErrLanguage, ErrTooLong, ErrEngine and ErrTimeout (or ctx's own error
	// when the caller gave up).
	Transcribe(ctx context.Context, audio Audio) (Result, error)
}

// recognizer is what an engine adds to the shared pipeline: turning
// converted audio into text.
type recognizer interface {
	name() string
	// language resolves the requested language (a primary subtag, maybe
	// empty) to the one the engine will transcribe, or fails with ErrLanguage.
	language(requested string) (string, error)
	// maxDuration is the longest audio the engine takes; 0 for no limit.
	maxDuration() time.Duration
	// recognize returns the text spoken in c.
	recognize(ctx context.Context, c *clip, language string) (string, error)
}

// New returns the engine cfg chooses. It fails with ErrNoEngine (with a
// detail saying what is missing) when no engine can run on this machine, and
// with another error when cfg is wrong.
func New(cfg Config) (Engine, error) {
	rec, err := newRecognizer(cfg)
	if err != nil {
		return nil, err
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoEngine.with("ffmpeg, which every engine needs to decode audio, is not installed")
	}
	timeout, slots := cfg.Timeout, cfg.MaxConcurrent
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if slots <= 0 {
		slots = DefaultMaxConcurrent()
	}
	return &pipeline{rec: rec, ffmpeg: ffmpeg, timeout: timeout, slots: make(chan struct{}, slots)}, nil
}

// newRecognizer builds the recognizer cfg.Engine names.
func newRecognizer(cfg Config) (recognizer, error) {
	switch cfg.Engine {
	case "", EnginePocketsphinx:
		if missing := cfg.Pocketsphinx.missing(); missing != "" {
			return nil, ErrNoEngine.with("%s", missing)
		}
		return newPocketsphinx(cfg.Pocketsphinx)
	case EngineOpenAI:
		return newOpenAI(cfg.OpenAI)
	case EngineBaidu:
		return newBaidu(cfg.Baidu)
	}
	return nil, fmt.Errorf("transcription engine %q: must be one of %s, %s, %s (or empty for pocketsphinx when installed)",
		cfg.Engine, EnginePocketsphinx, EngineOpenAI, EngineBaidu)
}

// pipeline is the Engine: checks, limits and conversion shared by every
// recognizer.
type pipeline struct {
	rec     recognizer
	ffmpeg  string
	timeout time.Duration
	slots   chan struct{} // a token per running transcription
}

// errTimedOut is the cause of a transcription's context ending at its
// Timeout, told apart from the caller giving up.
var errTimedOut = errors.New("transcription time limit reached")

// Name is the recognizer's name.
func (p *pipeline) Name() string { return p.rec.name() }

// Transcribe checks that audio is audio in a language the engine knows,
// waits for a free slot, converts it and recognizes it, all within the
// timeout.
func (p *pipeline) Transcribe(ctx context.Context, audio Audio) (Result, error) {
	if err := checkAudio(audio); err != nil {
		return Result{}, err
	}
	language, err := p.rec.language(PrimaryLanguage(audio.Language))
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.timeout, errTimedOut)
	defer cancel()
	res, err := p.transcribe(ctx, audio.Path, language)
	if err != nil && errors.Is(context.Cause(ctx), errTimedOut) {
		return Result{}, ErrTimeout.with("%s did not finish within %s", p.rec.name(), p.timeout)
	}
	return res, err
}

// transcribe runs one transcription in a slot, converting the file in a
// temporary directory removed afterwards. Audio longer than the engine
// takes is converted only up to just past its limit, which is enough to
// know it is too long.
func (p *pipeline) transcribe(ctx context.Context, path, language string) (Result, error) {
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("wait for a free transcription slot: %w", context.Cause(ctx))
	}
	dir, err := os.MkdirTemp("", "myelin-transcribe-")
	if err != nil {
		return Result{}, fmt.Errorf("transcribe: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a leftover temporary file is no reason to fail
	limit := p.rec.maxDuration()
	c, err := convert(ctx, p.ffmpeg, path, dir, limit)
	if err != nil {
		return Result{}, err
	}
	if limit > 0 && c.duration() > limit {
		return Result{}, ErrTooLong.with("%s takes at most %g s of audio", p.rec.name(), limit.Seconds())
	}
	text, err := p.rec.recognize(ctx, c, language)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Text:       text,
		Engine:     p.rec.name(),
		Language:   language,
		DurationMS: c.duration().Milliseconds(),
	}, nil
}

// checkAudio refuses a file that is not audio (IsAudio) before any program
// reads it, saying which of its type and its contents is wrong.
func checkAudio(audio Audio) error {
	f, err := os.Open(audio.Path)
	if err != nil {
		return fmt.Errorf("open audio: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	header := make([]byte, SniffLen)
	n, err := io.ReadFull(f, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read audio: %w", err)
	}
	if !audioType(audio.ContentType) {
		return ErrNotAudio.with("its type is %q, not audio/*", audio.ContentType)
	}
	if !audioContainer(header[:n]) {
		return ErrNotAudio.with("its contents are in no audio format")
	}
	return nil
}

// PrimaryLanguage is the primary subtag of a BCP 47 tag, lower case: the
// ISO 639 code engines know ("zh-CN" → "zh"), and all of a requested
// language that changes what an engine does (so, what a kept
// transcription is found by).
func PrimaryLanguage(tag string) string {
	primary, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	primary, _, _ = strings.Cut(primary, "_")
	return strings.ToLower(primary)
}
