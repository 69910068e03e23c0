package speech

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BaiduServer plays Baidu's token endpoint (/oauth/2.0/token) and short
// speech recognition (/server_api), checking each request against the
// API's documentation and answering in its format.
type BaiduServer struct {
	// TokenURL and RecognizeURL are its endpoints, for the engine's
	// configuration (with BaiduAPIKey and BaiduSecretKey).
	TokenURL, RecognizeURL string
	// ExpiresIn is the lifetime of the tokens it issues, in seconds.
	ExpiresIn int

	t testing.TB
	// answer answers a valid recognition request (nil: success with
	// BaiduSaid).
	answer func(w http.ResponseWriter, req BaiduRequest)

	mu           sync.Mutex
	valid        map[string]bool // tokens issued and not revoked
	tokens       int             // how many were issued
	recognitions int
	devPIDs      []int
	durations    []time.Duration
}

// BaiduSaid is what the server hears in every recognition unless told
// otherwise (AnswerWith): "please call me tomorrow morning" in Mandarin.
const BaiduSaid = "请明天早上给我打电话"

// The client credentials the server accepts.
const (
	BaiduAPIKey    = "ak-test"
	BaiduSecretKey = "sk-secret"
)

// BaiduRequest is a recognition request as the server decodes it;
// pointers tell a missing field from a zero one.
type BaiduRequest struct {
	Format  *string `json:"format"`
	Rate    *int    `json:"rate"`
	Channel *int    `json:"channel"`
	CUID    *string `json:"cuid"`
	Token   *string `json:"token"`
	DevPID  *int    `json:"dev_pid"`
	Speech  *string `json:"speech"`
	Len     *int    `json:"len"`
}

// NewBaiduServer starts the server until the test ends.
func NewBaiduServer(t testing.TB) *BaiduServer {
	s := &BaiduServer{t: t, ExpiresIn: 2592000, valid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/2.0/token", s.token)
	mux.HandleFunc("/server_api", s.recognize)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.TokenURL, s.RecognizeURL = srv.URL+"/oauth/2.0/token", srv.URL+"/server_api"
	return s
}

// token issues an access token for the client credentials ak-test and
// sk-secret, given in the query string of a POST.
func (s *BaiduServer) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != http.MethodPost || q.Get("grant_type") != "client_credentials" || len(q) != 3 {
		s.t.Errorf("token request %s %s, want POST with grant_type, client_id and client_secret", r.Method, r.URL)
	}
	switch {
	case q.Get("client_id") != BaiduAPIKey:
		WriteJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"unknown client id"}`)
		return
	case q.Get("client_secret") != BaiduSecretKey:
		WriteJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Client authentication failed"}`)
		return
	}
	s.mu.Lock()
	s.tokens++
	token := fmt.Sprintf("24.6c5e1ff107f0e8bcef8c46d3424a0e%02d.%d.1485516651.282335-8574074", s.tokens, s.ExpiresIn)
	s.valid[token] = true
	s.mu.Unlock()
	WriteJSON(w, http.StatusOK, fmt.Sprintf(`{`+
		`"refresh_token":"25.b55fe1d287227ca97aab219bb249b8ab.315360000.1798284651.282335-8574074",`+
		`"expires_in":%d,`+
		`"scope":"public brain_all_scope audio_voice_assistant_get",`+
		`"session_key":"9mzdDZXu3dENdFZQurfg0Vz8slgSgvvOAUebNFzyzcpQ",`+
		`"access_token":%q,`+
		`"session_secret":"dfac94a3489fe9fca7c3221cbf7525ff"}`, s.ExpiresIn, token))
}

// recognize checks a recognition request ("JSON方式上传音频": every field
// present with its documented value, speech the base64 of len bytes of
// PCM) and answers it.
func (s *BaiduServer) recognize(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("recognition %s with Content-Type %q, want POST application/json", r.Method, r.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req BaiduRequest
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
		WriteJSON(w, http.StatusOK, `{"err_msg":"authentication failed.","err_no":3302,"sn":"482530578291499406998"}`)
	case answer != nil:
		answer(w, req)
	default:
		WriteJSON(w, http.StatusOK, `{"corpus_no":"6433214037620997779","err_msg":"success.","err_no":0,`+
			`"result":["`+BaiduSaid+`"],"sn":"371191073711497849365"}`)
	}
}

// AnswerWith makes the server answer valid requests with answer.
func (s *BaiduServer) AnswerWith(answer func(w http.ResponseWriter, req BaiduRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// RevokeAll makes every token issued so far invalid.
func (s *BaiduServer) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
}

// Last returns the dev_pid and the length of the audio of the last
// recognition.
func (s *BaiduServer) Last() (devPID int, duration time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devPIDs[len(s.devPIDs)-1], s.durations[len(s.durations)-1]
}

// Counts returns how many tokens and recognitions the server served.
func (s *BaiduServer) Counts() (tokens, recognitions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens, s.recognitions
}
