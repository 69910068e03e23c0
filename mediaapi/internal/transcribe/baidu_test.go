package transcribe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// baiduServer plays Baidu's token endpoint (/oauth/2.0/token) and short
// speech recognition (/server_api), checking each request against the
// API's documentation and answering in its format.
type baiduServer struct {
	t         *testing.T
	expiresIn int // seconds, for the tokens it issues
	// answer answers a valid recognition request (nil: success with
	// baiduSaid).
	answer func(w http.ResponseWriter, req baiduTestRequest)

	mu           sync.Mutex
	valid        map[string]bool // tokens issued and not revoked
	tokens       int             // how many were issued
	recognitions int
	devPIDs      []int
	durations    []time.Duration
}

const baiduSaid = "请明天早上给我打电话"

// baiduTestRequest is a recognition request as the server decodes it;
// pointers tell a missing field from a zero one.
type baiduTestRequest struct {
	Format  *string `json:"format"`
	Rate    *int    `json:"rate"`
	Channel *int    `json:"channel"`
	CUID    *string `json:"cuid"`
	Token   *string `json:"token"`
	DevPID  *int    `json:"dev_pid"`
	Speech  *string `json:"speech"`
	Len     *int    `json:"len"`
}

// newBaiduServer starts the server; its URLs go in BaiduConfig.
func newBaiduServer(t *testing.T) (*baiduServer, BaiduConfig) {
	s := &baiduServer{t: t, expiresIn: 2592000, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/2.0/token", s.token)
	mux.HandleFunc("/server_api", s.recognize)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, BaiduConfig{
		APIKey:       "ak-test",
		SecretKey:    "sk-secret",
		TokenURL:     srv.URL + "/oauth/2.0/token",
		RecognizeURL: srv.URL + "/server_api",
	}
}

// token issues an access token for the client credentials ak-test and
// sk-secret, given in the query string of a POST.
func (s *baiduServer) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != http.MethodPost || q.Get("grant_type") != "client_credentials" || len(q) != 3 {
		s.t.Errorf("token request %s %s, want POST with grant_type, client_id and client_secret", r.Method, r.URL)
	}
	switch {
	case q.Get("client_id") != "ak-test":
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"unknown client id"}`)
		return
	case q.Get("client_secret") != "sk-secret":
		writeJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Client authentication failed"}`)
		return
	}
	s.mu.Lock()
	s.tokens++
	token := fmt.Sprintf("24.6c5e1ff107f0e8bcef8c46d3424a0e%02d.%d.1485516651.282335-8574074", s.tokens, s.expiresIn)
	s.valid[token] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{`+
		`"refresh_token":"25.b55fe1d287227ca97aab219bb249b8ab.315360000.1798284651.282335-8574074",`+
		`"expires_in":%d,`+
		`"scope":"public brain_all_scope audio_voice_assistant_get",`+
		`"session_key":"9mzdDZXu3dENdFZQurfg0Vz8slgSgvvOAUebNFzyzcpQ",`+
		`"access_token":%q,`+
		`"session_secret":"dfac94a3489fe9fca7c3221cbf7525ff"}`, s.expiresIn, token))
}

// recognize checks a recognition request ("JSON方式上传音频": every field
// present with its documented value, speech the base64 of len bytes of
// PCM) and answers it.
func (s *baiduServer) recognize(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("recognition %s with Content-Type %q, want POST application/json", r.Method, r.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req baiduTestRequest
	if err := dec.Decode(&req); err != nil {
		t.Fatalf("recognition body: %v", err)
	}
	if req.Format == nil || req.Rate == nil || req.Channel == nil || req.CUID == nil || req.Token == nil ||
		req.DevPID == nil || req.Speech == nil || req.Len == nil {
		t.Fatalf("recognition request lacks a field: %+v", req)
	}
	if *req.Format != "pcm" || *req.Rate != 16000 || *req.Channel != 1 || *req.CUID == "" || len(*req.CUID) > 60 {
		t.Errorf("format %q rate %d channel %d cuid %q, want pcm 16000 1 and a cuid of at most 60 characters",
			*req.Format, *req.Rate, *req.Channel, *req.CUID)
	}
	pcm, err := base64.StdEncoding.DecodeString(*req.Speech)
	if err != nil || len(pcm) != *req.Len || len(pcm)%2 != 0 || bytes.HasPrefix(pcm, []byte("RIFF")) {
		t.Errorf("speech is %d bytes of PCM (%v), len says %d; want raw 16-bit samples of that length", len(pcm), err, *req.Len)
	}
	s.mu.Lock()
	s.recognitions++
	s.devPIDs = append(s.devPIDs, *req.DevPID)
	s.durations = append(s.durations, time.Duration(len(pcm))*time.Second/32000)
	valid, answer := s.valid[*req.Token], s.answer
	s.mu.Unlock()
	switch {
	case !valid:
		writeJSON(w, http.StatusOK, `{"err_msg":"authentication failed.","err_no":3302,"sn":"482530578291499406998"}`)
	case answer != nil:
		answer(w, req)
	default:
		writeJSON(w, http.StatusOK, `{"corpus_no":"6433214037620997779","err_msg":"success.","err_no":0,`+
			`"result":["`+baiduSaid+`"],"sn":"371191073711497849365"}`)
	}
}

// answerWith makes the server answer valid requests with answer.
func (s *baiduServer) answerWith(answer func(w http.ResponseWriter, req baiduTestRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// revokeAll makes every token issued so far invalid.
func (s *baiduServer) revokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
}

// last returns the dev_pid and the length of the audio of the last
// recognition.
func (s *baiduServer) last() (devPID int, duration time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devPIDs[len(s.devPIDs)-1], s.durations[len(s.durations)-1]
}

// counts returns how many tokens and recognitions the server served.
func (s *baiduServer) counts() (tokens, recognitions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens, s.recognitions
}

// newTestBaidu returns the baidu engine for cfg.
func newTestBaidu(t *testing.T, cfg BaiduConfig) Engine {
	t.Helper()
	eng, err := New(Config{Engine: EngineBaidu, Baidu: cfg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return eng
}

// mandarin returns a voice message of Mandarin speech and how long it plays.
func mandarin(t *testing.T) (Audio, time.Duration) {
	t.Helper()
	requirePrograms(t, "ffmpeg", "espeak-ng")
	wav, duration := speakIn(t, "cmn", t.TempDir(), "mandarin", baiduSaid)
	return Audio{Path: encode(t, wav, speechFormats[1]), ContentType: "audio/ogg"}, duration
}

// TestBaiduRequest: a token is fetched once and reused; recognitions send
// the PCM with the model of the language asked for.
func TestBaiduRequest(t *testing.T) {
	audio, duration := mandarin(t)
	srv, cfg := newBaiduServer(t)
	eng := newTestBaidu(t, cfg)
	for _, tc := range []struct {
		language string
		devPID   int
		resolved string
	}{
		{"", 1537, "zh"},
		{"zh-CN", 1537, "zh"},
		{"en", 1737, "en"},
		{"yue", 1637, "yue"},
	} {
		audio.Language = tc.language
		res, err := eng.Transcribe(context.Background(), audio)
		if err != nil {
			t.Fatalf("Transcribe in %q: %v", tc.language, err)
		}
		want := Result{Text: baiduSaid, Engine: EngineBaidu, Language: tc.resolved, DurationMS: res.DurationMS}
		devPID, sent := srv.last()
		if res != want || devPID != tc.devPID {
			t.Errorf("language %q: %+v with dev_pid %d, want %+v with %d", tc.language, res, devPID, want, tc.devPID)
		}
		if got := time.Duration(res.DurationMS) * time.Millisecond; got != sent.Truncate(time.Millisecond) ||
			sent < duration-30*time.Millisecond || sent > duration+30*time.Millisecond {
			t.Errorf("duration %v, sent %v of PCM, want %v", got, sent, duration)
		}
	}
	if tokens, recognitions := srv.counts(); tokens != 1 || recognitions != 4 {
		t.Errorf("%d tokens for %d recognitions, want one token reused", tokens, recognitions)
	}
	audio.Language = "fr"
	if _, err := eng.Transcribe(context.Background(), audio); !errors.Is(err, ErrLanguage) {
		t.Errorf("Transcribe in fr: %v, want ErrLanguage", err)
	}
}

// TestBaiduConfiguredModel: a configured dev_pid (Mandarin far-field) is
// used when the request names no language or the same one.
func TestBaiduConfiguredModel(t *testing.T) {
	audio, _ := mandarin(t)
	srv, cfg := newBaiduServer(t)
	cfg.DevPID = 1936
	eng := newTestBaidu(t, cfg)
	for _, language := range []string{"", "zh"} {
		audio.Language = language
		res, err := eng.Transcribe(context.Background(), audio)
		if err != nil {
			t.Fatal(err)
		}
		if devPID, _ := srv.last(); res.Language != "zh" || devPID != 1936 {
			t.Errorf("language %q: %+v with dev_pid %d; want zh with 1936", language, res, devPID)
		}
	}
}

// TestBaiduTokenRenewed: a token is renewed shortly before it expires.
func TestBaiduTokenRenewed(t *testing.T) {
	audio, _ := mandarin(t)
	srv, cfg := newBaiduServer(t)
	srv.expiresIn = 1
	eng := newTestBaidu(t, cfg)
	for i := range 2 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		if _, err := eng.Transcribe(context.Background(), audio); err != nil {
			t.Fatal(err)
		}
	}
	if tokens, _ := srv.counts(); tokens != 2 {
		t.Errorf("%d tokens, want a new one after the first expired", tokens)
	}
}

// TestBaiduRevokedToken: when Baidu refuses the cached token (3302) the
// engine fetches a new one and tries once more, and only once.
func TestBaiduRevokedToken(t *testing.T) {
	audio, _ := mandarin(t)
	srv, cfg := newBaiduServer(t)
	eng := newTestBaidu(t, cfg)
	if _, err := eng.Transcribe(context.Background(), audio); err != nil {
		t.Fatal(err)
	}
	srv.revokeAll()
	res, err := eng.Transcribe(context.Background(), audio)
	if err != nil || res.Text != baiduSaid {
		t.Fatalf("Transcribe after the token was revoked: %+v, %v", res, err)
	}
	if tokens, recognitions := srv.counts(); tokens != 2 || recognitions != 3 {
		t.Errorf("%d tokens and %d recognitions, want 2 and 3 (one refused)", tokens, recognitions)
	}
	srv.answerWith(func(w http.ResponseWriter, _ baiduTestRequest) {
		writeJSON(w, http.StatusOK, `{"err_msg":"authentication failed.","err_no":3302,"sn":"482530578291499406998"}`)
	})
	_, err = eng.Transcribe(context.Background(), audio)
	if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "baidu: err_no 3302: authentication failed.") {
		t.Fatalf("Transcribe with every token refused: %v, want ErrEngine with err_no 3302", err)
	}
	if tokens, recognitions := srv.counts(); tokens != 3 || recognitions != 5 {
		t.Errorf("%d tokens and %d recognitions, want 3 and 5 (one more try)", tokens, recognitions)
	}
}

// TestBaiduErrors: Baidu's error answers become ErrEngine with err_no and
// err_msg, or the token endpoint's error; the secret key is never shown.
func TestBaiduErrors(t *testing.T) {
	audio, _ := mandarin(t)
	for _, tc := range []struct {
		name   string
		cfg    func(*BaiduConfig)
		answer func(http.ResponseWriter, baiduTestRequest)
		want   string
	}{
		{name: "poor audio", answer: func(w http.ResponseWriter, _ baiduTestRequest) {
			writeJSON(w, http.StatusOK, `{"err_msg":"speech quality error.","err_no":3301,"sn":"482530578291499406998"}`)
		}, want: "baidu: err_no 3301: speech quality error."},
		{name: "quota", answer: func(w http.ResponseWriter, _ baiduTestRequest) {
			writeJSON(w, http.StatusOK, `{"err_msg":"request limit reached.","err_no":3305,"sn":"482530578291499406999"}`)
		}, want: "baidu: err_no 3305: request limit reached."},
		{name: "gateway", answer: func(w http.ResponseWriter, _ baiduTestRequest) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, want: "baidu: recognition answered 503: (empty answer)"},
		{name: "unknown key", cfg: func(c *BaiduConfig) { c.APIKey = "ak-wrong" },
			want: "baidu token: invalid_client: unknown client id"},
		{name: "wrong secret", cfg: func(c *BaiduConfig) { c.SecretKey = "sk-wrong" },
			want: "baidu token: invalid_client: Client authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cfg := newBaiduServer(t)
			srv.answerWith(tc.answer)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := newTestBaidu(t, cfg).Transcribe(context.Background(), audio)
			if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Transcribe: %v, want ErrEngine with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sk-") {
				t.Errorf("the message shows the secret key: %v", err)
			}
		})
	}
}

// TestBaiduTooLong: audio over Baidu's 60 s is refused before anything is
// sent; audio just under it is sent.
func TestBaiduTooLong(t *testing.T) {
	requirePrograms(t, "ffmpeg")
	srv, cfg := newBaiduServer(t)
	eng := newTestBaidu(t, cfg)
	dir := t.TempDir()
	for _, tc := range []struct {
		seconds string
		refused bool
	}{{"60.5", true}, {"59.5", false}} {
		path := filepath.Join(dir, tc.seconds+".ogg")
		ffmpeg(t, "-f", "lavfi", "-i", "anoisesrc=r=16000:a=0.05:d="+tc.seconds, "-c:a", "libopus", path)
		_, err := eng.Transcribe(context.Background(), Audio{Path: path, ContentType: "audio/ogg"})
		if tc.refused != errors.Is(err, ErrTooLong) || (!tc.refused && err != nil) {
			t.Errorf("%s s: %v, want refused %v", tc.seconds, err, tc.refused)
		}
	}
	if tokens, recognitions := srv.counts(); tokens != 1 || recognitions != 1 {
		t.Errorf("%d tokens and %d recognitions, want the long audio never sent", tokens, recognitions)
	}
}
