package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/loadgen"
)

// BenchmarkAppServiceDelivery: bob sends b.N messages, one after the other,
// into a room with a bridge's puppet; the bridge (mautrix's appservice
// package on loopback) gets them in transactions. Reports the messages per
// second delivered to the bridge (first send to last delivery) and the
// send→delivery latency, on SQLite in one process. BesideDeadBridge: a
// second bridge with a puppet in the same room answers every push 503
// meanwhile (retried with backoff), and the figures are the healthy
// bridge's.
func BenchmarkAppServiceDelivery(b *testing.B) {
	b.Run("OneBridge", func(b *testing.B) { benchDelivery(b, false) })
	b.Run("BesideDeadBridge", func(b *testing.B) { benchDelivery(b, true) })
}

func benchDelivery(b *testing.B, deadBeside bool) {
	reg, path := fakeNetRegistration(b)
	bridge := newBridgeEndpoint(b, reg)
	if err := reg.Save(path); err != nil {
		b.Fatal(err)
	}
	regDead := appservice.CreateRegistration()
	regDead.ID, regDead.SenderLocalpart = "deadnet", "deadnetbot"
	regDead.Namespaces.UserIDs.Register(regexp.MustCompile(`@_deadnet_.*`), true)
	dead := newBridgeEndpoint(b, regDead)
	deadPath := filepath.Join(b.TempDir(), "dead.yaml")
	if err := regDead.Save(deadPath); err != nil {
		b.Fatal(err)
	}
	srv := benchServer(b, func(c *config.Config) { c.AppServices.RegistrationFiles = []string{path, deadPath} })
	for _, br := range []*bridgeEndpoint{bridge, dead} {
		br.as.HomeserverDomain = config.DefaultServerName
		if err := br.as.SetHomeserverURL(srv.ClientURL()); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	bob := benchUser(b, srv.ClientURL(), "bob")
	created, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	room := created.RoomID
	if err := bridge.as.Intent(id.NewUserID("_fakenet_alice", config.DefaultServerName)).EnsureJoined(ctx, room); err != nil {
		b.Fatal(err)
	}
	if deadBeside {
		if err := dead.as.Intent(id.NewUserID("_deadnet_dan", config.DefaultServerName)).EnsureJoined(ctx, room); err != nil {
			b.Fatal(err)
		}
		dead.down.Store(true)
	}
	var mu sync.Mutex
	sent := make([]time.Time, b.N)
	lat := make(loadgen.Latencies, 0, b.N)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for len(lat) < b.N {
			select {
			case ev := <-bridge.as.Events:
				body, _ := ev.Content.Raw["body"].(string)
				if ev.RoomID != room || ev.Type != event.EventMessage || !strings.HasPrefix(body, "m") {
					continue
				}
				i, _ := strconv.Atoi(body[1:])
				mu.Lock()
				lat = append(lat, time.Since(sent[i]))
				mu.Unlock()
			case <-time.After(30 * time.Second):
				return
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		if _, err := bob.SendText(ctx, room, fmt.Sprintf("m%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	took := time.Since(start)
	b.StopTimer()
	if len(lat) < b.N {
		b.Fatalf("the bridge got %d of %d messages", len(lat), b.N)
	}
	b.ReportMetric(float64(b.N)/took.Seconds(), "events/s")
	b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
	if deadBeside && dead.refused.Load() == 0 {
		b.Fatal("the dead bridge was never pushed to")
	}
}
