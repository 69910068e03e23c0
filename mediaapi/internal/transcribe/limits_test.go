package transcribe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/speech"
)

// TestConcurrencyLimit: no more than MaxConcurrent transcriptions run at
// once; the others wait for a slot and then succeed.
func TestConcurrencyLimit(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	const requests = 6
	var inFlight, most, arrived atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		speech.ReadWhisperRequest(t, r)
		arrived.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// Hold the request until a second one is in flight too (unless
		// every request has arrived: the last may be alone), so that a
		// busy machine's slow conversions cannot keep the requests from
		// overlapping, then a little longer, for a third to show up if
		// the limit let it in.
		for wait := time.Now().Add(10 * time.Second); inFlight.Load() < 2 && arrived.Load() < requests && time.Now().Before(wait); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		inFlight.Add(-1)
		speech.WriteJSON(w, http.StatusOK, `{"text":"please call me tomorrow morning"}`)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{MaxConcurrent: 2, OpenAI: OpenAIConfig{URL: srv.URL}})
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			if _, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav"}); err != nil {
				t.Errorf("Transcribe: %v", err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 2 {
		t.Errorf("at most %d transcriptions ran at once, want 2", most.Load())
	}
}

// TestCallerGivesUpWaiting: a request waiting for a slot stops when its
// caller's context ends, with the caller's error (not ErrTimeout: the
// engine did not time out), and never reaches the engine.
func TestCallerGivesUpWaiting(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	arrived, release := make(chan struct{}), make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		speech.ReadWhisperRequest(t, r)
		if requests.Add(1) == 1 {
			close(arrived)
		}
		<-release
		speech.WriteJSON(w, http.StatusOK, `{"text":"please call me tomorrow morning"}`)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{MaxConcurrent: 1, OpenAI: OpenAIConfig{URL: srv.URL}})
	audio := Audio{Path: must(speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)), ContentType: "audio/wav"}
	first := make(chan error)
	go func() {
		_, err := eng.Transcribe(context.Background(), audio)
		first <- err
	}()
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := eng.Transcribe(ctx, audio)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("Transcribe waiting for a slot past the caller's deadline: %v, want the caller's deadline", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("the transcription holding the slot: %v", err)
	}
	if requests.Load() != 1 {
		t.Errorf("the engine got %d requests, want only the first", requests.Load())
	}
}

// must drops speak's duration.
func must(path string, _ time.Duration) string { return path }

// TestTimeoutRemoteEngine: a server that does not answer in time is
// ErrTimeout, and the request to it is cancelled. The limit leaves the
// conversion before the request ample time on a busy machine: the limit
// covers it too, and a request never sent could not be cancelled.
func TestTimeoutRemoteEngine(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	const limit = 3 * time.Second
	reached, cancelled := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		speech.ReadWhisperRequest(t, r)
		close(reached)
		<-r.Context().Done()
		close(cancelled)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{Timeout: limit, OpenAI: OpenAIConfig{URL: srv.URL}})
	audio := Audio{Path: must(speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)), ContentType: "audio/wav"}
	start := time.Now()
	_, err := eng.Transcribe(context.Background(), audio)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "openai did not finish within 3s") {
		t.Fatalf("Transcribe: %v, want ErrTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > limit+2*time.Second {
		t.Errorf("Transcribe returned after %v with a %v timeout", elapsed, limit)
	}
	select {
	case <-reached:
	default:
		t.Fatal("the time limit passed before the request reached the engine")
	}
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Error("the request to the engine was not cancelled")
	}
}

// TestTimeoutKillsPrograms: at the time limit ffmpeg (converting a long
// voice message) or pocketsphinx (recognizing a long recording) is killed,
// the error is ErrTimeout and no process or temporary file is left.
func TestTimeoutKillsPrograms(t *testing.T) {
	requirePocketsphinx(t)
	dir := t.TempDir()
	silence := filepath.Join(dir, "silence.ogg") // ten minutes: ffmpeg needs about a second
	speech.FFmpeg(t, "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "600", "-c:a", "libopus", "-b:a", "24k", silence)
	// About two minutes of speech: converted at once, and pocketsphinx
	// needs about as long to recognize it. (Noise is no good here: on some
	// machines its voice detection drops the whole of it in a second.)
	long, spoken := speech.Speak(t, dir, "long", strings.Repeat("please call me tomorrow morning about the meeting. ", 40))
	if spoken < time.Minute {
		t.Fatalf("the long recording plays for %v, want over a minute", spoken)
	}
	for _, tc := range []struct {
		name    string
		audio   Audio
		timeout time.Duration
	}{
		{"ffmpeg", Audio{Path: silence, ContentType: "audio/ogg"}, 200 * time.Millisecond},
		{"pocketsphinx", Audio{Path: long, ContentType: "audio/wav"}, 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := isolateTemp(t)
			eng, err := New(Config{Engine: EnginePocketsphinx, Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = eng.Transcribe(context.Background(), tc.audio)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Transcribe: %v, want ErrTimeout", err)
			}
			if elapsed := time.Since(start); elapsed > tc.timeout+2*time.Second {
				t.Errorf("Transcribe returned after %v with a %v timeout", elapsed, tc.timeout)
			}
			assertNothingLeft(t, tmp)
		})
	}
}
