package routing_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/mediaapi"
	"github.com/myelin-im/myelin/mediaapi/api"
	"github.com/myelin-im/myelin/mediaapi/internal/transcribe"
	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/test/speech"
)

// The metrics that tell an engine run from an answer out of the kept
// transcriptions.
const (
	runsMetric      = "myelin_media_transcription_runs_total"
	cacheHitsMetric = "myelin_media_transcription_cache_hits_total"
)

// transcription is the endpoint's answer.
type transcription struct {
	Text       string `json:"text"`
	Engine     string `json:"engine"`
	Language   string `json:"language"`
	DurationMS int64  `json:"duration_ms"`
}

// transcribePath is the transcription endpoint of mxc.
func transcribePath(mxc api.MXC) string {
	return "/_matrix/client/unstable/im.myelin/media/transcribe/" + mxc.ServerName + "/" + string(mxc.MediaID)
}

// transcribe asks for the transcription of mxc as u (nil: without a
// token), with body (nil: none).
func (e *env) transcribe(t testing.TB, u *fixture.User, mxc api.MXC, body any) *fixture.Response {
	t.Helper()
	token := ""
	if u != nil {
		token = u.Token
	}
	return e.Do(t, http.MethodPost, transcribePath(mxc), token, body)
}

// transcribed asks for the transcription of mxc as u and decodes the
// answer, which must be 200 with exactly the contract's four fields.
func (e *env) transcribed(t testing.TB, u *fixture.User, mxc api.MXC, body any) transcription {
	t.Helper()
	res := e.transcribe(t, u, mxc, body)
	res.Want(t, http.StatusOK)
	if keys := slices.Sorted(maps.Keys(res.JSON())); !slices.Equal(keys, []string{"duration_ms", "engine", "language", "text"}) {
		t.Fatalf("answer %s, want exactly text, engine, language and duration_ms", res.Body)
	}
	var tr transcription
	res.Decode(t, &tr)
	return tr
}

// spoken is the sentence text spoken by espeak-ng in voice and encoded as
// f, and how long it plays.
func spoken(t testing.TB, voice, name, text string, f speech.Format) ([]byte, time.Duration) {
	t.Helper()
	wav, played := speech.SpeakIn(t, voice, t.TempDir(), name, text)
	data, err := os.ReadFile(speech.Encode(t, wav, f))
	if err != nil {
		t.Fatal(err)
	}
	return data, played
}

// requirePocketsphinx skips the test (or fails it under CI) unless the
// engine a fresh install picks can run here.
func requirePocketsphinx(t testing.TB) {
	t.Helper()
	speech.Require(t, "ffmpeg", "espeak-ng", transcribe.DefaultPocketsphinxBinary)
	if !(transcribe.PocketsphinxConfig{}).Available() {
		speech.Skip(t, "the pocketsphinx model (pocketsphinx-en-us) is not installed")
	}
}

// TestTranscribeSpeech: the three sentences, uploaded as Ogg/Opus voice
// messages and as WAV, are transcribed by pocketsphinx (picked with no
// engine configured) for another user than the uploader; asked again, each
// answer comes from the kept transcriptions without running the engine.
func TestTranscribeSpeech(t *testing.T) {
	requirePocketsphinx(t)
	e := newEnv(t)
	if !e.media.UnstableFeatures()[mediaapi.FeatureTranscribe] {
		t.Fatalf("features %v with pocketsphinx installed, want %s true", e.media.UnstableFeatures(), mediaapi.FeatureTranscribe)
	}
	var report []string
	first := map[api.MXC]transcription{}
	for _, s := range speech.Sentences {
		for _, f := range speech.Formats {
			t.Run(s.Name+"/"+f.Name, func(t *testing.T) {
				data, played := spoken(t, speech.Voice, s.Name, s.Text, f)
				mxc := e.upload(t, e.alice, data, f.ContentType, s.Name+"."+f.Ext)
				tr := e.transcribed(t, e.bob, mxc, nil)
				first[mxc] = tr
				wer := speech.WordErrorRate(s.Text, tr.Text)
				report = append(report, fmt.Sprintf("%-8s %-8s WER %.2f  %q", s.Name, f.Name, wer, tr.Text))
				assertHeard(t, tr, s, played)
			})
		}
	}
	t.Logf("word error rates through the endpoint (pocketsphinx en-us, espeak-ng %s at %s wpm):\n%s",
		speech.Voice, speech.Speed, strings.Join(report, "\n"))

	runs := e.counter(t, runsMetric)
	if runs != float64(len(first)) {
		t.Fatalf("the engine ran %v times for %d voice messages", runs, len(first))
	}
	for mxc, want := range first {
		if got := e.transcribed(t, e.alice, mxc, map[string]any{}); got != want {
			t.Errorf("asked again: %+v, want the first answer %+v", got, want)
		}
	}
	if got := e.counter(t, runsMetric); got != runs {
		t.Errorf("the engine ran %v more times for transcriptions asked before", got-runs)
	}
	if hits := e.counter(t, cacheHitsMetric); hits != float64(len(first)) {
		t.Errorf("%v answers from the kept transcriptions, want %d", hits, len(first))
	}
}

