package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/myelin-im/myelin/internal/config"
)

// webhookFirstBackoff is the wait before the second attempt; each later
// wait doubles.
const webhookFirstBackoff = 200 * time.Millisecond

// webhookRequest is the JSON body POSTed to the webhook. The code is there
// besides the body, which already holds it, so that a relay to a
// template-based gateway need not parse the text. Its fields are
// Message's, in the same order, so that a Message converts to it.
type webhookRequest struct {
	To   string `json:"to"`
	Body string `json:"body"`
	Code string `json:"code"`
}

// webhook POSTs each message to an operator's URL: 2xx is sent, 5xx and
// network errors are retried with backoff, anything else is a refusal.
type webhook struct {
	url, secret string
	timeout     time.Duration
	attempts    int
	backoff     time.Duration
	client      *http.Client
}

func newWebhook(cfg config.SMSWebhookAPI) (*webhook, error) {
	if cfg.URL == "" {
		return nil, errors.New("sms: sms.webhook.url is not set")
	}
	w := &webhook{
		url: cfg.URL, secret: cfg.Secret, timeout: time.Duration(cfg.Timeout), attempts: cfg.MaxAttempts,
		backoff: webhookFirstBackoff, client: &http.Client{},
	}
	if w.timeout <= 0 {
		w.timeout = config.DefaultSMSWebhookTimeout
	}
	w.attempts = max(w.attempts, 1)
	return w, nil
}

func (w *webhook) name() string    { return config.SMSWebhook }
func (w *webhook) needsBody() bool { return true }

func (w *webhook) send(ctx context.Context, m Message) error {
	body, err := json.Marshal(webhookRequest(m))
	if err != nil {
		return fmt.Errorf("sms: webhook request: %w", err)
	}
	wait := w.backoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(ctx, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= w.attempts || ctx.Err() != nil {
			return fmt.Errorf("%w (attempt %d of %d)", err, attempt, w.attempts)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (attempt %d of %d; then %w)", err, attempt, w.attempts, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// post makes one attempt. retry tells whether a failure may be retried.
func (w *webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("sms: webhook request: %w", stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	if w.secret != "" {
		req.Header.Set("Authorization", "Bearer "+w.secret)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return true, providerError("webhook: %w", stripURL(err))
	}
	defer closeBody(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	return resp.StatusCode >= 500, providerError("webhook: HTTP %d: %s", resp.StatusCode, snippet(resp.Body))
}

// stripURL drops the URL from a *url.Error: it may carry a token, and the
// operator knows which URL is configured.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// snippet reads the start of an error answer, for the error message: at
// most 300 bytes, on one line, or "(empty answer)".
func snippet(r io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(r, 300))
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), string(utf8.RuneError))), " ")
	if s == "" {
		return "(empty answer)"
	}
	return s
}

// closeBody drains a little of what is left (so the connection can be
// reused) and closes the body.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
