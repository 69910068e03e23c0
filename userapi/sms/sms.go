// Package sms sends text messages through the configured provider.
package sms

import (
	"context"
	"errors"
)

// Message is one SMS. To is E.164 with the leading '+'.
type Message struct{ To, Body, Code string }

// Sender sends one SMS.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrProvider is a provider's refusal or failure.
var ErrProvider = errors.New("sms: provider failed")
