package config

import (
	"strings"
	"testing"
	"time"
)

func TestSMSDefaults(t *testing.T) {
	s := Default().SMS
	want := SMS{
		Provider: "log",
		Template: "Your Myelin verification code is {code}. It expires in 10 minutes.",
		Webhook:  SMSWebhookAPI{Timeout: Duration(10 * time.Second), MaxAttempts: 3},
		Aliyun:   SMSAliyunAPI{Endpoint: "https://dysmsapi.aliyuncs.com/", RegionID: "cn-hangzhou"},
		Twilio:   SMSTwilioAPI{BaseURL: "https://api.twilio.com"},
	}
	if s != want {
		t.Errorf("Default().SMS = %+v, want %+v", s, want)
	}
}

func TestSMSFromFileAndEnv(t *testing.T) {
	path := writeConfig(t, `
sms:
  provider: twilio
  template: "Code {code}"
  twilio:
    account_sid: AC123
    auth_token: tok
    messaging_service_sid: MG456
`)
	c, err := Load([]string{"--config", path}, env(map[string]string{"MYELIN_SMS_OUTBOX_FILE": "/tmp/o.jsonl"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMS.Provider != "twilio" || c.SMS.Template != "Code {code}" || c.SMS.Twilio.MessagingServiceSID != "MG456" {
		t.Errorf("sms = %+v", c.SMS)
	}
	if c.SMS.OutboxFile != "/tmp/o.jsonl" {
		t.Errorf("MYELIN_SMS_OUTBOX_FILE gave outbox_file %q", c.SMS.OutboxFile)
	}
	c, err = Load([]string{"--sms-provider", "log"}, env(map[string]string{"MYELIN_SMS_PROVIDER": "twilio"}))
	if err != nil || c.SMS.Provider != "log" {
		t.Errorf("--sms-provider log over MYELIN_SMS_PROVIDER=twilio: %v, %v", c, err)
	}
	// The environment alone chooses twilio, which then lacks credentials.
	_, err = Load(nil, env(map[string]string{"MYELIN_SMS_PROVIDER": "twilio"}))
	if err == nil || !strings.Contains(err.Error(), "sms.twilio: account_sid, auth_token must be set") {
		t.Errorf("MYELIN_SMS_PROVIDER=twilio without credentials: %v", err)
	}
}

func TestSMSVerify(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *SMS)
		want   []string // problems expected, each a substring of one problem
	}{
		{"default is valid", func(*SMS) {}, nil},
		{"unknown provider", func(s *SMS) { s.Provider = "pigeon" },
			[]string{`sms.provider: must be one of log, webhook, aliyun, twilio (got "pigeon")`}},
		{"template without code", func(s *SMS) { s.Template = "Hello" },
			[]string{`sms.template: must contain {code}`}},
		{"webhook without url", func(s *SMS) { s.Provider = SMSWebhook },
			[]string{"sms.webhook.url: must be set when sms.provider is webhook"}},
		{"webhook with a bad url", func(s *SMS) { s.Provider = SMSWebhook; s.Webhook.URL = "ftp://x" },
			[]string{"sms.webhook.url: must be an absolute http(s) URL"}},
		{"webhook url unused by another provider is still checked", func(s *SMS) { s.Webhook.URL = "nope" },
			[]string{"sms.webhook.url: must be an absolute http(s) URL"}},
		{"webhook timeout and attempts", func(s *SMS) {
			s.Provider = SMSWebhook
			s.Webhook = SMSWebhookAPI{URL: "http://127.0.0.1:1/", Timeout: -1, MaxAttempts: 0}
		}, []string{"sms.webhook.timeout: must be > 0", "sms.webhook.max_attempts: must be >= 1"}},
		{"aliyun without credentials", func(s *SMS) { s.Provider = SMSAliyun },
			[]string{"sms.aliyun: access_key_id, access_key_secret, sign_name, template_code must be set when sms.provider is aliyun"}},
		{"aliyun missing its secret", func(s *SMS) {
			s.Provider = SMSAliyun
			s.Aliyun.AccessKeyID, s.Aliyun.SignName, s.Aliyun.TemplateCode = "id", "Myelin", "SMS_1"
		}, []string{"sms.aliyun: access_key_secret must be set"}},
		{"aliyun bad endpoint and region", func(s *SMS) { s.Aliyun.Endpoint = "dysmsapi"; s.Aliyun.RegionID = " " },
			[]string{"sms.aliyun.endpoint: must be an absolute http(s) URL", "sms.aliyun.region_id: must not be empty"}},
		{"twilio without credentials or sender", func(s *SMS) { s.Provider = SMSTwilio }, []string{
			"sms.twilio: account_sid, auth_token must be set when sms.provider is twilio",
			"sms.twilio: from or messaging_service_sid must be set",
		}},
		{"twilio with from only", func(s *SMS) {
			s.Provider = SMSTwilio
			s.Twilio.AccountSID, s.Twilio.AuthToken, s.Twilio.From = "AC1", "tok", "+15005550006"
		}, nil},
		{"twilio credentials not needed by log", func(s *SMS) { s.Twilio.BaseURL = "https://twilio.test" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Default().SMS
			tt.change(&s)
			errs := &Errors{}
			s.Verify(errs)
			if len(errs.Problems) != len(tt.want) {
				t.Fatalf("problems %q, want %d matching %q", errs.Problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, errs.Problems[i], w)
				}
			}
		})
	}
}

func TestSMSUnknownKeyInFile(t *testing.T) {
	_, err := LoadFile(writeConfig(t, "sms:\n  aliyun:\n    secret: x\n"))
	if err == nil || !strings.Contains(err.Error(), "sms.aliyun.secret") {
		t.Fatalf("unknown key in sms.aliyun: %v", err)
	}
}
