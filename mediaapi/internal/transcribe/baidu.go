package transcribe

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of BaiduConfig: Baidu AI Cloud's OAuth token endpoint, the
// standard short speech recognition endpoint (短语音识别标准版) and its
// Mandarin model.
const (
	DefaultBaiduTokenURL     = "https://aip.baidubce.com/oauth/2.0/token"
	DefaultBaiduRecognizeURL = "https://vop.baidu.com/server_api"
	DefaultBaiduDevPID       = 1537
)

// Limits and constants of Baidu's short speech recognition API.
const (
	// baiduMaxDuration: "将60秒以内的语音精准识别为文字"; the API refuses
	// longer audio with err_no 3308, so it is refused before it is sent.
	baiduMaxDuration = 60 * time.Second
	// baiduCUID identifies the calling device (the cuid field, at most 60
	// characters); Baidu counts distinct ones in the console.
	baiduCUID = "myelin"
	// baiduAuthFailed is err_no 3302, a token Baidu no longer accepts.
	baiduAuthFailed = 3302
)

// baiduModels are the dev_pid of Baidu's standard models by language
// (ISO 639), and baiduLanguages the language each dev_pid transcribes.
var (
	baiduModels    = map[string]int{"zh": 1537, "en": 1737, "yue": 1637}
	baiduLanguages = map[int]string{1537: "zh", 1737: "en", 1637: "yue", 1837: "zh", 1936: "zh"}
)

// BaiduConfig sets up Baidu's speech recognition REST API, the engine the
// original product used for Chinese.
type BaiduConfig struct {
	// APIKey is the application's API Key (client_id).
	APIKey string
	// SecretKey is the application's Secret Key (client_secret).
	SecretKey string
	// TokenURL is the OAuth 2.0 token endpoint.
	TokenURL string
	// RecognizeURL is the recognition endpoint.
	RecognizeURL string
	// DevPID is the model used when the request names no language: 1537
	// Mandarin, 1737 English, 1637 Cantonese, 1837 Sichuanese, 1936
	// Mandarin far-field. A request naming zh, en or yue gets that
	// language's model.
	DevPID int
}

// baidu transcribes with Baidu's short speech recognition: an access token
// from the OAuth endpoint (cached until shortly before it expires), then
// the 16 kHz PCM as base64 in a JSON request.
type baidu struct {
	cfg    BaiduConfig
	client *http.Client

	mu      sync.Mutex // held while a token is fetched, so one fetch serves all
	token   string
	renewAt time.Time
}

// newBaidu checks cfg and returns the engine.
func newBaidu(cfg BaiduConfig) (*baidu, error) {
	if cfg.APIKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("transcription engine baidu needs an API key and a secret key")
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultBaiduTokenURL
	}
	if cfg.RecognizeURL == "" {
		cfg.RecognizeURL = DefaultBaiduRecognizeURL
	}
	if cfg.DevPID == 0 {
		cfg.DevPID = DefaultBaiduDevPID
	}
	for _, raw := range []string{cfg.TokenURL, cfg.RecognizeURL} {
		if err := checkURL(EngineBaidu, raw); err != nil {
			return nil, err
		}
	}
	return &baidu{cfg: cfg, client: &http.Client{}}, nil
}

func (b *baidu) name() string { return EngineBaidu }

// maxDuration is the API's limit.
func (b *baidu) maxDuration() time.Duration { return baiduMaxDuration }

// language is the configured model's language when none is requested (or
// the same one is); else a language Baidu has a standard model for.
func (b *baidu) language(requested string) (string, error) {
	configured := baiduLanguages[b.cfg.DevPID]
	if requested == "" || requested == configured {
		return configured, nil
	}
	if _, ok := baiduModels[requested]; ok {
		return requested, nil
	}
	return "", ErrLanguage.with("baidu transcribes zh, en and yue, not %q", requested)
}

// devPID is the model for language (as resolved by b.language).
func (b *baidu) devPID(language string) int {
	if language == baiduLanguages[b.cfg.DevPID] {
		return b.cfg.DevPID
	}
	return baiduModels[language]
}

