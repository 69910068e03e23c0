package internal

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/phone"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/sms"
)

// discard is a provider that accepts every message at once, so that the
// benchmarks measure what Myelin adds around the provider's call.
type discard struct{ n atomic.Int64 }

func (d *discard) Send(context.Context, sms.Message) error { d.n.Add(1); return nil }

// BenchmarkMsisdnRequestAndSubmit measures the cost of one code request and
// its submission beyond the provider call: the number's lookup in the
// database, the send limits, the session in the cache, the code's hash. On
// the in-memory cache and, when configured, on Redis.
func BenchmarkMsisdnRequestAndSubmit(b *testing.B) {
	caches := map[string]func(b *testing.B) cache.Cache{
		"memory": func(*testing.B) cache.Cache { return cache.NewMemory(cache.MemoryOptions{}, nil) },
		"redis":  func(b *testing.B) cache.Cache { return redisCache(b, fmt.Sprintf("bench-%d:", time.Now().UnixNano())) },
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			u := benchAPI(b)
			u.cache = caches[name](b)
			box := &discard{}
			u.msisdn = MsisdnOptions{Sender: box, SendsPerNumber: 1 << 30, SendsPerIP: 1 << 30}
			u.msisdn.defaults()
			ctx := context.Background()
			n, err := phone.Parse("CN", "13800138000")
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := u.RequestMsisdnToken(ctx, api.MsisdnTokenRequest{
					Purpose: api.MsisdnRegister, ClientSecret: "secret", Number: n, SendAttempt: int64(i + 1), IP: "10.0.0.1",
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := u.SubmitMsisdnToken(ctx, s.SID, "secret", "not-the-code"); err == nil {
					b.Fatal("a wrong code was accepted")
				}
			}
		})
	}
}
