package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/server"
)

// benchServer starts a server on SQLite for benchmarks, with rate limits off
// and bcrypt at cost 4 so that password hashing (measured on its own by
// userapi/internal BenchmarkBcrypt) does not hide everything else; change
// adjusts the configuration further.
func benchServer(b *testing.B, change ...func(*config.Config)) *server.Server {
	cfg := config.Default()
	cfg.Global.DataDir = b.TempDir()
	cfg.ClientAPI.ListenAddr = "127.0.0.1:0"
	cfg.FederationAPI.ListenAddr = "127.0.0.1:0"
	cfg.UserAPI.BcryptCost = 4
	cfg.ClientAPI.RateLimits.Enabled = false
	for _, c := range change {
		c(cfg)
	}
	if err := cfg.Verify(); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(b.Context(), cfg, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(b.Context()) })
	return srv
}

// BenchmarkWhoami measures authenticated requests per second on loopback:
// HTTP, middleware, token lookup (warm cache) and JSON response.
func BenchmarkWhoami(b *testing.B) {
	srv := benchServer(b)
	resp := benchPost(b, srv.ClientURL()+"/_matrix/client/v3/register",
		`{"username":"bench","password":"benchmark-password","auth":{"type":"m.login.dummy"}}`)
	token := resp["access_token"].(string)
	url := srv.ClientURL() + "/_matrix/client/v3/account/whoami"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			r, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			drain(r)
			if r.StatusCode != 200 {
				b.Errorf("status %d", r.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRegister measures registration (dummy auth, then a login session)
// at bcrypt cost 4.
func BenchmarkRegister(b *testing.B) {
	srv := benchServer(b)
	url := srv.ClientURL() + "/_matrix/client/v3/register"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, url, fmt.Sprintf(`{"username":"user%d","password":"benchmark-password","auth":{"type":"m.login.dummy"}}`, i))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkLogin measures password login (new device and tokens) at bcrypt
// cost 4.
func BenchmarkLogin(b *testing.B) {
	srv := benchServer(b)
	benchPost(b, srv.ClientURL()+"/_matrix/client/v3/register",
		`{"username":"bench","password":"benchmark-password","auth":{"type":"m.login.dummy"}}`)
	url := srv.ClientURL() + "/_matrix/client/v3/login"
	login := `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bench"},"password":"benchmark-password"}`
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchPost(b, url, login)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
