package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/loadgen"
)

// Encryption benchmarks (issue 13): the key endpoints for a room of 500
// devices, a to-device message fanned out to 100 devices, and how soon a
// device-list change reaches the long-polls of a room's members. They run
// the real binary as its own process, clients from internal/loadgen.

// keyDevice is one logged-in device of a benchmark user.
type keyDevice struct {
	*loadgen.Client
	device string
}

// loginDevices logs every user in perDevice-1 more times (their
// registration is the first device) and returns all devices.
func loginDevices(ctx context.Context, b *testing.B, users []*loadgen.Client, prefix string, perUser int) []keyDevice {
	b.Helper()
	var out []keyDevice
	for _, u := range users {
		localpart := strings.TrimPrefix(strings.Split(u.UserID, ":")[0], "@")
		var who struct {
			DeviceID string `json:"device_id"`
		}
		if err := u.Call(ctx, http.MethodGet, "/_matrix/client/v3/account/whoami", nil, &who); err != nil {
			b.Fatal(err)
		}
		out = append(out, keyDevice{u, who.DeviceID})
		for range perUser - 1 {
			c := &loadgen.Client{Base: u.Base, HTTP: u.HTTP, UserID: u.UserID}
			var resp struct {
				AccessToken string `json:"access_token"`
				DeviceID    string `json:"device_id"`
			}
			err := c.Call(ctx, http.MethodPost, "/_matrix/client/v3/login", map[string]any{
				"type":       "m.login.password",
				"identifier": map[string]string{"type": "m.id.user", "user": localpart},
				"password":   "loadgen-password-" + prefix,
			}, &resp)
			if err != nil {
				b.Fatal(err)
			}
			c.Token = resp.AccessToken
			out = append(out, keyDevice{c, resp.DeviceID})
		}
	}
	return out
}

// uploadKeys gives d device keys, otks one-time keys and a fallback key.
func (d keyDevice) uploadKeys(ctx context.Context, otks int, round int) error {
	keys := map[string]any{}
	for i := range otks {
		keys[fmt.Sprintf("signed_curve25519:r%dk%d", round, i)] = map[string]any{"key": fmt.Sprintf("%s-%d-%d", d.device, round, i)}
	}
	return d.Call(ctx, http.MethodPost, "/_matrix/client/v3/keys/upload", map[string]any{
		"device_keys": map[string]any{
			"user_id": d.UserID, "device_id": d.device,
			"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
			"keys": map[string]string{
				"curve25519:" + d.device: fmt.Sprintf("curve-%s-%d", d.device, round),
				"ed25519:" + d.device:    "ed-" + d.device,
			},
			"signatures": map[string]any{d.UserID: map[string]string{"ed25519:" + d.device: "sig"}},
		},
		"one_time_keys": keys,
		"fallback_keys": map[string]any{"signed_curve25519:fb": map[string]any{"key": "fb-" + d.device, "fallback": true}},
	}, nil)
}