// assertHeard checks a pocketsphinx transcription of s, which plays for
// played: its key words, engine, language and duration.
func assertHeard(t *testing.T, tr transcription, s speech.Sentence, played time.Duration) {
	t.Helper()
	heard := speech.Words(tr.Text)
	for _, k := range s.Keys {
		if !slices.Contains(heard, k) {
			t.Errorf("%q not heard in %q (said %q)", k, tr.Text, s.Text)
		}
	}
	if tr.Engine != transcribe.EnginePocketsphinx || tr.Language != "en" {
		t.Errorf("engine %q language %q, want pocketsphinx en", tr.Engine, tr.Language)
	}
	// Opus encodes in 20 ms frames, so the Ogg file may run a frame longer.
	if got := time.Duration(tr.DurationMS) * time.Millisecond; got < played-30*time.Millisecond || got > played+30*time.Millisecond {
		t.Errorf("duration %v, want %v", got, played)
	}
}

// whisperServer is an OpenAI-compatible server that checks every request
// against the API and answers with what it heard (whisperSaid).
type whisperServer struct {
	*httptest.Server
	t      *testing.T
	played time.Duration // how long the audio it is sent plays
	// requests counts the requests it got.
	requests atomic.Int32

	mu       sync.Mutex
	language string                                       // what requests must ask for ("": none)
	answer   func(w http.ResponseWriter, r *http.Request) // nil: said
}

// whisperSaid is what the server hears.
const whisperSaid = "Please call me tomorrow morning."

