package config

import (
	"strings"
	"time"
)

// SMS providers (SMS.Provider).
const (
	SMSLog     = "log"
	SMSWebhook = "webhook"
	SMSAliyun  = "aliyun"
	SMSTwilio  = "twilio"
)

// Defaults of the SMS settings.
const (
	DefaultSMSProvider        = SMSLog
	DefaultSMSTemplate        = "Your Myelin verification code is {code}. It expires in 10 minutes."
	DefaultSMSWebhookTimeout  = 10 * time.Second
	DefaultSMSWebhookAttempts = 3
	DefaultSMSAliyunEndpoint  = "https://dysmsapi.aliyuncs.com/"
	DefaultSMSAliyunRegionID  = "cn-hangzhou"
	DefaultSMSTwilioBaseURL   = "https://api.twilio.com"

	// SMSCodePlaceholder marks where the code goes in SMS.Template.
	SMSCodePlaceholder = "{code}"
)

var smsProviders = []string{SMSLog, SMSWebhook, SMSAliyun, SMSTwilio}

// SMS configures how verification codes reach phones (userapi/sms, whose
// New takes it). Only the section of the chosen provider is used; the
// others may hold settings for later.
type SMS struct {
	// Provider is log (the default: the server log, and OutboxFile when
	// set; for development and tests), webhook, aliyun or twilio.
	Provider string `yaml:"provider"`
	// Template is the text of a message, with {code} where the code goes.
	// The aliyun provider does not use it: Alibaba Cloud fills its own
	// approved template (Aliyun.TemplateCode) with the code.
	Template string `yaml:"template"`
	// OutboxFile, with the log provider, is a file to which one JSON line
	// is appended per message: {"to","body","code","sent_at"}.
	OutboxFile string        `yaml:"outbox_file"`
	Webhook    SMSWebhookAPI `yaml:"webhook"`
	Aliyun     SMSAliyunAPI  `yaml:"aliyun"`
	Twilio     SMSTwilioAPI  `yaml:"twilio"`
}

// SMSWebhookAPI posts each message as JSON to a URL of the operator's.
type SMSWebhookAPI struct {
	// URL receives POST {"to","body","code"}. Needed when Provider is
	// webhook.
	URL string `yaml:"url"`
	// Secret, when set, is sent as "Authorization: Bearer <secret>".
	Secret string `yaml:"secret"`
	// Timeout bounds one attempt. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts bounds the attempts of one message; a 5xx answer or a
	// network error is retried, a 4xx is not. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
}

// SMSAliyunAPI is Alibaba Cloud SMS (dysmsapi, SendSms).
type SMSAliyunAPI struct {
	AccessKeyID     string `yaml:"access_key_id"`
	AccessKeySecret string `yaml:"access_key_secret"`
	// SignName is the approved signature shown in 【】 at the start of
	// messages; TemplateCode the approved template, with a ${code}
	// variable.
	SignName     string `yaml:"sign_name"`
	TemplateCode string `yaml:"template_code"`
	// Endpoint is the API's URL. Default https://dysmsapi.aliyuncs.com/.
	Endpoint string `yaml:"endpoint"`
	// RegionID is sent as RegionId. Default cn-hangzhou.
	RegionID string `yaml:"region_id"`
}

// SMSTwilioAPI is Twilio's Programmable Messaging (the Messages API).
type SMSTwilioAPI struct {
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	// From is the sending number (E.164) or alphanumeric sender ID;
	// MessagingServiceSID a Messaging Service (MG…). One of them is
	// needed.
	From                string `yaml:"from"`
	MessagingServiceSID string `yaml:"messaging_service_sid"`
	// BaseURL is the API's base URL. Default https://api.twilio.com.
	BaseURL string `yaml:"base_url"`
}

// Defaults fills the zero fields of s.
func (s *SMS) Defaults() {
	setDefault(&s.Provider, DefaultSMSProvider)
	setDefault(&s.Template, DefaultSMSTemplate)
	setDefault(&s.Webhook.Timeout, Duration(DefaultSMSWebhookTimeout))
	setDefault(&s.Webhook.MaxAttempts, DefaultSMSWebhookAttempts)
	setDefault(&s.Aliyun.Endpoint, DefaultSMSAliyunEndpoint)
	setDefault(&s.Aliyun.RegionID, DefaultSMSAliyunRegionID)
	setDefault(&s.Twilio.BaseURL, DefaultSMSTwilioBaseURL)
}

// Verify records the problems of s in errs. The credentials of a provider
// are required only when it is the one chosen.
func (s *SMS) Verify(errs *Errors) {
	checkOneOf(errs, "sms.provider", s.Provider, smsProviders)
	if !strings.Contains(s.Template, SMSCodePlaceholder) {
		errs.Add("sms.template", "must contain %s, where the code goes (got %q)", SMSCodePlaceholder, s.Template)
	}
	if s.OutboxFile != "" && strings.TrimSpace(s.OutboxFile) == "" {
		errs.Add("sms.outbox_file", "must be empty (no outbox) or a file path")
	}
	s.Webhook.verify(errs, s.Provider == SMSWebhook)
	s.Aliyun.verify(errs, s.Provider == SMSAliyun)
	s.Twilio.verify(errs, s.Provider == SMSTwilio)
}

