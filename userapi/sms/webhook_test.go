package sms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
)

// webhookServer answers with statuses in turn (the last one repeated) and
// checks each request's wire format.
func webhookServer(t *testing.T, secret string, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		if r.Method != http.MethodPost || r.URL.Path != "/hooks/sms" {
			t.Errorf("%s %s, want POST /hooks/sms", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		wantAuth := ""
		if secret != "" {
			wantAuth = "Bearer " + secret
		}
		if got := r.Header.Get("Authorization"); got != wantAuth {
			t.Errorf("Authorization %q, want %q", got, wantAuth)
		}
		data, _ := io.ReadAll(r.Body)
		var body map[string]string
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("body %q: %v", data, err)
		}
		m := testMessage()
		want := map[string]string{"to": m.To, "body": m.Body, "code": m.Code}
		if len(body) != len(want) || body["to"] != want["to"] || body["body"] != want["body"] || body["code"] != want["code"] {
			t.Errorf("body %v, want %v", body, want)
		}
		status := statuses[min(i, len(statuses)-1)]
		w.WriteHeader(status)
		if status >= 300 {
			// A gateway echoing the message, code and all.
			_, _ = w.Write([]byte(`{"error": "rejected: ` + m.Body + `"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func webhookConfig(url, secret string) config.SMS {
	c := config.SMS{Provider: config.SMSWebhook, Webhook: config.SMSWebhookAPI{URL: url, Secret: secret}}
	c.Defaults()
	return c
}

// fastRetries shortens the backoff of s, a webhook sender, for the test.
func fastRetries(t *testing.T, s Sender) {
	t.Helper()
	s.(*sender).p.(*webhook).backoff = time.Millisecond
}

func TestWebhookSends(t *testing.T) {
	srv, calls := webhookServer(t, "hook-secret", http.StatusNoContent)
	s, hook, reg := newTestSender(t, webhookConfig(srv.URL+"/hooks/sms", "hook-secret"))
	if err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests, want 1", calls.Load())
	}
	assertCodeNotLogged(t, hook)
	assertSent(t, reg, "webhook", 1, 0)
}

func TestWebhookRetriesServerErrors(t *testing.T) {
	srv, calls := webhookServer(t, "", http.StatusInternalServerError, http.StatusBadGateway, http.StatusOK)
	s, hook, reg := newTestSender(t, webhookConfig(srv.URL+"/hooks/sms", ""))
	start := time.Now()
	if err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	// 200ms, then 400ms, before the third attempt.
	if elapsed := time.Since(start); elapsed < 600*time.Millisecond {
		t.Errorf("three attempts in %v, want the 200ms and 400ms waits", elapsed)
	}
	if calls.Load() != 3 {
		t.Errorf("%d requests, want 3 (500, 502, then 200)", calls.Load())
	}
	assertCodeNotLogged(t, hook)
	assertSent(t, reg, "webhook", 1, 0)
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	srv, calls := webhookServer(t, "", http.StatusServiceUnavailable)
	s, hook, reg := newTestSender(t, webhookConfig(srv.URL+"/hooks/sms", ""))
	fastRetries(t, s)
	err := s.Send(context.Background(), testMessage())
	assertProviderError(t, err, "webhook: HTTP 503")
	assertProviderError(t, err, "attempt 3 of 3")
	if calls.Load() != 3 {
		t.Errorf("%d requests, want 3", calls.Load())
	}
	assertCodeNotLogged(t, hook)
	assertSent(t, reg, "webhook", 0, 1)
}

func TestWebhookDoesNotRetryClientErrors(t *testing.T) {
	srv, calls := webhookServer(t, "", http.StatusBadRequest, http.StatusOK)
	s, hook, reg := newTestSender(t, webhookConfig(srv.URL+"/hooks/sms", ""))
	fastRetries(t, s)
	err := s.Send(context.Background(), testMessage())
	// The gateway's answer is in the error, with the echoed code masked.
	assertProviderError(t, err, "webhook: HTTP 400: {\"error\": \"rejected: Your Myelin verification code is ******.")
	if calls.Load() != 1 {
		t.Errorf("%d requests, want 1: a 400 is not retried", calls.Load())
	}
	if len(hook.AllEntries()) == 0 {
		t.Error("the failure was not logged")
	}
	assertCodeNotLogged(t, hook)
	assertSent(t, reg, "webhook", 0, 1)
}

func TestWebhookRetriesNetworkErrorsWithinTheContext(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hooks/sms"
	srv.Close() // nothing listens there any more
	cfg := webhookConfig(url, "")
	cfg.Webhook.MaxAttempts = 100
	s, hook, _ := newTestSender(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, testMessage())
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Send took %v, beyond its context's 500ms", elapsed)
	}
	assertProviderError(t, err, "webhook: ")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not say the context ended", err)
	}
	assertCodeNotLogged(t, hook)
}

func TestWebhookAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	cfg := webhookConfig(srv.URL, "")
	cfg.Webhook.Timeout = config.Duration(50 * time.Millisecond)
	cfg.Webhook.MaxAttempts = 2
	s, _, _ := newTestSender(t, cfg)
	fastRetries(t, s)
	err := s.Send(context.Background(), testMessage())
	assertProviderError(t, err, "attempt 2 of 2")
}
