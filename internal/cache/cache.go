// Package cache holds Myelin's shared ephemeral data: values that live for a
// limited time and may be lost without harm, such as rate-limit counters,
// short-lived tokens and memoised lookups. It is not a store of record.
//
// [Cache] is the one interface the rest of the server uses. [Memory] keeps the
// data in this process (for a single server, development and tests); [Redis]
// keeps it in Redis, so that several Myelin processes share it. [Open] picks
// one from a URL taken from the configuration.
//
// Values are opaque bytes. Counters made by [Cache.Incr] are stored as the
// decimal text of the number in both backends, so Get on a counter returns,
// for example, []byte("42"), and Incr on a value that is not such a number
// fails.
package cache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/promutil"
	"github.com/prometheus/client_golang/prometheus"
)

// Cache stores opaque byte values under string keys with a time-to-live.
type Cache interface {
	// Get returns the value and true, or nil and false when the key is absent or expired.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key; ttl <= 0 means no expiry.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value only if key is absent; reports whether it stored.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes keys; absent keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Incr atomically adds delta to an integer counter (absent = 0), setting
	// ttl when the key is created; returns the new value. Used for rate limits.
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	Close() error
}

// Both implementations satisfy Cache.
var (
	_ Cache = (*Memory)(nil)
	_ Cache = (*Redis)(nil)
)

// Open returns the cache that url names:
//
//   - "" or "memory": a [Memory] with default [MemoryOptions] (prefix is unused);
//   - "redis://…" or "rediss://…": a [Redis] (see [NewRedis]), whose keys all
//     start with prefix.
//
// Any other url is an error. reg may be nil; see [NewMemory] and [NewRedis]
// for the metrics registered on it.
func Open(ctx context.Context, url string, prefix string, reg prometheus.Registerer) (Cache, error) {
	switch {
	case url == "" || url == "memory":
		return NewMemory(MemoryOptions{}, reg), nil
	case strings.HasPrefix(url, "redis://") || strings.HasPrefix(url, "rediss://"):
		r, err := NewRedis(ctx, url, prefix, reg)
		if err != nil {
			return nil, err
		}
		return r, nil
	default:
		// Name only the scheme: the rest of the URL may hold a password.
		scheme, _, found := strings.Cut(url, "://")
		if !found {
			return nil, errors.New(`cache: unsupported cache URL: want "memory", "redis://…" or "rediss://…"`)
		}
		return nil, fmt.Errorf(`cache: unsupported cache URL scheme %q: want "memory", "redis://…" or "rediss://…"`, scheme)
	}
}

// Backend label values of the metrics.
const (
	backendMemory = "memory"
	backendRedis  = "redis"
)

// metrics are the counters one cache updates.
type metrics struct {
	hits, misses prometheus.Counter
}

// newMetrics returns the hit and miss counters for backend, registered on reg
// unless reg is nil. Caches that register on the same registry share the
// counters already there, whatever their backend, so several caches count
// together rather than failing. It fails only when reg holds a different,
// incompatible collector under the same names.
func newMetrics(reg prometheus.Registerer, backend string) (metrics, error) {
	hits, err := registerCounterVec(reg, prometheus.CounterOpts{
		Name: "myelin_cache_hits_total",
		Help: "Cache lookups that found a live value, by backend.",
	})
	if err != nil {
		return metrics{}, err
	}
	misses, err := registerCounterVec(reg, prometheus.CounterOpts{
		Name: "myelin_cache_misses_total",
		Help: "Cache lookups that found no value (absent or expired), by backend.",
	})
	if err != nil {
		return metrics{}, err
	}
	return metrics{
		hits:   hits.WithLabelValues(backend),
		misses: misses.WithLabelValues(backend),
	}, nil
}

// registerCounterVec registers a counter vector with the label "backend" on
// reg, or returns the one reg already has.
func registerCounterVec(reg prometheus.Registerer, opts prometheus.CounterOpts) (*prometheus.CounterVec, error) {
	vec, err := promutil.Register(reg, prometheus.NewCounterVec(opts, []string{"backend"}))
	if err != nil {
		return nil, fmt.Errorf("cache: registering metric %s: %w", opts.Name, err)
	}
	return vec, nil
}

// redactURLError strips the URL from a *url.Error, whose message would
// otherwise repeat the URL and any password in it.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