func reportLatency(b *testing.B, lat loadgen.Latencies) {
	b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkKeysRoom500: 50 users with 10 devices each (500 devices, each
// with device keys, 20 one-time keys and a fallback key) share a room; one
// device queries the keys of all of them, or claims a one-time key of each
// device, as a client starting an encrypted session with the room does.
func BenchmarkKeysRoom500(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "k", 50, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		devices := loginDevices(ctx, b, users, "k", 10)
		for _, d := range devices {
			if err := d.uploadKeys(ctx, 20, 0); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := loadgen.Room(ctx, users[0], users[1:]); err != nil {
			b.Fatal(err)
		}
		query := map[string][]string{}
		claim := map[string]map[string]string{}
		for _, d := range devices {
			query[d.UserID] = []string{}
			if claim[d.UserID] == nil {
				claim[d.UserID] = map[string]string{}
			}
			claim[d.UserID][d.device] = "signed_curve25519"
		}
		b.Run("query", func(b *testing.B) {
			timeCalls(b, users[0], "/_matrix/client/v3/keys/query", map[string]any{"device_keys": query}, 500)
		})
		b.Run("claim", func(b *testing.B) {
			timeCalls(b, users[0], "/_matrix/client/v3/keys/claim", map[string]any{"one_time_keys": claim}, 500)
		})
	})
}

// timeCalls makes b.N calls of path with body and reports their latency;
// each answer must name want devices.
func timeCalls(b *testing.B, c *loadgen.Client, path string, body any, want int) {
	ctx := context.Background()
	lat := make(loadgen.Latencies, 0, b.N)
	b.ResetTimer()
	for range b.N {
		var resp map[string]map[string]map[string]any
		start := time.Now()
		if err := c.Call(ctx, http.MethodPost, path, body, &resp); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		n := 0
		for _, section := range []string{"device_keys", "one_time_keys"} {
			for _, devs := range resp[section] {
				n += len(devs)
			}
		}
		if n != want {
			b.Fatalf("%s named %d devices, want %d", path, n, want)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkToDeviceFanout100: one message sent to "*" of a user with 100
// devices, each long-polling /sync; the time from the start of the send to
// each device's /sync returning it.
func BenchmarkToDeviceFanout100(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "t", 2, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		devices := loginDevices(ctx, b, users[1:], "t", 100)[:100]
		since := initialTokens(ctx, b, devices)
		lat := make(loadgen.Latencies, 0, b.N*len(devices))
		b.ResetTimer()
		for i := range b.N {
			got := pollAll(ctx, devices, since, func(body syncBody) bool { return len(body.ToDevice.Events) > 0 })
			start := time.Now()
			path := fmt.Sprintf("/_matrix/client/v3/sendToDevice/m.bench/t%d", i)
			msg := map[string]any{"messages": map[string]any{users[1].UserID: map[string]any{"*": map[string]int{"i": i}}}}
			if err := users[0].Call(ctx, http.MethodPut, path, msg, nil); err != nil {
				b.Fatal(err)
			}
			lat = collect(b, got, start, since, lat)
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

// BenchmarkDeviceListChange: 50 members of a room long-poll /sync; one
// uploads new device keys; the time from the start of the upload to each
// member's /sync naming them in device_lists.changed.
func BenchmarkDeviceListChange(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "d", 51, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := loadgen.Room(ctx, users[0], users[1:]); err != nil {
			b.Fatal(err)
		}
		changer := loginDevices(ctx, b, users[:1], "d", 1)[0]
		members := loginDevices(ctx, b, users[1:], "d", 1)
		since := initialTokens(ctx, b, members)
		lat := make(loadgen.Latencies, 0, b.N*len(members))
		b.ResetTimer()
		for i := range b.N {
			got := pollAll(ctx, members, since, func(body syncBody) bool {
				return slices.Contains(body.DeviceLists.Changed, changer.UserID)
			})
			start := time.Now()
			if err := changer.uploadKeys(ctx, 0, i+1); err != nil {
				b.Fatal(err)
			}
			lat = collect(b, got, start, since, lat)
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

// syncBody is the part of a /sync answer these benchmarks read.
type syncBody struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []any `json:"events"`
	} `json:"to_device"`
	DeviceLists struct {
		Changed []string `json:"changed"`
	} `json:"device_lists"`
}

// initialTokens syncs each device once and returns its next_batch.
func initialTokens(ctx context.Context, b *testing.B, devices []keyDevice) []string {
	b.Helper()
	out := make([]string, len(devices))
	for i, d := range devices {
		var body syncBody
		if err := d.Call(ctx, http.MethodGet, "/_matrix/client/v3/sync?timeout=0", nil, &body); err != nil {
			b.Fatal(err)
		}
		out[i] = body.NextBatch
	}
	return out
}

// polled is one device's long-poll result.
type polled struct {
	i    int
	at   time.Time
	next string
	err  error
}

// pollAll starts each device's long-poll, which ends when done says its
// answer holds what is awaited.
func pollAll(ctx context.Context, devices []keyDevice, since []string, done func(syncBody) bool) <-chan polled {
	out := make(chan polled, len(devices))
	var started sync.WaitGroup
	started.Add(len(devices))
	for i, d := range devices {
		go func() {
			tok := since[i]
			first := true
			for {
				var body syncBody
				if first {
					started.Done()
					first = false
				}
				err := d.Call(ctx, http.MethodGet, "/_matrix/client/v3/sync?timeout=30000&since="+tok, nil, &body)
				if err != nil || done(body) {
					out <- polled{i: i, at: time.Now(), next: body.NextBatch, err: err}
					return
				}
				tok = body.NextBatch
			}
		}()
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // the requests reach the server and wait
	return out
}

// collect waits for every device's answer, adds its latency from start and
// moves its token on.
func collect(b *testing.B, got <-chan polled, start time.Time, since []string, lat loadgen.Latencies) loadgen.Latencies {
	b.Helper()
	for range since {
		r := <-got
		if r.err != nil {
			b.Fatal(r.err)
		}
		lat = append(lat, r.at.Sub(start))
		since[r.i] = r.next
	}
	return lat
}
