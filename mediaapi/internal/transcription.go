package internal

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/transcribe"
	"github.com/myelin-im/myelin/mediaapi/storage"
)

// Transcriber turns the voice messages users may download into text (the
// im.myelin.transcribe extension). Each media item is transcribed once per
// engine and requested language: the result is kept in the database and
// later requests are answered from there; requests arriving while it runs
// wait for that run instead of starting their own.
type Transcriber struct {
	media  *Media
	engine transcribe.Engine
	// noEngine is why engine is nil (transcribe.ErrNoEngine saying what is
	// missing), answered to every request.
	noEngine error
	flights  singleflight.Group
	metrics  *transcriptionMetrics
	log      logrus.FieldLogger

	// stopped ends the runs still going when the component closes.
	stopped context.Context
	stop    context.CancelFunc
}

// NewTranscriber builds the engine cfg chooses. When none can run on this
// machine (transcribe.ErrNoEngine) the transcriber still works and answers
// every request with that error; a configuration the engine refuses is an
// error.
func NewTranscriber(media *Media, cfg transcribe.Config, reg prometheus.Registerer) (*Transcriber, error) {
	met, err := newTranscriptionMetrics(reg)
	if err != nil {
		return nil, err
	}
	t := &Transcriber{media: media, metrics: met, log: media.log}
	t.engine, err = transcribe.New(cfg)
	switch {
	case errors.Is(err, transcribe.ErrNoEngine):
		t.noEngine = err
		t.log.WithError(err).Warn("voice-message transcription is off")
	case err != nil:
		return nil, fmt.Errorf("media: %w", err)
	default:
		t.log.WithField("engine", t.engine.Name()).Info("voice-message transcription is on")
	}
	t.stopped, t.stop = context.WithCancel(context.Background())
	return t, nil
}

// Available reports whether an engine can run: without one every request
// fails with transcribe.ErrNoEngine.
func (t *Transcriber) Available() bool { return t.engine != nil }

// Close ends the transcriptions still running.
func (t *Transcriber) Close() { t.stop() }

// Transcribe returns the text spoken in mxc, which user must be allowed to
// download (Media.CheckDownload), in language (a BCP 47 tag, "" for the
// engine's default). Only the first request for an item, engine and primary
// language runs the engine.
func (t *Transcriber) Transcribe(ctx context.Context, user string, mxc api.MXC, language string) (transcribe.Result, error) {
	if t.engine == nil {
		return transcribe.Result{}, t.noEngine
	}
	if _, err := t.media.CheckDownload(ctx, user, mxc); err != nil {
		return transcribe.Result{}, err
	}
	requested := transcribe.PrimaryLanguage(language)
	if kept, err := t.kept(ctx, mxc, requested); kept != nil || err != nil {
		return resultOf(kept), err
	}
	return t.shared(ctx, mxc, requested)
}

// kept returns the transcription already kept for mxc by this engine in the
// requested language, counting the answer from the cache; nil when none.
func (t *Transcriber) kept(ctx context.Context, mxc api.MXC, requested string) (*storage.Transcription, error) {
	kept, err := t.media.store.Transcription(ctx, mxc, t.engine.Name(), requested)
	if kept != nil {
		t.metrics.cacheHits.WithLabelValues(t.engine.Name()).Inc()
	}
	return kept, err
}

// shared joins the run for mxc in the requested language, starting it when
// none is going. The run is not the caller's: it goes on (its result kept)
// when the caller gives up, within the engine's time limit.
func (t *Transcriber) shared(ctx context.Context, mxc api.MXC, requested string) (transcribe.Result, error) {
	key := mxc.String() + "\x00" + requested
	run := t.flights.DoChan(key, func() (any, error) {
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(t.stopped, cancel)()
		return t.run(runCtx, mxc, requested)
	})
	select {
	case r := <-run:
		if r.Err != nil {
			return transcribe.Result{}, r.Err
		}
		return r.Val.(transcribe.Result), nil
	case <-ctx.Done():
		return transcribe.Result{}, fmt.Errorf("media: waiting for the transcription of %s: %w", mxc, ctx.Err())
	}
}

// run transcribes mxc, unless a run that ended just before this one began
// has kept it already, and keeps the result.
func (t *Transcriber) run(ctx context.Context, mxc api.MXC, requested string) (transcribe.Result, error) {
	if kept, err := t.kept(ctx, mxc, requested); kept != nil || err != nil {
		return resultOf(kept), err
	}
	audio, err := t.audio(ctx, mxc, requested)
	if err != nil {
		return transcribe.Result{}, err
	}
	res, err := t.engine.Transcribe(ctx, audio)
	t.metrics.ran(t.engine.Name(), err)
	if err != nil {
		return transcribe.Result{}, fmt.Errorf("media: transcribing %s: %w", mxc, err)
	}
	t.keep(ctx, mxc, requested, res)
	return res, nil
}

// audio finds mxc's file the way downloads do (Media.Open, which is where
// remote media is fetched) and refuses it before any program reads it when
// it is not audio: its type must be audio/* and its first bytes an audio
// container.
func (t *Transcriber) audio(ctx context.Context, mxc api.MXC, requested string) (transcribe.Audio, error) {
	md, content, err := t.media.Open(ctx, mxc, 0)
	if err != nil {
		return transcribe.Audio{}, err
	}
	defer func() { _ = content.Close() }()
	header := make([]byte, transcribe.SniffLen)
	n, err := io.ReadFull(content, header)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return transcribe.Audio{}, fmt.Errorf("media: reading %s: %w", mxc, err)
	}
	if !transcribe.IsAudio(md.ContentType, header[:n]) {
		return transcribe.Audio{}, fmt.Errorf("media: %s (%s): %w", mxc, md.ContentType, transcribe.ErrNotAudio)
	}
	path, err := t.media.FilePath(md)
	if err != nil {
		return transcribe.Audio{}, err
	}
	return transcribe.Audio{Path: path, ContentType: md.ContentType, Language: requested}, nil
}

// keep stores res for later requests. A failure is logged, not answered:
// the caller has the text, and the next request runs the engine again.
func (t *Transcriber) keep(ctx context.Context, mxc api.MXC, requested string, res transcribe.Result) {
	err := t.media.store.InsertTranscription(ctx, &storage.Transcription{
		Media:      mxc,
		Engine:     res.Engine,
		Requested:  requested,
		Text:       res.Text,
		Language:   res.Language,
		DurationMS: res.DurationMS,
		CreatedTS:  t.media.nowMs(),
	})
	if err != nil {
		t.log.WithError(err).WithField("media", mxc.String()).Warn("keeping a transcription failed")
	}
}

// resultOf is a kept transcription as the engine gave it (zero for nil).
func resultOf(kept *storage.Transcription) transcribe.Result {
	if kept == nil {
		return transcribe.Result{}
	}
	return transcribe.Result{Text: kept.Text, Engine: kept.Engine, Language: kept.Language, DurationMS: kept.DurationMS}
}
