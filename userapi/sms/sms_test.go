package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/myelin-im/myelin/internal/config"
)

const testCode = "492817"

// testMessage is a message to a mainland China number, with the code in
// its text as the phone-number endpoints build it.
func testMessage() Message {
	return Message{To: "+8613800138000", Body: Body(config.SMS{}, testCode), Code: testCode}
}

// newTestSender builds the provider cfg names with a logger whose entries
// hook records, and a fresh registry.
func newTestSender(t *testing.T, cfg config.SMS) (Sender, *logtest.Hook, *prometheus.Registry) {
	t.Helper()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.TraceLevel)
	reg := prometheus.NewRegistry()
	s, err := New(cfg, log, reg)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.Provider, err)
	}
	return s, hook, reg
}

// assertCodeNotLogged fails when any log entry, message or field, holds
// testCode.
func assertCodeNotLogged(t *testing.T, hook *logtest.Hook) {
	t.Helper()
	for _, e := range hook.AllEntries() {
		if strings.Contains(e.Message, testCode) || strings.Contains(fmt.Sprint(e.Data), testCode) {
			t.Errorf("log entry holds the code: %q %v", e.Message, e.Data)
		}
	}
}

// assertProviderError checks a provider failure: ErrProvider, text that
// says what went wrong, and no code.
func assertProviderError(t *testing.T, err error, wantText string) {
	t.Helper()
	if !errors.Is(err, ErrProvider) {
		t.Fatalf("error %v is not ErrProvider", err)
	}
	if !strings.Contains(err.Error(), wantText) {
		t.Errorf("error %q does not say %q", err, wantText)
	}
	if strings.Contains(err.Error(), testCode) {
		t.Errorf("error %q holds the code", err)
	}
}

// assertSent compares myelin_sms_sent_total on reg with the counts given.
func assertSent(t *testing.T, reg *prometheus.Registry, provider string, ok, failed int) {
	t.Helper()
	want := fmt.Sprintf(`
# HELP myelin_sms_sent_total SMS messages handed to the provider, by provider and result (ok or error).
# TYPE myelin_sms_sent_total counter
myelin_sms_sent_total{provider=%q,result="error"} %d
myelin_sms_sent_total{provider=%q,result="ok"} %d
`, provider, failed, provider, ok)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "myelin_sms_sent_total"); err != nil {
		t.Error(err)
	}
}

func TestBody(t *testing.T) {
	if got := Body(config.SMS{}, "123456"); got != "Your Myelin verification code is 123456. It expires in 10 minutes." {
		t.Errorf("default template: %q", got)
	}
	if got := Body(config.SMS{Template: "【Myelin】{code} is your code; {code} again"}, "42"); got != "【Myelin】42 is your code; 42 again" {
		t.Errorf("custom template: %q", got)
	}
}

func TestNewRefusesWhatItCannotBuild(t *testing.T) {
	for _, cfg := range []config.SMS{
		{Provider: "pigeon"},
		{Provider: config.SMSWebhook},
		{Provider: config.SMSAliyun, Aliyun: config.SMSAliyunAPI{AccessKeyID: "id"}},
		{Provider: config.SMSTwilio, Twilio: config.SMSTwilioAPI{AccountSID: "AC1", AuthToken: "t"}},
		{Provider: config.SMSLog, OutboxFile: t.TempDir() + "/no/such/dir/outbox.jsonl"},
	} {
		if s, err := New(cfg, nil, nil); err == nil {
			t.Errorf("New(%+v) = %T, want an error", cfg, s)
		}
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	s, hook, reg := newTestSender(t, config.SMS{Provider: config.SMSLog})
	for _, m := range []Message{
		{To: "13800138000", Body: "x", Code: "1"},       // no +
		{To: "+86 138 0013 8000", Body: "x", Code: "1"}, // spaces
		{To: "+0123456789", Body: "x", Code: "1"},       // country code 0
		{To: "+1234567", Body: "x", Code: "1"},          // too short
		{To: "+1234567890123456", Body: "x", Code: "1"}, // 16 digits
		{To: "+8613800138000", Body: "  ", Code: "1"},   // no text
	} {
		err := s.Send(context.Background(), m)
		if !errors.Is(err, ErrInvalidMessage) || errors.Is(err, ErrProvider) {
			t.Errorf("Send(%+v) = %v, want ErrInvalidMessage", m, err)
		}
	}
	if n := len(hook.AllEntries()); n != 1 { // the start-up warning only
		t.Errorf("%d log entries, want only the start-up warning", n)
	}
	assertSent(t, reg, "log", 0, 0)
}

func TestRedact(t *testing.T) {
	err := redact(providerError("webhook: HTTP 400: bad text %q", "code 492817"), testCode)
	if strings.Contains(err.Error(), testCode) || !strings.Contains(err.Error(), "code ******") {
		t.Errorf("redacted error %q", err)
	}
	if !errors.Is(err, ErrProvider) {
		t.Error("redacted error is no longer ErrProvider")
	}
	ctxErr := redact(fmt.Errorf("%w: 492817: %w", ErrProvider, context.DeadlineExceeded), testCode)
	if !errors.Is(ctxErr, context.DeadlineExceeded) {
		t.Error("redacted error lost context.DeadlineExceeded")
	}
	var re *redactedError
	if errors.As(redact(errors.New("nothing secret"), testCode), &re) {
		t.Error("an error without the code was rewrapped")
	}
}
