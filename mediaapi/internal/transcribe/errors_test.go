package transcribe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/test/speech"
)

// TestErrorsAnswerClients: each error reaches the client with its status,
// errcode and message (the kind's text and the detail, not the steps that
// wrapped it), and still matches its sentinel.
func TestErrorsAnswerClients(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		errcode string
	}{
		{ErrNotAudio, http.StatusBadRequest, "M_INVALID_PARAM"},
		{ErrLanguage, http.StatusBadRequest, "M_INVALID_PARAM"},
		{ErrTooLong, http.StatusRequestEntityTooLarge, "M_TOO_LARGE"},
		{ErrNoEngine, http.StatusNotImplemented, "M_UNRECOGNIZED"},
		{ErrEngine, http.StatusBadGateway, "M_UNKNOWN"},
		{ErrTimeout, http.StatusBadGateway, "M_UNKNOWN"},
	} {
		kind := tc.err.(*Error) //nolint:errorlint // the sentinels themselves
		detailed := fmt.Errorf("media transcribe: %w", kind.with("what %s said", "it"))
		me, ok := httputil.AsMatrixError(detailed)
		if !ok || me.Status != tc.status || me.ErrCode != tc.errcode || me.Message != kind.text+": what it said" {
			t.Errorf("%v answers %+v, want %d %s %q", kind, me, tc.status, tc.errcode, kind.text+": what it said")
		}
		if !errors.Is(detailed, tc.err) {
			t.Errorf("%v does not match its sentinel", detailed)
		}
		if errors.Is(detailed, ErrTimeout) != (tc.err == ErrTimeout) { //nolint:errorlint // comparing sentinels
			t.Errorf("%v matches ErrTimeout", detailed)
		}
	}
	if !strings.Contains(ErrNoEngine.Error(), "configure media_api.transcription.engine openai or baidu") {
		t.Errorf("ErrNoEngine does not say how to enable an engine: %v", ErrNoEngine)
	}
}

// TestNotAudio: files that are not audio, or that ffmpeg cannot decode, are
// refused with ErrNotAudio before any engine is asked.
func TestNotAudio(t *testing.T) {
	speech.Require(t, "ffmpeg")
	tmp := isolateTemp(t)
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		speech.WriteJSON(w, http.StatusOK, `{"text":"hello"}`)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL}})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	videoOnly := filepath.Join(dir, "video.mp4")
	speech.FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-an", videoOnly)
	for _, tc := range []struct {
		name  string
		audio Audio
		want  string
	}{
		{"picture as audio", Audio{Path: write("a.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")), ContentType: "audio/ogg"},
			"its contents are in no audio format"},
		{"audio as picture", Audio{Path: write("b.ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00")), ContentType: "image/png"},
			`its type is "image/png", not audio/*`},
		{"empty", Audio{Path: write("c.ogg", nil), ContentType: "audio/ogg"}, "its contents are in no audio format"},
		{"corrupt ogg", Audio{Path: write("d.ogg", []byte("OggS\x00\x02garbage, not pages of an ogg stream")), ContentType: "audio/ogg"},
			"ffmpeg cannot decode it"},
		{"video without sound", Audio{Path: videoOnly, ContentType: "audio/mp4"}, "ffmpeg cannot decode it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := eng.Transcribe(context.Background(), tc.audio)
			if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Transcribe: %v, want ErrNotAudio saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), tmp) {
				t.Errorf("the message tells the client where files are: %v", err)
			}
		})
	}
	if asked.Load() != 0 {
		t.Errorf("the engine was asked %d times about files that are not audio", asked.Load())
	}
	_, err := eng.Transcribe(context.Background(), Audio{Path: filepath.Join(dir, "missing.ogg"), ContentType: "audio/ogg"})
	if err == nil || errors.Is(err, ErrNotAudio) {
		t.Errorf("Transcribe of a missing file: %v, want a server error, not the client's", err)
	}
	assertNothingLeft(t, tmp)
}

// TestNewRefusesBadConfig: a configuration that cannot work is an error at
// startup, not ErrNoEngine at the first request.
func TestNewRefusesBadConfig(t *testing.T) {
	speech.Require(t, "ffmpeg")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown engine", Config{Engine: "vosk"}, `transcription engine "vosk": must be one of pocketsphinx, openai, baidu`},
		{"openai URL", Config{Engine: EngineOpenAI, OpenAI: OpenAIConfig{URL: "localhost:8080"}}, "must be an http or https URL"},
		{"baidu without keys", Config{Engine: EngineBaidu, Baidu: BaiduConfig{APIKey: "ak"}}, "needs an API key and a secret key"},
		{"baidu URL", Config{Engine: EngineBaidu, Baidu: BaiduConfig{APIKey: "ak", SecretKey: "sk", TokenURL: "ftp://x"}},
			"must be an http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want a configuration error saying %q", err, tc.want)
			}
		})
	}
}
