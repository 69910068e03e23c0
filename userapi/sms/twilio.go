package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/config"
)

// twilio sends through Twilio's Messages API: POST
// {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To,
// Body and From and/or MessagingServiceSid, with HTTP basic authentication
// AccountSid:AuthToken. 201 Created means accepted; an error answers
// {"code", "message", "more_info", "status"}.
type twilio struct {
	cfg      config.SMSTwilioAPI
	endpoint string
	client   *http.Client
}

func newTwilio(cfg config.SMSTwilioAPI) (*twilio, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || (cfg.From == "" && cfg.MessagingServiceSID == "") {
		return nil, errors.New("sms: sms.twilio needs account_sid, auth_token, and from or messaging_service_sid")
	}
	base := cfg.BaseURL
	if base == "" {
		base = config.DefaultSMSTwilioBaseURL
	}
	endpoint := strings.TrimSuffix(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	return &twilio{cfg: cfg, endpoint: endpoint, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (t *twilio) name() string    { return config.SMSTwilio }
func (t *twilio) needsBody() bool { return true }

// twilioError is the body of a Twilio error answer.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (t *twilio) send(ctx context.Context, m Message) error {
	form := url.Values{"To": {m.To}, "Body": {m.Body}}
	if t.cfg.From != "" {
		form.Set("From", t.cfg.From)
	}
	if t.cfg.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", t.cfg.MessagingServiceSID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("sms: twilio request: %w", stripURL(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	resp, err := t.client.Do(req)
	if err != nil {
		return providerError("twilio: %w", stripURL(err))
	}
	defer closeBody(resp)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var answer twilioError
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || answer.Message == "" {
		return providerError("twilio: HTTP %d", resp.StatusCode)
	}
	return providerError("twilio: error %d: %s (HTTP %d, %s)", answer.Code, answer.Message, resp.StatusCode, answer.MoreInfo)
}
