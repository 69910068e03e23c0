package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what Alibaba Cloud's signature method 1.0 specifies
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/config"
)

// Alibaba Cloud SMS, SendSms of the dysmsapi RPC API, version 2017-05-25.
// Requests carry the common RPC parameters and are signed with signature
// method HMAC-SHA1, version 1.0: the parameters, Signature excepted, are
// sorted by name, each name and value percent-encoded (RFC 3986: only
// A-Z a-z 0-9 - _ . ~ kept, so a space is %20, '*' is %2A and '~' stays),
// joined as name=value with '&'; StringToSign is
// METHOD + "&" + encode("/") + "&" + encode(that query); the signature is
// Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
//
// The request is a POST with the parameters as a form body, not a GET with
// them in the URL: TemplateParam holds the code, and a URL ends up in error
// texts and proxy logs.
const (
	aliyunVersion    = "2017-05-25"
	aliyunTimeFormat = "2006-01-02T15:04:05Z"
)

type aliyun struct {
	cfg    config.SMSAliyunAPI
	client *http.Client
	now    func() time.Time
	nonce  func() string
}

func newAliyun(cfg config.SMSAliyunAPI) (*aliyun, error) {
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" || cfg.SignName == "" || cfg.TemplateCode == "" {
		return nil, errors.New("sms: sms.aliyun needs access_key_id, access_key_secret, sign_name and template_code")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = config.DefaultSMSAliyunEndpoint
	}
	if cfg.RegionID == "" {
		cfg.RegionID = config.DefaultSMSAliyunRegionID
	}
	return &aliyun{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second}, now: time.Now, nonce: randomNonce}, nil
}

func (a *aliyun) name() string    { return config.SMSAliyun }
func (a *aliyun) needsBody() bool { return false }

// aliyunResponse is SendSms's answer; Code is "OK" when the message was
// accepted.
type aliyunResponse struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestId"`
	BizID     string `json:"BizId"`
}

func (a *aliyun) send(ctx context.Context, m Message) error {
	params, err := a.params(m)
	if err != nil {
		return err
	}
	params["Signature"] = signRPC(http.MethodPost, a.cfg.AccessKeySecret, params)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.Endpoint, strings.NewReader(canonicalQuery(params)))
	if err != nil {
		return fmt.Errorf("sms: aliyun request: %w", stripURL(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return providerError("aliyun: %w", stripURL(err))
	}
	defer closeBody(resp)
	var answer aliyunResponse
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.Code == "" {
		return providerError("aliyun: HTTP %d without a SendSms answer", resp.StatusCode)
	}
	if answer.Code != "OK" {
		return providerError("aliyun: %s: %s (RequestId %s)", answer.Code, answer.Message, answer.RequestID)
	}
	return nil
}

// params are SendSms's parameters for m, the common ones included,
// Signature not yet.
func (a *aliyun) params(m Message) (map[string]string, error) {
	templateParam, err := json.Marshal(map[string]string{"code": m.Code})
	if err != nil {
		return nil, fmt.Errorf("sms: aliyun template parameter: %w", err)
	}
	return map[string]string{
		"AccessKeyId":      a.cfg.AccessKeyID,
		"Action":           "SendSms",
		"Format":           "JSON",
		"PhoneNumbers":     aliyunPhoneNumber(m.To),
		"RegionId":         a.cfg.RegionID,
		"SignName":         a.cfg.SignName,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   a.nonce(),
		"SignatureVersion": "1.0",
		"TemplateCode":     a.cfg.TemplateCode,
		"TemplateParam":    string(templateParam),
		"Timestamp":        a.now().UTC().Format(aliyunTimeFormat),
		"Version":          aliyunVersion,
	}, nil
}

// aliyunPhoneNumber writes an E.164 number the way SendSms's PhoneNumbers
// documents it: a mainland China number as its 11 national digits, without
// +86; any other as country code and number without the '+' (e.g.
// 85212345678).
func aliyunPhoneNumber(e164 string) string {
	digits := strings.TrimPrefix(e164, "+")
	if national, ok := strings.CutPrefix(digits, "86"); ok {
		return national
	}
	return digits
}

// signRPC is the signature of params (Signature not among them) for a
// request made with method: see the comment at the top of this file.
func signRPC(method, accessKeySecret string, params map[string]string) string {
	stringToSign := method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(params))
	mac := hmac.New(sha1.New, []byte(accessKeySecret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// canonicalQuery joins params sorted by name as name=value pairs, each
// percent-encoded, with '&'. It is also a valid form body.
func canonicalQuery(params map[string]string) string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	pairs := make([]string, len(names))
	for i, name := range names {
		pairs[i] = percentEncode(name) + "=" + percentEncode(params[name])
	}
	return strings.Join(pairs, "&")
}

// percentEncode encodes the UTF-8 bytes of s per RFC 3986: every byte but
// the unreserved A-Z a-z 0-9 - _ . ~ becomes %XY (upper-case hex).
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

// randomNonce is a SignatureNonce: 128 random bits in hex, unique per
// request as the API requires against replays.
func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
