package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
)

// OutboxTimeFormat is the layout of an outbox line's sent_at: RFC 3339 in
// UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z.
const OutboxTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// OutboxLine is one line of the outbox file, one JSON object per message.
type OutboxLine struct {
	To     string `json:"to"`
	Body   string `json:"body"`
	Code   string `json:"code"`
	SentAt string `json:"sent_at"`
}

// logProvider is the development provider: it logs each message, code
// included, and appends it to the outbox file when there is one.
type logProvider struct {
	log    logrus.FieldLogger
	outbox *outbox // nil: no file
}

func newLogProvider(cfg config.SMS, log logrus.FieldLogger) (*logProvider, error) {
	p := &logProvider{log: log}
	if cfg.OutboxFile != "" {
		o, err := openOutbox(cfg.OutboxFile)
		if err != nil {
			return nil, err
		}
		p.outbox = o
	}
	log.Warn("sms: the log provider sends no SMS: codes go to the server log (set sms.provider for real messages)")
	return p, nil
}

func (p *logProvider) name() string    { return config.SMSLog }
func (p *logProvider) needsBody() bool { return true }

func (p *logProvider) send(_ context.Context, m Message) error {
	p.log.WithFields(logrus.Fields{"to": m.To, "code": m.Code, "body": m.Body}).Info("sms: message (log provider, not sent)")
	if p.outbox == nil {
		return nil
	}
	line := OutboxLine{To: m.To, Body: m.Body, Code: m.Code, SentAt: time.Now().UTC().Format(OutboxTimeFormat)}
	if err := p.outbox.append(line); err != nil {
		return providerError("log: %w", err)
	}
	return nil
}

// outbox appends JSON lines to a file. Each line is one write to a file
// opened with O_APPEND, under a mutex, so lines never interleave (not even
// with another process appending to the same file, on a local file system).
// The file is opened for each line so that a test may remove or truncate it
// between messages.
type outbox struct {
	mu   sync.Mutex
	path string
}

// openOutbox creates the file (mode 0600: it holds live codes) when it does
// not exist, so that a bad path fails at start-up rather than at the first
// message.
func openOutbox(path string) (*outbox, error) {
	o := &outbox{path: path}
	f, err := o.open()
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sms: outbox file: %w", err)
	}
	return o, nil
}

func (o *outbox) open() (*os.File, error) {
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sms: outbox file: %w", err)
	}
	return f, nil
}

func (o *outbox) append(line OutboxLine) error {
	data, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("sms: outbox line: %w", err)
	}
	data = append(data, '\n')
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := o.open()
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("sms: writing the outbox file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sms: writing the outbox file: %w", err)
	}
	return nil
}

// ReadOutbox parses every line of an outbox file, oldest first: how tests
// (test/e2e) read the codes the log provider "sent".
func ReadOutbox(path string) ([]OutboxLine, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sms: reading the outbox file: %w", err)
	}
	var lines []OutboxLine
	for i, text := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if text == "" {
			continue
		}
		var l OutboxLine
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, fmt.Errorf("sms: outbox line %d: %w", i+1, err)
		}
		lines = append(lines, l)
	}
	return lines, nil
}
