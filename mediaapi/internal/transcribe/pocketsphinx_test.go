package transcribe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/speech"
)

// TestPocketsphinxTranscribesSpeech transcribes three sentences spoken by
// espeak-ng, as WAV and as Ogg/Opus voice messages, with the engine a fresh
// install picks, and reports the word error rate of each.
func TestPocketsphinxTranscribesSpeech(t *testing.T) {
	requirePocketsphinx(t)
	tmp := isolateTemp(t)
	eng, err := New(Config{})
	if err != nil {
		t.Fatalf("New with no engine configured: %v", err)
	}
	if eng.Name() != EnginePocketsphinx {
		t.Fatalf("engine %q, want pocketsphinx picked when installed", eng.Name())
	}
	dir := t.TempDir()
	var report []string
	for _, s := range speech.Sentences {
		wav, duration := speech.Speak(t, dir, s.Name, s.Text)
		for _, f := range speech.Formats {
			t.Run(s.Name+"/"+f.Name, func(t *testing.T) {
				res, err := eng.Transcribe(context.Background(), Audio{Path: speech.Encode(t, wav, f), ContentType: f.ContentType})
				if err != nil {
					t.Fatalf("Transcribe: %v", err)
				}
				wer := speech.WordErrorRate(s.Text, res.Text)
				report = append(report, fmt.Sprintf("%-8s %-8s WER %.2f  %q", s.Name, f.Name, wer, res.Text))
				t.Logf("heard %q for %q: WER %.2f", res.Text, s.Text, wer)
				assertResult(t, res, duration)
				heard := speech.Words(res.Text)
				for _, k := range s.Keys {
					if !slices.Contains(heard, k) {
						t.Errorf("%q not heard in %q (said %q)", k, res.Text, s.Text)
					}
				}
			})
		}
	}
	t.Logf("word error rates (pocketsphinx en-us, espeak-ng %s at %s wpm):\n%s", speech.Voice, speech.Speed, strings.Join(report, "\n"))
	assertNothingLeft(t, tmp)
}

// assertResult checks what every pocketsphinx result says besides the text.
func assertResult(t *testing.T, res Result, duration time.Duration) {
	t.Helper()
	if res.Engine != EnginePocketsphinx || res.Language != "en" {
		t.Errorf("engine %q language %q, want pocketsphinx en", res.Engine, res.Language)
	}
	// Opus encodes in 20 ms frames, so the Ogg file may run a frame longer.
	if got := time.Duration(res.DurationMS) * time.Millisecond; got < duration-30*time.Millisecond || got > duration+30*time.Millisecond {
		t.Errorf("duration %v, want %v", got, duration)
	}
}

func TestPocketsphinxRefusesOtherLanguages(t *testing.T) {
	requirePocketsphinx(t)
	eng, err := New(Config{Engine: EnginePocketsphinx})
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	_, err = eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav", Language: "zh-CN"})
	if !errors.Is(err, ErrLanguage) {
		t.Fatalf("Transcribe in zh-CN: %v, want ErrLanguage", err)
	}
	res, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav", Language: "en-US"})
	if err != nil || res.Language != "en" {
		t.Fatalf("Transcribe in en-US: %+v, %v; want en", res, err)
	}
}

// TestPocketsphinxMissing: without its program or model pocketsphinx is not
// available; New answers ErrNoEngine, whose message says what to install,
// whether pocketsphinx was named or picked by default.
func TestPocketsphinxMissing(t *testing.T) {
	speech.Require(t, "ffmpeg")
	for _, tc := range []struct {
		name string
		cfg  PocketsphinxConfig
		want string
	}{
		{"program", PocketsphinxConfig{Binary: "pocketsphinx_not_installed"}, "pocketsphinx_not_installed is not installed"},
		{"model", PocketsphinxConfig{HMM: t.TempDir()}, "model file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Available() {
				t.Fatal("Available with a part missing")
			}
			for _, engine := range []string{"", EnginePocketsphinx} {
				_, err := New(Config{Engine: engine, Pocketsphinx: tc.cfg})
				if !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), tc.want) ||
					!strings.Contains(err.Error(), "install pocketsphinx and pocketsphinx-en-us") {
					t.Errorf("New(engine %q): %v, want ErrNoEngine saying %q", engine, err, tc.want)
				}
			}
		})
	}
}

// TestPocketsphinxFailure: a model pocketsphinx cannot load is an engine
// failure whose message is pocketsphinx's own error line, not its log or
// where it is installed.
func TestPocketsphinxFailure(t *testing.T) {
	requirePocketsphinx(t)
	hmm := t.TempDir()
	if err := os.WriteFile(filepath.Join(hmm, "mdef"), []byte("not a model\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := New(Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{HMM: hmm}})
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	_, err = eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav"})
	if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "pocketsphinx_continuous: FATAL: ") ||
		strings.Contains(err.Error(), "INFO") {
		t.Fatalf("Transcribe with a broken model: %v, want ErrEngine with pocketsphinx's FATAL line", err)
	}
	if strings.Contains(err.Error(), "/usr/bin") {
		t.Errorf("the message names the program's path: %v", err)
	}
}
