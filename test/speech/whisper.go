package speech

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"testing"
	"time"
)

// WhisperRequest is what an OpenAI-compatible server received.
type WhisperRequest struct {
	Auth     string
	Fields   map[string]string
	Filename string
	FileType string
	File     []byte
}

// ReadWhisperRequest parses a POST /v1/audio/transcriptions as such a
// server does, failing the test on anything the API does not define: the
// method, path and content type, a field other than model, language,
// response_format and file, or a file part without a name and type.
func ReadWhisperRequest(t testing.TB, r *http.Request) WhisperRequest {
	t.Helper()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		t.Errorf("request %s %s, want POST /v1/audio/transcriptions", r.Method, r.URL.Path)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		t.Fatalf("Content-Type %q, want multipart/form-data", r.Header.Get("Content-Type"))
	}
	got := WhisperRequest{Auth: r.Header.Get("Authorization"), Fields: map[string]string{}}
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
			got.Filename, got.FileType, got.File = part.FileName(), part.Header.Get("Content-Type"), data
		case "model", "language", "response_format":
			got.Fields[name] = string(data)
		default:
			t.Errorf("unexpected form field %q", name)
		}
	}
}

// CheckConvertedWAV checks that data is 16 kHz mono 16-bit PCM WAV playing
// for about duration (what every engine gets from ffmpeg).
func CheckConvertedWAV(t testing.TB, data []byte, duration time.Duration) {
	t.Helper()
	f := ParseWAV(t, data)
	if f.AudioFormat != 1 || f.Channels != 1 || f.Rate != 16000 || f.Bits != 16 {
		t.Errorf("WAV format %+v, want PCM (1), mono, 16000 Hz, 16 bits", f)
	}
	if got := f.Duration(); got < duration-30*time.Millisecond || got > duration+30*time.Millisecond {
		t.Errorf("WAV plays %v, want %v", got, duration)
	}
}

// WriteJSON answers with status and a JSON body, as the services do.
func WriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // the client sees a short answer
}
