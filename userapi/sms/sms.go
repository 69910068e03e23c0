// Package sms sends the text messages that carry phone-number verification
// codes (ARCHITECTURE §7). One [Sender] interface hides the provider chosen
// in the configuration:
//
//   - log: writes each message, code included, to the server log and, when
//     sms.outbox_file is set, appends it as a JSON line to that file. For
//     development and tests; nothing reaches a phone.
//   - webhook: POSTs {"to","body","code"} as JSON to a URL, retrying 5xx
//     answers and network errors with backoff.
//   - aliyun: Alibaba Cloud SMS SendSms (RPC API 2017-05-25, signature
//     method HMAC-SHA1 1.0), the code as the template's ${code} variable.
//   - twilio: Twilio's Messages API.
//
// Only the log provider ever writes the code to the log; the others keep it
// out of the log and out of the errors they return, which the caller may
// log and show (as M_UNKNOWN) to the client.
package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/promutil"
)

// Message is one SMS. To is E.164 with the leading '+', e.g. "+8613800138000".
// Body is the full text; Code is the verification code inside it (for the log
// provider and the outbox only; the aliyun provider sends it as its template
// parameter instead of Body).
type Message struct{ To, Body, Code string }

// Sender sends one SMS. Errors are wrapped; errors.Is(err, ErrProvider) for a
// provider's refusal or failure (the caller turns it into M_UNKNOWN with a
// readable message), and the error text never contains the code.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrProvider marks a provider's refusal or failure (including a network
// failure reaching it).
var ErrProvider = errors.New("sms: provider failed")

// ErrInvalidMessage marks a Message that cannot be sent as it is: a
// recipient not in E.164 form, or no text or code. The caller's bug, not
// the provider's.
var ErrInvalidMessage = errors.New("sms: invalid message")

// Body renders cfg's message template with code.
func Body(cfg config.SMS, code string) string {
	tmpl := cfg.Template
	if tmpl == "" {
		tmpl = config.DefaultSMSTemplate
	}
	return strings.ReplaceAll(tmpl, config.SMSCodePlaceholder, code)
}

// New builds the provider cfg names. reg may be nil (then no metrics).
// cfg is expected to have passed config.Verify; New still refuses a
// provider it cannot build.
func New(cfg config.SMS, log logrus.FieldLogger, reg prometheus.Registerer) (Sender, error) {
	if log == nil {
		log = logrus.StandardLogger()
	}
	log = log.WithField("sms_provider", cfg.Provider)
	var (
		s   provider
		err error
	)
	switch cfg.Provider {
	case config.SMSLog, "":
		s, err = newLogProvider(cfg, log)
	case config.SMSWebhook:
		s, err = newWebhook(cfg.Webhook)
	case config.SMSAliyun:
		s, err = newAliyun(cfg.Aliyun)
	case config.SMSTwilio:
		s, err = newTwilio(cfg.Twilio)
	default:
		err = fmt.Errorf("sms: unknown provider %q", cfg.Provider)
	}
	if err != nil {
		return nil, err
	}
	sent, err := promutil.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myelin_sms_sent_total",
		Help: "SMS messages handed to the provider, by provider and result (ok or error).",
	}, []string{"provider", "result"}))
	if err != nil {
		return nil, fmt.Errorf("sms: registering metric myelin_sms_sent_total: %w", err)
	}
	name := s.name()
	return &sender{p: s, log: log, ok: sent.WithLabelValues(name, "ok"), failed: sent.WithLabelValues(name, "error")}, nil
}

// provider is one way of sending; sender adds what every provider shares.
type provider interface {
	name() string
	// needsBody tells whether the provider sends Message.Body (all but
	// aliyun, which sends Message.Code).
	needsBody() bool
	send(ctx context.Context, m Message) error
}

// sender checks messages, counts results and keeps the code out of errors
// and logs.
type sender struct {
	p          provider
	log        logrus.FieldLogger
	ok, failed prometheus.Counter
}

var _ Sender = (*sender)(nil)

func (s *sender) Send(ctx context.Context, m Message) error {
	if err := s.check(m); err != nil {
		return err
	}
	err := s.p.send(ctx, m)
	if err != nil {
		s.failed.Inc()
		err = redact(err, m.Code)
		// The number helps an operator find the failing route; the code
		// stays out (redact removed any provider echo of it).
		s.log.WithFields(logrus.Fields{"to": m.To, "error": err.Error()}).Warn("sms: sending failed")
		return err
	}
	s.ok.Inc()
	return nil
}

func (s *sender) check(m Message) error {
	if !isE164(m.To) {
		return fmt.Errorf("%w: recipient %q is not an E.164 number (+ and 8 to 15 digits)", ErrInvalidMessage, m.To)
	}
	if s.p.needsBody() && strings.TrimSpace(m.Body) == "" {
		return fmt.Errorf("%w: no text", ErrInvalidMessage)
	}
	if !s.p.needsBody() && m.Code == "" {
		return fmt.Errorf("%w: no code", ErrInvalidMessage)
	}
	return nil
}

// isE164 reports whether to is '+' followed by 8 to 15 digits, the first
// not 0 (ITU-T E.164: at most 15 digits, country codes never start with 0).
func isE164(to string) bool {
	digits, ok := strings.CutPrefix(to, "+")
	if !ok || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// redactedError is an error whose text had the code masked. It matches
// (errors.Is) what the original matched, without exposing the original's
// text through Unwrap.
type redactedError struct {
	msg  string
	orig error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

// redact masks every occurrence of code in err's text: a provider may echo
// the message (and the code in it) in its error answer.
func redact(err error, code string) error {
	if code == "" || !strings.Contains(err.Error(), code) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), code, strings.Repeat("*", len(code))), orig: err}
}

// providerError is a provider's refusal or failure: ErrProvider, then what
// the provider said.
func providerError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProvider}, args...)...)
}
