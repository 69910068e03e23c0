package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Redis is a [Cache] kept in a Redis server, shared by every process that uses
// the same server and prefix. It is safe for concurrent use.
type Redis struct {
	client  *redis.Client
	prefix  string
	metrics metrics
}

// incrScript adds ARGV[1] to the counter KEYS[1] and, only when that creates
// the key and ARGV[2] > 0, gives it a time-to-live of ARGV[2] milliseconds.
// (INCRBY followed by EXPIRE NX would also put a ttl on an existing key that
// had none.) A script runs atomically.
var incrScript = redis.NewScript(`
local created = redis.call('EXISTS', KEYS[1]) == 0
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
`)

// NewRedis connects to the Redis server at url ("redis://…" or "rediss://…",
// as parsed by redis.ParseURL, so options such as ?dial_timeout=3s and the
// database number in the path apply) and pings it, failing when it cannot be
// reached. prefix is put before every key, so that several servers, or tests,
// can share one Redis database.
//
// Unless reg is nil, NewRedis registers the counters myelin_cache_hits_total
// and myelin_cache_misses_total on reg (with backend="redis"), or reuses them
// when reg already has them.
func NewRedis(ctx context.Context, url string, prefix string, reg prometheus.Registerer) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: parsing redis URL: %w", redactURLError(err))
	}
	met, err := newMetrics(reg, backendRedis)
	if err != nil {
		return nil, err
	}
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("cache: connecting to redis: %w", err)
	}
	return &Redis{client: client, prefix: prefix, metrics: met}, nil
}

// Get returns the value under key.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		r.metrics.misses.Inc()
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache: redis GET: %w", err)
	}
	r.metrics.hits.Inc()
	return v, true, nil
}

// Set stores value under key.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := r.client.Set(ctx, r.prefix+key, value, redisTTL(ttl)).Err(); err != nil {
		return fmt.Errorf("cache: redis SET: %w", err)
	}
	return nil
}

// SetNX stores value under key unless the key exists.
func (r *Redis) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := r.client.SetNX(ctx, r.prefix+key, value, redisTTL(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("cache: redis SET NX: %w", err)
	}
	return ok, nil
}

// Delete removes keys.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	prefixed := make([]string, len(keys))
	for i, k := range keys {
		prefixed[i] = r.prefix + k
	}
	if err := r.client.Del(ctx, prefixed...).Err(); err != nil {
		return fmt.Errorf("cache: redis DEL: %w", err)
	}
	return nil
}

// Incr adds delta to the counter under key. Redis rejects a value that is not
// the decimal text of an int64, and a result that would overflow.
func (r *Redis) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	var ms int64
	if ttl = redisTTL(ttl); ttl > 0 {
		ms = ttl.Milliseconds()
	}
	n, err := incrScript.Run(ctx, r.client, []string{r.prefix + key}, delta, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("cache: redis INCRBY: %w", err)
	}
	return n, nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("cache: closing redis client: %w", err)
	}
	return nil
}

// redisTTL turns a Cache ttl into an expiration for go-redis: 0 for none
// (go-redis reads negative values as KEEPTTL or rejects them), and at least
// one millisecond, Redis's resolution, for a positive ttl; a ttl that is not
// a whole number of milliseconds is rounded up.
func redisTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	if rem := ttl % time.Millisecond; rem != 0 && ttl <= math.MaxInt64-time.Millisecond {
		ttl += time.Millisecond - rem
	}
	return ttl
}