// baiduRequest is the JSON body of a recognition (短语音识别标准版 API,
// "JSON方式上传音频").
type baiduRequest struct {
	Format  string `json:"format"`
	Rate    int    `json:"rate"`
	Channel int    `json:"channel"`
	CUID    string `json:"cuid"`
	Token   string `json:"token"`
	DevPID  int    `json:"dev_pid"`
	Speech  string `json:"speech"` // base64 of the PCM
	Len     int    `json:"len"`    // length of the PCM in bytes, before base64
}

// baiduAnswer is its answer; result holds 1 to 5 candidates, best first.
type baiduAnswer struct {
	ErrNo  int      `json:"err_no"`
	ErrMsg string   `json:"err_msg"`
	Result []string `json:"result"`
}

// recognize sends the PCM of c for recognition. A token Baidu refuses
// (3302) is dropped and the request tried once more with a new one.
func (b *baidu) recognize(ctx context.Context, c *clip, language string) (string, error) {
	pcm, err := c.pcm()
	if err != nil {
		return "", err
	}
	req := baiduRequest{
		Format:  "pcm",
		Rate:    sampleRate,
		Channel: 1,
		CUID:    baiduCUID,
		DevPID:  b.devPID(language),
		Speech:  base64.StdEncoding.EncodeToString(pcm),
		Len:     len(pcm),
	}
	answer, err := b.recognizeWithToken(ctx, req)
	if err == nil && answer.ErrNo == baiduAuthFailed {
		b.forgetToken()
		answer, err = b.recognizeWithToken(ctx, req)
	}
	if err != nil {
		return "", err
	}
	if answer.ErrNo != 0 {
		return "", ErrEngine.with("baidu: err_no %d: %s", answer.ErrNo, answer.ErrMsg)
	}
	if len(answer.Result) == 0 {
		return "", nil
	}
	return answer.Result[0], nil
}

// recognizeWithToken posts req with the current access token.
func (b *baidu) recognizeWithToken(ctx context.Context, req baiduRequest) (*baiduAnswer, error) {
	token, err := b.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	req.Token = token
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("baidu request: %w", err)
	}
	status, raw, err := b.post(ctx, b.cfg.RecognizeURL, "application/json", body)
	if err != nil {
		return nil, err
	}
	var answer baiduAnswer
	if json.Unmarshal(raw, &answer) != nil || (status != http.StatusOK && answer.ErrNo == 0) {
		return nil, ErrEngine.with("baidu: recognition answered %d: %s", status, snippet(raw))
	}
	return &answer, nil
}

// baiduToken is the token endpoint's answer, or its error.
type baiduToken struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"` // seconds
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// accessToken returns a cached token, fetching a new one when there is none
// or it is about to expire.
func (b *baidu) accessToken(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token != "" && time.Now().Before(b.renewAt) {
		return b.token, nil
	}
	u, err := url.Parse(b.cfg.TokenURL)
	if err != nil {
		return "", fmt.Errorf("baidu token URL: %w", err)
	}
	q := u.Query()
	q.Set("grant_type", "client_credentials")
	q.Set("client_id", b.cfg.APIKey)
	q.Set("client_secret", b.cfg.SecretKey)
	u.RawQuery = q.Encode()
	status, raw, err := b.post(ctx, u.String(), "", nil)
	if err != nil {
		return "", err
	}
	var tok baiduToken
	if json.Unmarshal(raw, &tok) != nil || tok.AccessToken == "" {
		if tok.Error != "" {
			return "", ErrEngine.with("baidu token: %s: %s", tok.Error, tok.ErrorDescription)
		}
		return "", ErrEngine.with("baidu token: answered %d: %s", status, snippet(raw))
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	b.token, b.renewAt = tok.AccessToken, time.Now().Add(lifetime-min(time.Hour, lifetime/10))
	return b.token, nil
}

// forgetToken drops the cached token, so that the next call fetches one.
func (b *baidu) forgetToken() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.token = ""
}

// post sends body (when not nil) to target and returns the answer's status
// and body. Errors never show target's query, which holds the secret key.
func (b *baidu) post(ctx context.Context, target, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("baidu request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	endpoint := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	resp, err := b.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, engineFailure(ctx, fmt.Errorf("baidu: POST %s: %w", endpoint, err))
	}
	defer resp.Body.Close() //nolint:errcheck // read to the end or limit
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, engineFailure(ctx, fmt.Errorf("baidu: read answer of %s: %w", endpoint, err))
	}
	return resp.StatusCode, answer, nil
}
