package transcribe

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/speech"
)

// newBaiduServer starts Baidu's stand-in and returns the configuration
// that reaches it.
func newBaiduServer(t *testing.T) (*speech.BaiduServer, BaiduConfig) {
	s := speech.NewBaiduServer(t)
	return s, BaiduConfig{
		APIKey:       speech.BaiduAPIKey,
		SecretKey:    speech.BaiduSecretKey,
		TokenURL:     s.TokenURL,
		RecognizeURL: s.RecognizeURL,
	}
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
	speech.Require(t, "ffmpeg", "espeak-ng")
	wav, duration := speech.SpeakIn(t, "cmn", t.TempDir(), "mandarin", speech.BaiduSaid)
	return Audio{Path: speech.Encode(t, wav, speech.OggOpus), ContentType: "audio/ogg"}, duration
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
		want := Result{Text: speech.BaiduSaid, Engine: EngineBaidu, Language: tc.resolved, DurationMS: res.DurationMS}
		devPID, sent := srv.Last()
		if res != want || devPID != tc.devPID {
			t.Errorf("language %q: %+v with dev_pid %d, want %+v with %d", tc.language, res, devPID, want, tc.devPID)
		}
		if got := time.Duration(res.DurationMS) * time.Millisecond; got != sent.Truncate(time.Millisecond) ||
			sent < duration-30*time.Millisecond || sent > duration+30*time.Millisecond {
			t.Errorf("duration %v, sent %v of PCM, want %v", got, sent, duration)
		}
	}
	if tokens, recognitions := srv.Counts(); tokens != 1 || recognitions != 4 {
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
		if devPID, _ := srv.Last(); res.Language != "zh" || devPID != 1936 {
			t.Errorf("language %q: %+v with dev_pid %d; want zh with 1936", language, res, devPID)
		}
	}
}

// TestBaiduTokenRenewed: a token is renewed shortly before it expires.
func TestBaiduTokenRenewed(t *testing.T) {
	audio, _ := mandarin(t)
	srv, cfg := newBaiduServer(t)
	srv.ExpiresIn = 1
	eng := newTestBaidu(t, cfg)
	for i := range 2 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		if _, err := eng.Transcribe(context.Background(), audio); err != nil {
			t.Fatal(err)
		}
	}
	if tokens, _ := srv.Counts(); tokens != 2 {
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
	srv.RevokeAll()
	res, err := eng.Transcribe(context.Background(), audio)
	if err != nil || res.Text != speech.BaiduSaid {
		t.Fatalf("Transcribe after the token was revoked: %+v, %v", res, err)
	}
	if tokens, recognitions := srv.Counts(); tokens != 2 || recognitions != 3 {
		t.Errorf("%d tokens and %d recognitions, want 2 and 3 (one refused)", tokens, recognitions)
	}
	srv.AnswerWith(func(w http.ResponseWriter, _ speech.BaiduRequest) {
		speech.WriteJSON(w, http.StatusOK, `{"err_msg":"authentication failed.","err_no":3302,"sn":"482530578291499406998"}`)
	})
	_, err = eng.Transcribe(context.Background(), audio)
	if !errors.Is(err, ErrEngine) || !strings.Contains(err.Error(), "baidu: err_no 3302: authentication failed.") {
		t.Fatalf("Transcribe with every token refused: %v, want ErrEngine with err_no 3302", err)
	}
	if tokens, recognitions := srv.Counts(); tokens != 3 || recognitions != 5 {
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
		answer func(http.ResponseWriter, speech.BaiduRequest)
		want   string
	}{
		{name: "poor audio", answer: func(w http.ResponseWriter, _ speech.BaiduRequest) {
			speech.WriteJSON(w, http.StatusOK, `{"err_msg":"speech quality error.","err_no":3301,"sn":"482530578291499406998"}`)
		}, want: "baidu: err_no 3301: speech quality error."},
		{name: "quota", answer: func(w http.ResponseWriter, _ speech.BaiduRequest) {
			speech.WriteJSON(w, http.StatusOK, `{"err_msg":"request limit reached.","err_no":3305,"sn":"482530578291499406999"}`)
		}, want: "baidu: err_no 3305: request limit reached."},
		{name: "gateway", answer: func(w http.ResponseWriter, _ speech.BaiduRequest) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, want: "baidu: recognition answered 503: (empty answer)"},
		{name: "unknown key", cfg: func(c *BaiduConfig) { c.APIKey = "ak-wrong" },
			want: "baidu token: invalid_client: unknown client id"},
		{name: "wrong secret", cfg: func(c *BaiduConfig) { c.SecretKey = "sk-wrong" },
			want: "baidu token: invalid_client: Client authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cfg := newBaiduServer(t)
			srv.AnswerWith(tc.answer)
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
	speech.Require(t, "ffmpeg")
	srv, cfg := newBaiduServer(t)
	eng := newTestBaidu(t, cfg)
	dir := t.TempDir()
	for _, tc := range []struct {
		seconds string
		refused bool
	}{{"60.5", true}, {"59.5", false}} {
		path := filepath.Join(dir, tc.seconds+".ogg")
		speech.FFmpeg(t, "-f", "lavfi", "-i", "anoisesrc=r=16000:a=0.05:d="+tc.seconds, "-c:a", "libopus", path)
		_, err := eng.Transcribe(context.Background(), Audio{Path: path, ContentType: "audio/ogg"})
		if tc.refused != errors.Is(err, ErrTooLong) || (!tc.refused && err != nil) {
			t.Errorf("%s s: %v, want refused %v", tc.seconds, err, tc.refused)
		}
	}
	if tokens, recognitions := srv.Counts(); tokens != 1 || recognitions != 1 {
		t.Errorf("%d tokens and %d recognitions, want the long audio never sent", tokens, recognitions)
	}
}
