package internal

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

func benchAPI(b *testing.B) *UserAPI {
	b.Helper()
	ctx := context.Background()
	db, err := sqlutil.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), sqlutil.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	store, err := storage.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	log := logrus.New()
	c := cache.NewMemory(cache.MemoryOptions{}, nil)
	u, err := New(Options{ServerName: "bench.example", BcryptCost: bcrypt.MinCost}, store, c, nil, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// BenchmarkQueryAccessTokenWarm measures resolving an access token to its
// device when the token is cached (the path of every authenticated request).
// Target: under 2 µs.
func BenchmarkQueryAccessTokenWarm(b *testing.B) {
	u := benchAPI(b)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "bench", Password: "password"}); err != nil {
		b.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := u.QueryAccessToken(ctx, s.AccessToken); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := u.QueryAccessToken(ctx, s.AccessToken)
		if err != nil || d.ID != s.Device.ID {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkQueryAccessTokenCold measures the same lookup when every request
// misses the cache and reads SQLite.
func BenchmarkQueryAccessTokenCold(b *testing.B) {
	u := benchAPI(b)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "bench", Password: "password"}); err != nil {
		b.Fatal(err)
	}
	s, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	key := tokenCachePrefix + HashToken(s.AccessToken)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = u.cache.Delete(ctx, key)
		if _, err := u.QueryAccessToken(ctx, s.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBcrypt reports the cost of password hashing alone, at the cost
// used in tests (4), the default (12), and between, so registration and login
// figures can be read without it.
func BenchmarkBcrypt(b *testing.B) {
	for _, cost := range []int{4, 10, 12} {
		b.Run(bcryptName(cost), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), cost); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func bcryptName(cost int) string {
	return "cost=" + string(rune('0'+cost/10)) + string(rune('0'+cost%10))
}
