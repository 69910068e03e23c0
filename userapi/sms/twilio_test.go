package sms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
)

// twilioServer checks each request against the Messages API's documented
// format and answers with status and body.
func twilioServer(t *testing.T, want url.Values, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json" {
			t.Errorf("%s %s, want POST /2010-04-01/Accounts/AC0123456789abcdef/Messages.json", r.Method, r.URL.Path)
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != "AC0123456789abcdef" || pass != "auth-token" {
			t.Errorf("basic auth %q:%q (%v), want the account SID and auth token", user, pass, ok)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
			return
		}
		if len(r.PostForm) != len(want) {
			t.Errorf("form %v, want %v", r.PostForm, want)
		}
		for name := range want {
			if r.PostForm.Get(name) != want.Get(name) {
				t.Errorf("%s = %q, want %q", name, r.PostForm.Get(name), want.Get(name))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func twilioConfig(baseURL, from, service string) config.SMS {
	c := config.SMS{Provider: config.SMSTwilio, Twilio: config.SMSTwilioAPI{
		AccountSID: "AC0123456789abcdef", AuthToken: "auth-token", From: from, MessagingServiceSID: service, BaseURL: baseURL,
	}}
	c.Defaults()
	return c
}

const twilioCreated = `{"sid":"SM1234","status":"queued","to":"+8613800138000","direction":"outbound-api","api_version":"2010-04-01"}`

func TestTwilioSends(t *testing.T) {
	m := testMessage()
	tests := []struct {
		name, from, service string
		want                url.Values
	}{
		{"from a number", "+15005550006", "", url.Values{"To": {m.To}, "Body": {m.Body}, "From": {"+15005550006"}}},
		{"through a messaging service", "", "MG9876", url.Values{"To": {m.To}, "Body": {m.Body}, "MessagingServiceSid": {"MG9876"}}},
		{"both", "Myelin", "MG9876",
			url.Values{"To": {m.To}, "Body": {m.Body}, "From": {"Myelin"}, "MessagingServiceSid": {"MG9876"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := twilioServer(t, tt.want, http.StatusCreated, twilioCreated)
			s, hook, reg := newTestSender(t, twilioConfig(srv.URL+"/", tt.from, tt.service))
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			assertCodeNotLogged(t, hook)
			assertSent(t, reg, "twilio", 1, 0)
		})
	}
}

func TestTwilioFailures(t *testing.T) {
	m := testMessage()
	want := url.Values{"To": {m.To}, "Body": {m.Body}, "From": {"+15005550006"}}
	tests := []struct {
		name     string
		status   int
		body     string
		wantText string
	}{
		{"invalid number", http.StatusBadRequest,
			`{"code": 21211, "message": "The 'To' number +8613800138000 is not a valid phone number.", ` +
				`"more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			"twilio: error 21211: The 'To' number +8613800138000 is not a valid phone number. " +
				"(HTTP 400, https://www.twilio.com/docs/errors/21211)"},
		{"bad credentials", http.StatusUnauthorized,
			`{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}`,
			"twilio: error 20003: Authenticate"},
		{"body echoed", http.StatusBadRequest,
			`{"code": 30007, "message": "Message filtered: ` + m.Body + `", "more_info": "", "status": 400}`,
			"Message filtered: Your Myelin verification code is ******."},
		{"not JSON", http.StatusServiceUnavailable, "busy", "twilio: HTTP 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := twilioServer(t, want, tt.status, tt.body)
			s, hook, reg := newTestSender(t, twilioConfig(srv.URL, "+15005550006", ""))
			err := s.Send(context.Background(), m)
			assertProviderError(t, err, tt.wantText)
			assertCodeNotLogged(t, hook)
			assertSent(t, reg, "twilio", 0, 1)
		})
	}
}

func TestTwilioUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	s, hook, _ := newTestSender(t, twilioConfig(srv.URL, "+15005550006", ""))
	err := s.Send(context.Background(), testMessage())
	assertProviderError(t, err, "twilio: ")
	assertCodeNotLogged(t, hook)
}