// newWhisperServer starts a server that is sent audio playing played.
func newWhisperServer(t *testing.T, played time.Duration) *whisperServer {
	s := &whisperServer{t: t, played: played}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// serve checks a transcription request: the key, the fields, the file
// (the converted WAV, as long as the voice message) and answers it.
func (s *whisperServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	language, answer := s.language, s.answer
	s.mu.Unlock()
	got := speech.ReadWhisperRequest(s.t, r)
	want := map[string]string{"model": "whisper-1", "response_format": "json"}
	if language != "" {
		want["language"] = language
	}
	if got.Auth != "Bearer sk-test" || !maps.Equal(got.Fields, want) || got.Filename != "audio.wav" || got.FileType != "audio/wav" {
		s.t.Errorf("request with Authorization %q, fields %v, file %q of type %q; want Bearer sk-test, %v, audio.wav audio/wav",
			got.Auth, got.Fields, got.Filename, got.FileType, want)
	}
	speech.CheckConvertedWAV(s.t, got.File, s.played)
	if answer != nil {
		answer(w, r)
		return
	}
	speech.WriteJSON(w, http.StatusOK, fmt.Sprintf(`{"text":%q}`, " "+whisperSaid+" "))
}

// expect makes the server want language in the next requests and answer
// them with answer (nil: what it heard).
func (s *whisperServer) expect(language string, answer func(w http.ResponseWriter, r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.language, s.answer = language, answer
}

// openAIEngine configures the openai engine against srv.
func openAIEngine(srv *whisperServer) func(*config.MediaAPI) {
	return func(c *config.MediaAPI) {
		c.Transcription.Engine = config.TranscriptionOpenAI
		c.Transcription.OpenAI.URL = srv.URL
		c.Transcription.OpenAI.APIKey = "sk-test"
	}
}

// newOpenAIEnv is an env whose engine is openai against a new server, with
// a voice message alice uploaded as Ogg/Opus for it to hear.
func newOpenAIEnv(t *testing.T, change ...func(*config.MediaAPI)) (*env, *whisperServer, api.MXC) {
	t.Helper()
	speech.Require(t, "ffmpeg", "espeak-ng")
	data, played := spoken(t, speech.Voice, "call", speech.Sentences[0].Text, speech.OggOpus)
	srv := newWhisperServer(t, played)
	e := newEnv(t, append([]func(*config.MediaAPI){openAIEngine(srv)}, change...)...)
	return e, srv, e.upload(t, e.alice, data, speech.OggOpus.ContentType, "call.ogg")
}

// TestTranscribeOpenAI: with the openai engine the endpoint answers what an
// OpenAI-compatible server said about the converted voice message, with
// the language asked for (none: the server detects it and the answer's
// language is empty); an engine failure is 502 with the server's message,
// and is not kept.
func TestTranscribeOpenAI(t *testing.T) {
	e, srv, mxc := newOpenAIEnv(t)
	srv.expect("", func(w http.ResponseWriter, _ *http.Request) {
		speech.WriteJSON(w, http.StatusInternalServerError, `{"error":{"message":"The server had an error while processing your request.",`+
			`"type":"server_error","param":null,"code":null}}`)
	})
	res := e.transcribe(t, e.bob, mxc, nil)
	res.Want(t, http.StatusBadGateway, "M_UNKNOWN")
	const failure = "transcription engine failed: openai: 500 Internal Server Error: The server had an error while processing your request."
	if msg := res.JSON()["error"]; msg != failure {
		t.Errorf("error %q, want %q", msg, failure)
	}
	for _, tc := range []struct{ asked, sent string }{{"", ""}, {"en-GB", "en"}} {
		srv.expect(tc.sent, nil)
		tr := e.transcribed(t, e.bob, mxc, map[string]string{"language": tc.asked})
		if want := (transcription{Text: whisperSaid, Engine: "openai", Language: tc.sent, DurationMS: tr.DurationMS}); tr != want {
			t.Errorf("language %q: %+v, want %+v", tc.asked, tr, want)
		}
		if d := time.Duration(tr.DurationMS) * time.Millisecond; d < srv.played-30*time.Millisecond || d > srv.played+30*time.Millisecond {
			t.Errorf("duration %v, want %v", d, srv.played)
		}
	}
	// en-US is en again: the same kept transcription.
	if tr := e.transcribed(t, e.alice, mxc, map[string]string{"language": "en-US"}); tr.Language != "en" {
		t.Errorf("en-US: %+v", tr)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("the server got %d requests, want 3 (the failure not kept, en-US answered from en)", n)
	}
	if runs, hits := e.counter(t, runsMetric), e.counter(t, cacheHitsMetric); runs != 3 || hits != 1 {
		t.Errorf("%v runs and %v answers from the kept transcriptions, want 3 and 1", runs, hits)
	}
}

// TestTranscribeTimeout: an engine that does not answer within the time
// limit is 502 with a message saying so.
func TestTranscribeTimeout(t *testing.T) {
	e, srv, mxc := newOpenAIEnv(t, func(c *config.MediaAPI) { c.Transcription.Timeout = config.Duration(700 * time.Millisecond) })
	srv.expect("", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	res := e.transcribe(t, e.bob, mxc, nil)
	res.Want(t, http.StatusBadGateway, "M_UNKNOWN")
	if msg := res.JSON()["error"]; msg != "transcription timed out: openai did not finish within 700ms" {
		t.Errorf("error %q", msg)
	}
}

// TestTranscribeOnce: requests for the same voice message arriving while it
// is transcribed wait for that run rather than start their own, and get
// its answer.
func TestTranscribeOnce(t *testing.T) {
	e, srv, mxc := newOpenAIEnv(t)
	srv.expect("", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(500 * time.Millisecond) // the other requests arrive meanwhile
		speech.WriteJSON(w, http.StatusOK, `{"text":"`+whisperSaid+`"}`)
	})
	var wg sync.WaitGroup
	answers := make([]*fixture.Response, 6)
	for i := range answers {
		u := []*fixture.User{e.alice, e.bob}[i%2]
		wg.Go(func() { answers[i] = e.transcribe(t, u, mxc, nil) })
	}
	wg.Wait()
	for _, res := range answers {
		res.Want(t, http.StatusOK)
		if res.JSON()["text"] != whisperSaid {
			t.Errorf("answer %s, want %q", res.Body, whisperSaid)
		}
	}
	if n, runs := srv.requests.Load(), e.counter(t, runsMetric); n != 1 || runs != 1 {
		t.Errorf("%d requests reached the engine (%v runs counted) for 6 at once, want 1", n, runs)
	}
}

// TestTranscribeNotAudio: media that is not audio — by its type or by its
// bytes, a picture uploaded as audio/ogg — is 400 M_INVALID_PARAM before
// the engine is asked.
func TestTranscribeNotAudio(t *testing.T) {
	e, srv, voice := newOpenAIEnv(t)
	png := fixture.PNG(t, 64, 48)
	ogg := e.download(t, e.alice, voice, "").Body
	for _, tc := range []struct {
		name        string
		data        []byte
		contentType string
	}{
		{"picture as audio/ogg", png, "audio/ogg"},
		{"voice message as image/png", ogg, "image/png"},
		{"text", []byte("please call me tomorrow morning"), "text/plain"},
		{"empty", []byte{}, "audio/ogg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mxc := e.upload(t, e.alice, tc.data, tc.contentType, "")
			e.transcribe(t, e.bob, mxc, nil).Want(t, http.StatusBadRequest, "M_INVALID_PARAM")
		})
	}
	if n, runs := srv.requests.Load(), e.counter(t, runsMetric); n != 0 || runs != 0 {
		t.Errorf("the engine ran %v times (%d requests) for media that is not audio", runs, n)
	}
}

// TestTranscribeNoEngine: with no engine configured and pocketsphinx not
// installed (its program configured where there is none) the feature is
// advertised as off and every request is 501 M_UNRECOGNIZED saying how to
// enable an engine.
func TestTranscribeNoEngine(t *testing.T) {
	e := newEnv(t, func(c *config.MediaAPI) {
		c.Transcription.Pocketsphinx.Binary = "/nonexistent/pocketsphinx_continuous"
	})
	if on, listed := e.media.UnstableFeatures()[mediaapi.FeatureTranscribe]; on || !listed {
		t.Errorf("features %v, want %s false", e.media.UnstableFeatures(), mediaapi.FeatureTranscribe)
	}
	mxc := e.upload(t, e.alice, []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), "audio/ogg", "voice.ogg")
	res := e.transcribe(t, e.bob, mxc, nil)
	res.Want(t, http.StatusNotImplemented, "M_UNRECOGNIZED")
	msg, _ := res.JSON()["error"].(string)
	for _, want := range []string{
		"install pocketsphinx and pocketsphinx-en-us, or configure media_api.transcription.engine openai or baidu",
		"/nonexistent/pocketsphinx_continuous is not installed",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

// TestTranscribeBaidu: with the baidu engine the endpoint answers what
// Baidu's recognition said about a Mandarin voice message (its stand-in
// checks the token request and the recognition's JSON and PCM).
func TestTranscribeBaidu(t *testing.T) {
	speech.Require(t, "ffmpeg", "espeak-ng")
	srv := speech.NewBaiduServer(t)
	e := newEnv(t, func(c *config.MediaAPI) {
		c.Transcription.Engine = config.TranscriptionBaidu
		c.Transcription.Baidu.APIKey = speech.BaiduAPIKey
		c.Transcription.Baidu.SecretKey = speech.BaiduSecretKey
		c.Transcription.Baidu.TokenURL = srv.TokenURL
		c.Transcription.Baidu.RecognizeURL = srv.RecognizeURL
	})
	data, played := spoken(t, "cmn", "mandarin", speech.BaiduSaid, speech.OggOpus)
	mxc := e.upload(t, e.alice, data, speech.OggOpus.ContentType, "mandarin.ogg")
	tr := e.transcribed(t, e.bob, mxc, map[string]string{"language": "zh-CN"})
	if want := (transcription{Text: speech.BaiduSaid, Engine: "baidu", Language: "zh", DurationMS: tr.DurationMS}); tr != want {
		t.Errorf("%+v, want %+v", tr, want)
	}
	devPID, sent := srv.Last()
	if devPID != 1537 || sent < played-30*time.Millisecond || sent > played+30*time.Millisecond {
		t.Errorf("dev_pid %d and %v of PCM sent, want 1537 (Mandarin) and %v", devPID, sent, played)
	}
	if tokens, recognitions := srv.Counts(); tokens != 1 || recognitions != 1 {
		t.Errorf("%d tokens and %d recognitions, want 1 and 1", tokens, recognitions)
	}
}

// TestTranscribeAccess: the endpoint wants a token, and transcribes what
// its caller may download by the same rule as downloads (Media.
// CheckDownload): any user of this server may download any media it has,
// so another user's voice message is transcribed, while media that does
// not exist, is not uploaded yet or is on another server gets the answer a
// download gets. Malformed requests are 400.
func TestTranscribeAccess(t *testing.T) {
	e, _, voice := newOpenAIEnv(t)
	e.transcribe(t, nil, voice, nil).Want(t, http.StatusUnauthorized, "M_MISSING_TOKEN")
	e.Do(t, http.MethodPost, transcribePath(voice), "nope", nil).Want(t, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	e.Do(t, http.MethodGet, transcribePath(voice), e.bob.Token, nil).Want(t, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
	if tr := e.transcribed(t, e.bob, voice, nil); tr.Text != whisperSaid {
		t.Errorf("bob transcribing alice's voice message: %+v", tr)
	}

	uri, _ := e.create(t, e.alice.Token)
	created, err := api.ParseMXC(uri)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		mxc     api.MXC
		status  int
		errcode string
	}{
		{"unknown media", api.MXC{ServerName: e.ServerName, MediaID: "neverUploaded"}, http.StatusNotFound, "M_NOT_FOUND"},
		{"not uploaded yet", created, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED"},
		{"another server's media", api.MXC{ServerName: "other.example", MediaID: voice.MediaID}, http.StatusNotFound, "M_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.transcribe(t, e.bob, tc.mxc, nil).Want(t, tc.status, tc.errcode)
			e.download(t, e.bob, tc.mxc, "?timeout_ms=0").Want(t, tc.status, tc.errcode)
		})
	}

	for _, tc := range []struct {
		name    string
		path    string
		body    any
		errcode string
	}{
		{"malformed media ID", "/_matrix/client/unstable/im.myelin/media/transcribe/" + e.ServerName + "/bad.id", nil, "M_INVALID_PARAM"},
		{"malformed server name", "/_matrix/client/unstable/im.myelin/media/transcribe/bad_server!/" + string(voice.MediaID), nil,
			"M_INVALID_PARAM"},
		{"body not JSON", transcribePath(voice), "language=en", "M_NOT_JSON"},
		{"language not a string", transcribePath(voice), map[string]any{"language": 1}, "M_BAD_JSON"},
		{"language not a tag", transcribePath(voice), map[string]any{"language": "../en"}, "M_INVALID_PARAM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Do(t, http.MethodPost, tc.path, e.bob.Token, tc.body).Want(t, http.StatusBadRequest, tc.errcode)
		})
	}
}
