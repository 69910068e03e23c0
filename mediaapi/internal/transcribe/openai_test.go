package transcribe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// whisperRequest is what an OpenAI-compatible server received.
type whisperRequest struct {
	auth     string
	fields   map[string]string
	filename string
	fileType string
	file     []byte
}

// readWhisperRequest parses a POST /v1/audio/transcriptions as such a
// server does, failing the test on anything the API does not define: the
// method, path and content type, a field other than model, language,
// response_format and file, or a file part without a name and type.
func readWhisperRequest(t *testing.T, r *http.Request) whisperRequest {
	t.Helper()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		t.Errorf("request %s %s, want POST /v1/audio/transcriptions", r.Method, r.URL.Path)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		t.Fatalf("Content-Type %q, want multipart/form-data", r.Header.Get("Content-Type"))
	}
	got := whisperRequest{auth: r.Header.Get("Authorization"), fields: map[string]string{}}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			io.Copy(io.Discard, r.Body) //nolint:errcheck // drained so the server notices a client going away
			return got
		}
		if err != nil {
			t.Fatalf("multipart body: %v", err)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("multipart part: %v", err)
		}
		switch name := part.FormName(); name {
		case "file":
			got.filename, got.fileType, got.file = part.FileName(), part.Header.Get("Content-Type"), data
		case "model", "language", "response_format":
			got.fields[name] = string(data)
		default:
			t.Errorf("unexpected form field %q", name)
		}
	}
}

// wavFormat is what a WAV file's fmt and data chunks say.
type wavFormat struct {
	audioFormat, channels, bits int
	rate                        int
	dataLen                     int
}

// parseWAV reads the format of a WAV file, independently of the engine's
// own reader, to check what it sent.
func parseWAV(t *testing.T, data []byte) wavFormat {
	t.Helper()
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		t.Fatalf("not a WAV file: %q", data[:min(len(data), 12)])
	}
	var f wavFormat
	for rest := data[12:]; len(rest) >= 8; {
		id, size := string(rest[0:4]), int(binary.LittleEndian.Uint32(rest[4:8]))
		body := rest[8:min(len(rest), 8+size)]
		switch id {
		case "fmt ":
			f.audioFormat = int(binary.LittleEndian.Uint16(body[0:2]))
			f.channels = int(binary.LittleEndian.Uint16(body[2:4]))
			f.rate = int(binary.LittleEndian.Uint32(body[4:8]))
			f.bits = int(binary.LittleEndian.Uint16(body[14:16]))
		case "data":
			f.dataLen = len(body)
		}
		rest = rest[min(len(rest), 8+size+size%2):]
	}
	return f
}

// checkConvertedWAV checks that data is 16 kHz mono 16-bit PCM WAV playing
// for about duration.
func checkConvertedWAV(t *testing.T, data []byte, duration time.Duration) {
	t.Helper()
	f := parseWAV(t, data)
	if f.audioFormat != 1 || f.channels != 1 || f.rate != 16000 || f.bits != 16 {
		t.Errorf("WAV format %+v, want PCM (1), mono, 16000 Hz, 16 bits", f)
	}
	got := time.Duration(f.dataLen) * time.Second / 32000
	if got < duration-30*time.Millisecond || got > duration+30*time.Millisecond {
		t.Errorf("WAV plays %v, want %v", got, duration)
	}
}

// writeJSON answers with status and a JSON body, as the API does.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // the client sees a short answer
}

// TestOpenAIRequest sends speech in every container a voice message or an
// audio file comes in and checks that the server receives what the API
// defines: the converted WAV as the file, the model, the JSON response
// format, the language when one is asked for, and the key.
func TestOpenAIRequest(t *testing.T) {
	requirePrograms(t, "ffmpeg", "espeak-ng")
	wav, duration := speak(t, t.TempDir(), "call", sentences[0].text)
	formats := slices.Concat(speechFormats, []speechFormat{
		{name: "mp3", contentType: "audio/mpeg", ffmpegArgs: []string{"-b:a", "64k"}, ext: "mp3"},
		{name: "m4a", contentType: "audio/mp4", ffmpegArgs: []string{"-c:a", "aac"}, ext: "m4a"},
		{name: "webm", contentType: "audio/webm", ffmpegArgs: []string{"-c:a", "libopus"}, ext: "webm"},
		{name: "flac", contentType: "audio/flac", ffmpegArgs: []string{"-c:a", "flac"}, ext: "flac"},
	})
	for _, f := range formats {
		for _, lang := range []struct{ asked, sent string }{{"", ""}, {"en-GB", "en"}} {
			t.Run(f.name+"/language="+lang.asked, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					got := readWhisperRequest(t, r)
					if got.auth != "Bearer sk-test" {
						t.Errorf("Authorization %q, want Bearer sk-test", got.auth)
					}
					want := map[string]string{"model": "whisper-1", "response_format": "json"}
					if lang.sent != "" {
						want["language"] = lang.sent
					}
					if len(got.fields) != len(want) || got.fields["model"] != want["model"] ||
						got.fields["response_format"] != want["response_format"] || got.fields["language"] != want["language"] {
						t.Errorf("fields %v, want %v", got.fields, want)
					}
					if got.filename != "audio.wav" || got.fileType != "audio/wav" {
						t.Errorf("file %q of type %q, want audio.wav of type audio/wav", got.filename, got.fileType)
					}
					checkConvertedWAV(t, got.file, duration)
					writeJSON(w, http.StatusOK, `{"text":" Please call me tomorrow morning. "}`)
				}))
				defer srv.Close()
				eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL + "/", APIKey: "sk-test"}})
				audio := Audio{Path: encode(t, wav, f), ContentType: f.contentType, Language: lang.asked}
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
	requirePrograms(t, "ffmpeg", "espeak-ng")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := readWhisperRequest(t, r); got.auth != "" || got.fields["model"] != "base.en" {
			t.Errorf("Authorization %q model %q, want none and base.en", got.auth, got.fields["model"])
		}
		writeJSON(w, http.StatusOK, `{"text":""}`)
	}))
	defer srv.Close()
	eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL, Model: "base.en"}})
	wav, _ := speak(t, t.TempDir(), "call", sentences[0].text)
	res, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/x-wav"})
	if err != nil || res.Text != "" {
		t.Fatalf("Transcribe: %+v, %v; want an empty text", res, err)
	}
}

// TestOpenAIErrors: the servers' error answers become ErrEngine with their
// message for the client.
func TestOpenAIErrors(t *testing.T) {
	requirePrograms(t, "ffmpeg", "espeak-ng")
	wav, _ := speak(t, t.TempDir(), "call", sentences[0].text)
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
				readWhisperRequest(t, r)
				writeJSON(w, tc.status, tc.body)
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
	requirePrograms(t, "ffmpeg", "espeak-ng")
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	eng := newTestOpenAI(t, Config{OpenAI: OpenAIConfig{URL: srv.URL}})
	wav, _ := speak(t, t.TempDir(), "call", sentences[0].text)
	_, err := eng.Transcribe(context.Background(), Audio{Path: wav, ContentType: "audio/wav"})
	if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Transcribe: %v, want ErrEngine saying the connection was refused", err)
	}
}
