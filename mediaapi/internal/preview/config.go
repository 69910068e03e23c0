package preview

import (
	"errors"
	"time"
)

// Defaults of the Config fields left at their zero value.
const (
	DefaultMaxBytes     = 10 << 20
	DefaultTimeout      = 10 * time.Second
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "Myelin (bot; URL preview)"
)

// Config is what a Fetcher may reach and how much it may read. The names
// in parentheses are the settings of the url_preview configuration section
// they come from.
type Config struct {
	// IPRangeWhitelist (ip_range_whitelist) lists CIDRs, or single
	// addresses, the fetcher may connect to even though they are not
	// public or are in IPRangeBlacklist. Default none.
	IPRangeWhitelist []string
	// IPRangeBlacklist (ip_range_blacklist) lists CIDRs, or single
	// addresses, refused besides the non-public ranges refused anyway.
	IPRangeBlacklist []string
	// MaxBytes (max_bytes) bounds the bytes read from one response: an
	// HTML page is read up to it (its head comes first), a longer image
	// is refused with ErrTooLarge. Default 10 MiB.
	MaxBytes int64
	// Timeout (timeout) bounds one fetch from dialling to the last byte of
	// the body, redirects included. Default 10 s.
	Timeout time.Duration
	// UserAgent is sent with every request. Many sites give OpenGraph data
	// only to agents that say they are a bot. Default DefaultUserAgent.
	UserAgent string
	// MaxRedirects is how many redirects one fetch follows. Default 5.
	MaxRedirects int
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = DefaultMaxRedirects
	}
	return c
}

// verify reports every value a Fetcher cannot work with.
func (c Config) verify() error {
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, errors.New("preview: max_bytes must be positive"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("preview: timeout must be positive"))
	}
	if c.MaxRedirects < 0 {
		errs = append(errs, errors.New("preview: max redirects must not be negative"))
	}
	return errors.Join(errs...)
}
