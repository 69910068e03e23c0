package transcribe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of OpenAIConfig: OpenAI's hosted API.
const (
	DefaultOpenAIURL   = "https://api.openai.com"
	DefaultOpenAIModel = "whisper-1"
)

// maxAnswer bounds how much of a remote engine's answer is read.
const maxAnswer = 1 << 20

// OpenAIConfig sets up the engine for an OpenAI-compatible server: the
// hosted API, a whisper.cpp server (started with --inference-path
// /v1/audio/transcriptions), faster-whisper-server, LocalAI...
type OpenAIConfig struct {
	// URL is the server's base URL, without /v1: the engine posts to
	// {URL}/v1/audio/transcriptions.
	URL string
	// Model is the model field of the request (whisper-1 on the hosted API;
	// whisper.cpp ignores it, faster-whisper-server loads the one named).
	Model string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
}

// openAI transcribes with an OpenAI-compatible /v1/audio/transcriptions
// endpoint.
type openAI struct {
	endpoint string
	model    string
	apiKey   string
	client   *http.Client
}

// newOpenAI checks cfg and returns the engine.
func newOpenAI(cfg OpenAIConfig) (*openAI, error) {
	if cfg.URL == "" {
		cfg.URL = DefaultOpenAIURL
	}
	if cfg.Model == "" {
		cfg.Model = DefaultOpenAIModel
	}
	if err := checkURL("openai", cfg.URL); err != nil {
		return nil, err
	}
	return &openAI{
		endpoint: strings.TrimSuffix(cfg.URL, "/") + "/v1/audio/transcriptions",
		model:    cfg.Model,
		apiKey:   cfg.APIKey,
		client:   &http.Client{},
	}, nil
}

// checkURL refuses a configured URL that is not http(s)://host/...
func checkURL(engine, raw string) error {
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("transcription %s URL %q: must be an http or https URL", engine, raw)
	}
	return nil
}

func (o *openAI) name() string { return EngineOpenAI }

// language passes any language on: whisper models know about a hundred, and
// without one they detect it (but the JSON answer does not say which).
func (o *openAI) language(requested string) (string, error) { return requested, nil }

// maxDuration is 0: servers set their own limits (the hosted API takes
// files up to 25 MB, about 13 minutes of this WAV) and say so.
func (o *openAI) maxDuration() time.Duration { return 0 }

// recognize posts the converted WAV file, not the original: every
// OpenAI-compatible server takes WAV, while whisper.cpp's server decodes
// neither Opus nor M4A unless started with --convert.
func (o *openAI) recognize(ctx context.Context, c *clip, language string) (string, error) {
	body, contentType := o.form(c, language)
	defer body.Close() //nolint:errcheck // closing a pipe reader
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, body)
	if err != nil {
		return "", fmt.Errorf("openai request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	if o.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.apiKey)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return "", engineFailure(ctx, fmt.Errorf("openai: %w", err))
	}
	defer resp.Body.Close() //nolint:errcheck // read to the end or limit
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return "", engineFailure(ctx, fmt.Errorf("openai: read answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return "", ErrEngine.with("openai: %s: %s", resp.Status, openAIErrorMessage(answer))
	}
	var out struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(answer, &out); err != nil || out.Text == nil {
		return "", ErrEngine.with("openai: no text in the answer: %s", openAIErrorMessage(answer))
	}
	return strings.TrimSpace(*out.Text), nil
}

// form streams the multipart/form-data request body (model,
// response_format, language, then the file) through a pipe, so that a long
// recording is never held whole in memory.
func (o *openAI) form(c *clip, language string) (io.ReadCloser, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(o.writeForm(mw, c, language)) //nolint:errcheck // always nil
	}()
	return pr, mw.FormDataContentType()
}

// writeForm writes the request's fields and file to mw and closes it.
func (o *openAI) writeForm(mw *multipart.Writer, c *clip, language string) error {
	fields := [][2]string{{"model", o.model}, {"response_format", "json"}}
	if language != "" {
		fields = append(fields, [2]string{"language", language})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="audio.wav"`)
	h.Set("Content-Type", "audio/wav")
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // read only
	if _, err := io.Copy(part, f); err != nil {
		return err
	}
	return mw.Close()
}

// openAIErrorMessage finds the message in an error answer: OpenAI's
// {"error": {"message": ...}}, whisper.cpp's {"error": "..."} or FastAPI's
// {"detail": "..."} (faster-whisper-server); else the answer itself.
func openAIErrorMessage(answer []byte) string {
	var e struct {
		Error  json.RawMessage `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(answer, &e) == nil {
		var text string
		var obj struct {
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			return obj.Message
		case json.Unmarshal(e.Error, &text) == nil && text != "":
			return text
		case json.Unmarshal(e.Detail, &text) == nil && text != "":
			return text
		}
	}
	return snippet(answer)
}

// snippet is the start of a remote answer, for an error message.
func snippet(answer []byte) string {
	s := strings.TrimSpace(string(answer))
	if len(s) > 200 {
		cut := 200
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return s
}
