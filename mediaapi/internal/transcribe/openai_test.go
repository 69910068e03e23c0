package transcribe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/speech"
)

// TestOpenAIRequest sends speech in every container a voice message or an
// audio file comes in and checks that the server receives what the API
// defines: the converted WAV as the file, the model, the JSON response
// format, the language when one is asked for, and the key.
func TestOpenAIRequest(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	wav, duration := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	formats := slices.Concat(speech.Formats, []speech.Format{
		{Name: "mp3", ContentType: "audio/mpeg", FFmpegArgs: []string{"-b:a", "64k"}, Ext: "mp3"},
		{Name: "m4a", ContentType: "audio/mp4", FFmpegArgs: []string{"-c:a", "aac"}, Ext: "m4a"},
		{Name: "webm", ContentType: "audio/webm", FFmpegArgs: []string{"-c:a", "libopus"}, Ext: "webm"},
		{Name: "flac", ContentType: "audio/flac", FFmpegArgs: []string{"-c:a", "flac"}, Ext: "flac"},
	})
	for _, f := range formats {
		for _, lang := range []struct{ asked, sent string }{{"", ""}, {"en-GB", "en"}} {
			t.Run(f.Name+"/language="+lang.asked, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got := speech.ReadWhisperRequest(t, r)
					if got.Auth != "Bearer sk-test" {
						t.Errorf("Authorization %q, want Bearer sk-test", got.Auth)
					}
					want := map[string]string{"model": "whisper-1", "response_format": "json"}
					if lang.sent != "" {
						want["language"] = lang.sent
					}
					if len(got.Fields) != len(want) || got.Fields["model"] != want["model"] ||
						got.Fields["response_format"] != want["response_format"] || got.Fields["language"] != want["language"] {
						t.Errorf("fields %v, want %v", got.Fields, want)
					}
					if got.Filename != "audio.wav" || got.FileType != "audio/wav" {
						t.Errorf("file %q of type %q, want audio.wav of type audio/wav", got.Filename, got.FileType)
					}
					speech.CheckConvertedWAV(t, got.File, duration)
					speech.WriteJSON(w, http.StatusOK, `{"text":" Please call me tomorrow morning. "}`)
				}))
				defer srv.Close()
				eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL + "/", APIKey: "sk-test"}})
				audio := Audio{Path: speech.Encode(t, wav, f), ContentType: f.ContentType, Language: lang.asked}
				res, err := eng.Transcribe(context.Background(), audio)
				if err != nil {
					t.Fatalf("Transcribe: %v", err)
				}
				want := Result{
					Text:       "Please call me tomorrow morning.",
					Engine:     EngineOpenAI,
					Language:   lang.sent,
					DurationMS: res.DurationMS,
				}
				if res != want {
					t.Errorf("result %+v, want %+v", res, want)
				}
			})
		}
	}
}

// newTestOpenAI returns the openai engine for cfg.
func newTestOpenAI(t *testing.T, cfg Config) Engine {
	t.Helper()
	cfg.Engine = EngineOpenAI
	eng, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return eng
}

// TestOpenAIWithoutKey: with no key configured (a local whisper server) no
// Authorization header is sent.
func TestOpenAIWithoutKey(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := speech.ReadWhisperRequest(t, r); got.Auth != "" || got.Fields["model"] != "base.en" {
			t.Errorf("Authorization %q model %q, want none and base.en", got.Auth, got.Fields["model"])
		}
		speech.WriteJSON(w, http.StatusOK, `{"text":""}`)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL, Model: "base.en"}})
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	res, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/x-wav"})
	if err != nil || res.Text != "" {
		t.Fatalf("Transcribe: %+v, %v; want an empty text", res, err)
	}
}

// TestOpenAIErrors: the servers' error answers become ErrEngine with their
// message for the client.
func TestOpenAIErrors(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"openai bad key", http.StatusUnauthorized,
			`{"error":{"message":"Incorrect API key provided: sk-wrong. You can find your API key at ` +
				`https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			"openai: 401 Unauthorized: Incorrect API key provided: sk-wrong."},
		{"openai server error", http.StatusInternalServerError,
			`{"error":{"message":"The server had an error while processing your request. Sorry about that!",` +
				`"type":"server_error","param":null,"code":null}}`,
			"openai: 500 Internal Server Error: The server had an error while processing your request."},
		{"whisper.cpp", http.StatusBadRequest, `{"error":"no 'file' field in the request"}`,
			"openai: 400 Bad Request: no 'file' field in the request"},
		{"faster-whisper-server", http.StatusNotFound, `{"detail":"Model 'large-v9' not found"}`,
			"openai: 404 Not Found: Model 'large-v9' not found"},
		{"proxy page", http.StatusBadGateway, `<html><body>502 Bad Gateway</body></html>`,
			"openai: 502 Bad Gateway: <html><body>502 Bad Gateway</body></html>"},
		{"no text", http.StatusOK, `{"error":"failed to read audio data"}`,
			"openai: no text in the answer: failed to read audio data"},
		{"not json", http.StatusOK, `please call me`, "openai: no text in the answer: please call me"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				speech.ReadWhisperRequest(t, r)
				speech.WriteJSON(w, tc.status, tc.body)
			}))
			defer srv.Close()
			eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL, APIKey: "sk-wrong"}})
			_, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav"})
			if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Transcribe: %v, want ErrEngine with %q", err, tc.want)
			}
		})
	}
}

// TestOpenAIUnreachable: a server that cannot be reached is an engine
// failure too.
func TestOpenAIUnreachable(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL}})
	wav, _ := speech.Speak(t, t.TempDir(), "call", speech.Sentences[0].Text)
	_, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav"})
	if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Transcribe: %v, want ErrEngine saying the connection was refused", err)
	}
}