func (w *SMSWebhookAPI) verify(errs *Errors, chosen bool) {
	switch {
	case w.URL != "":
		checkHTTPURL(errs, "sms.webhook.url", w.URL)
	case chosen:
		errs.Add("sms.webhook.url", "must be set when sms.provider is webhook")
	}
	if w.Timeout <= 0 {
		errs.Add("sms.webhook.timeout", "must be > 0 (got %s)", w.Timeout)
	}
	if w.MaxAttempts < 1 {
		errs.Add("sms.webhook.max_attempts", "must be >= 1 (got %d)", w.MaxAttempts)
	}
}

func (a *SMSAliyunAPI) verify(errs *Errors, chosen bool) {
	if chosen {
		missing := missingKeys(map[string]string{
			"access_key_id": a.AccessKeyID, "access_key_secret": a.AccessKeySecret,
			"sign_name": a.SignName, "template_code": a.TemplateCode,
		})
		if missing != "" {
			errs.Add("sms.aliyun", "%s must be set when sms.provider is aliyun", missing)
		}
	}
	checkHTTPURL(errs, "sms.aliyun.endpoint", a.Endpoint)
	if strings.TrimSpace(a.RegionID) == "" {
		errs.Add("sms.aliyun.region_id", "must not be empty")
	}
}

func (t *SMSTwilioAPI) verify(errs *Errors, chosen bool) {
	if chosen {
		missing := missingKeys(map[string]string{"account_sid": t.AccountSID, "auth_token": t.AuthToken})
		if missing != "" {
			errs.Add("sms.twilio", "%s must be set when sms.provider is twilio", missing)
		}
		if t.From == "" && t.MessagingServiceSID == "" {
			errs.Add("sms.twilio", "from or messaging_service_sid must be set when sms.provider is twilio")
		}
	}
	checkHTTPURL(errs, "sms.twilio.base_url", t.BaseURL)
}

// missingKeys names the keys whose value is empty, sorted, joined by ", ".
func missingKeys(values map[string]string) string {
	var missing []string
	for _, k := range sortedKeys(values) {
		if strings.TrimSpace(values[k]) == "" {
			missing = append(missing, k)
		}
	}
	return strings.Join(missing, ", ")
}

func init() {
	docs["sms"] = "Text messages carrying phone-number verification codes (registration, " +
		"login and binding with a phone number)."
	docs["sms.provider"] = "Who sends them: log (writes each message, code included, to the " +
		"server log and to outbox_file; for development and tests, nothing reaches a phone), " +
		"webhook (POSTs JSON to your URL), aliyun (Alibaba Cloud SMS) or twilio."
	docs["sms.template"] = "Text of a message; {code} is replaced by the code. " +
		"Not used by aliyun, whose approved template (template_code) gets the code as its ${code} variable."
	docs["sms.outbox_file"] = "With the log provider, a file that gets one JSON line per message: " +
		`{"to": "+8613800138000", "body": "…", "code": "123456", "sent_at": "2026-01-02T03:04:05.678Z"} ` +
		"(sent_at in RFC 3339, UTC, milliseconds). Created with mode 0600. Empty writes no file. " +
		"It holds live codes: never set it in production."
	docs["sms.webhook"] = "The webhook provider: each message is POSTed as JSON " +
		`{"to": "+8613800138000", "body": "…", "code": "123456"} to url; any 2xx answer means sent.`
	docs["sms.webhook.url"] = "The http(s) URL messages are POSTed to. Needed when provider is webhook."
	docs["sms.webhook.secret"] = "Sent as Authorization: Bearer <secret> when set. Keep it secret."
	docs["sms.webhook.timeout"] = "Time limit of one attempt. More than 0."
	docs["sms.webhook.max_attempts"] = "Attempts per message: a 5xx answer or a network error is " +
		"retried after 200ms, then 400ms, and so on; a 4xx answer is not retried. At least 1."
	docs["sms.aliyun"] = "Alibaba Cloud SMS (dysmsapi SendSms, API version 2017-05-25). Numbers in " +
		"mainland China (+86) are sent without the country code; others as country code and number, " +
		"without the +."
	docs["sms.aliyun.access_key_id"] = "AccessKey ID. Needed when provider is aliyun."
	docs["sms.aliyun.access_key_secret"] = "AccessKey secret. Needed when provider is aliyun. Keep it secret."
	docs["sms.aliyun.sign_name"] = "Approved signature name (SignName). Needed when provider is aliyun."
	docs["sms.aliyun.template_code"] = "Approved template (TemplateCode, SMS_…) with a ${code} variable. " +
		"Needed when provider is aliyun."
	docs["sms.aliyun.endpoint"] = "The API's URL."
	docs["sms.aliyun.region_id"] = "Region sent as RegionId."
	docs["sms.twilio"] = "Twilio's Messages API."
	docs["sms.twilio.account_sid"] = "Account SID (AC…). Needed when provider is twilio."
	docs["sms.twilio.auth_token"] = "Auth token. Needed when provider is twilio. Keep it secret."
	docs["sms.twilio.from"] = "Sending phone number (E.164) or alphanumeric sender ID. " +
		"This or messaging_service_sid is needed when provider is twilio."
	docs["sms.twilio.messaging_service_sid"] = "Messaging Service SID (MG…), instead of or besides from."
	docs["sms.twilio.base_url"] = "The API's base URL; /2010-04-01/Accounts/{account_sid}/Messages.json is added."
}
