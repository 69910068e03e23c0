package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
)

// docEncode is percent-encoding as Alibaba Cloud's signature documentation
// describes it for Java: form-encode, then '+' → %20, '*' → %2A,
// %7E → '~'. Written apart from percentEncode so that the test checks the
// signature independently.
func docEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// docSign signs params per the documentation, with docEncode.
func docSign(method, secret string, params url.Values) string {
	names := make([]string, 0, len(params))
	for name := range params {
		if name != "Signature" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var query []string
	for _, name := range names {
		query = append(query, docEncode(name)+"="+docEncode(params.Get(name)))
	}
	stringToSign := method + "&%2F&" + docEncode(strings.Join(query, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestAliyunSignatureDocumentedExamples reproduces the signatures of
// Alibaba Cloud's documented examples.
func TestAliyunSignatureDocumentedExamples(t *testing.T) {
	// The RPC signature mechanism's example ("API 签名机制(示例)"): ECS
	// DescribeRegions by GET, AccessKey ID testid, secret testsecret; the
	// documented signature is CT9X0VtwR86fNWSnsc6v8YGOjuE= (the same value
	// shown, URL-encoded, in every RPC API's signature overview).
	describeRegions := map[string]string{
		"TimeStamp":        "2016-02-23T12:46:24Z",
		"Format":           "XML",
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"Version":          "2014-05-26",
		"SignatureVersion": "1.0",
	}
	if got := signRPC(http.MethodGet, "testsecret", describeRegions); got != "CT9X0VtwR86fNWSnsc6v8YGOjuE=" {
		t.Errorf("DescribeRegions example: signature %s, want CT9X0VtwR86fNWSnsc6v8YGOjuE=", got)
	}
	wantQuery := "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1" +
		"&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0" +
		"&TimeStamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
	if got := canonicalQuery(describeRegions); got != wantQuery {
		t.Errorf("canonical query\n%s\nwant\n%s", got, wantQuery)
	}

	// The SMS API's own signing walk-through (SendSms, AccessKey ID testId,
	// secret testSecret, a Chinese SignName and a JSON TemplateParam, which
	// exercise the UTF-8 and punctuation encoding).
	sendSms := map[string]string{
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "45e25e9b-0a6f-4070-8c85-2956eda1b466",
		"AccessKeyId":      "testId",
		"SignatureVersion": "1.0",
		"Timestamp":        "2017-07-12T02:42:19Z",
		"Format":           "XML",
		"Action":           "SendSms",
		"Version":          "2017-05-25",
		"RegionId":         "cn-hangzhou",
		"PhoneNumbers":     "15300000001",
		"SignName":         "阿里云短信测试专用",
		"TemplateParam":    `{"customer":"test"}`,
		"TemplateCode":     "SMS_71390007",
		"OutId":            "123",
	}
	if got := signRPC(http.MethodGet, "testSecret", sendSms); got != "zJDF+Lrzhj/ThnlvIToysFRq6t4=" {
		t.Errorf("SendSms example: signature %s, want zJDF+Lrzhj/ThnlvIToysFRq6t4=", got)
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a-b_c.d~e": "a-b_c.d~e",
		"a b":       "a%20b",
		"a*b":       "a%2Ab",
		"a+b/c=d&e": "a%2Bb%2Fc%3Dd%26e",
		`{"code"}`:  "%7B%22code%22%7D",
		"短":         "%E7%9F%AD",
	} {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
		if got := docEncode(in); got != want {
			t.Errorf("docEncode(%q) = %q, want %q (the test's own encoder disagrees)", in, got, want)
		}
	}
}

func TestAliyunPhoneNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+8613800138000": "13800138000", // mainland China: national number
		"+85291234567":   "85291234567", // Hong Kong: country code, no +
		"+14155550123":   "14155550123",
		"+447700900123":  "447700900123",
	} {
		if got := aliyunPhoneNumber(in); got != want {
			t.Errorf("aliyunPhoneNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// aliyunServer checks each SendSms request's wire format and signature and
// answers with status and body.
func aliyunServer(t *testing.T, wantPhone string, status int, body string) (*httptest.Server, func() []string) {
	t.Helper()
	var (
		mu     sync.Mutex
		nonces []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" || r.URL.RawQuery != "" {
			t.Errorf("%s %s, want POST / with the parameters in the body", r.Method, r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
			return
		}
		checkAliyunForm(t, r.PostForm, wantPhone)
		mu.Lock()
		nonces = append(nonces, r.PostForm.Get("SignatureNonce"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), nonces...) }
}

func checkAliyunForm(t *testing.T, form url.Values, wantPhone string) {
	t.Helper()
	want := map[string]string{
		"AccessKeyId": "LTAI-test", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": wantPhone,
		"RegionId": "cn-shanghai", "SignName": "迈林", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"TemplateCode": "SMS_123456789", "TemplateParam": `{"code":"` + testCode + `"}`, "Version": "2017-05-25",
	}
	for name, v := range want {
		if got := form.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if len(form) != len(want)+3 { // + SignatureNonce, Timestamp, Signature
		t.Errorf("%d parameters, want %d: %v", len(form), len(want)+3, form)
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", form.Get("Timestamp"))
	if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
		t.Errorf("Timestamp %q (%v), want ISO 8601 UTC of now", form.Get("Timestamp"), err)
	}
	if form.Get("SignatureNonce") == "" {
		t.Error("no SignatureNonce")
	}
	if got, want := form.Get("Signature"), docSign(http.MethodPost, "secret+/=", form); got != want {
		t.Errorf("Signature %q, want %q", got, want)
	}
}

func aliyunConfig(endpoint string) config.SMS {
	c := config.SMS{Provider: config.SMSAliyun, Aliyun: config.SMSAliyunAPI{
		AccessKeyID: "LTAI-test", AccessKeySecret: "secret+/=", SignName: "迈林", TemplateCode: "SMS_123456789",
		Endpoint: endpoint, RegionID: "cn-shanghai",
	}}
	c.Defaults()
	return c
}

func TestAliyunSends(t *testing.T) {
	srv, nonces := aliyunServer(t, "13800138000", http.StatusOK,
		`{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}`)
	s, hook, reg := newTestSender(t, aliyunConfig(srv.URL+"/"))
	for range 2 {
		if err := s.Send(context.Background(), testMessage()); err != nil {
			t.Fatal(err)
		}
	}
	if n := nonces(); len(n) != 2 || n[0] == n[1] {
		t.Errorf("nonces %q, want two different ones", n)
	}
	assertCodeNotLogged(t, hook)
	assertSent(t, reg, "aliyun", 2, 0)
}

func TestAliyunInternationalNumber(t *testing.T) {
	srv, _ := aliyunServer(t, "85291234567", http.StatusOK, `{"Message":"OK","RequestId":"x","Code":"OK","BizId":"y"}`)
	s, _, _ := newTestSender(t, aliyunConfig(srv.URL+"/"))
	m := testMessage()
	m.To = "+85291234567"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestAliyunFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantText string
	}{
		{"business refusal", http.StatusOK,
			`{"Message":"触发小时级流控Permits:5","RequestId":"2184201F-BFB3-446B-B1F2-C746B7BF0657","Code":"isv.BUSINESS_LIMIT_CONTROL"}`,
			"aliyun: isv.BUSINESS_LIMIT_CONTROL: 触发小时级流控Permits:5 (RequestId 2184201F-BFB3-446B-B1F2-C746B7BF0657)"},
		// A signature error repeats the string to sign, template parameter
		// and code included: the code must not come through.
		{"signature refused", http.StatusBadRequest,
			`{"Message":"Specified signature does not match our calculation. server string to sign is:` +
				`POST&%2F&TemplateParam%3D%257B%2522code%2522%253A%2522492817%2522%257D","RequestId":"r","Code":"SignatureDoesNotMatch"}`,
			"aliyun: SignatureDoesNotMatch: Specified signature does not match our calculation"},
		{"not a SendSms answer", http.StatusBadGateway, "<html>bad gateway</html>", "aliyun: HTTP 502 without a SendSms answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := aliyunServer(t, "13800138000", tt.status, tt.body)
			s, hook, reg := newTestSender(t, aliyunConfig(srv.URL+"/"))
			err := s.Send(context.Background(), testMessage())
			assertProviderError(t, err, tt.wantText)
			assertCodeNotLogged(t, hook)
			assertSent(t, reg, "aliyun", 0, 1)
		})
	}
}

func TestAliyunNeedsTheCode(t *testing.T) {
	s, _, _ := newTestSender(t, aliyunConfig("http://127.0.0.1:1/"))
	if err := s.Send(context.Background(), Message{To: "+8613800138000", Body: "text"}); err == nil {
		t.Error("a message without a code was accepted")
	}
}
