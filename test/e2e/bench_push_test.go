package e2e

import (
	"context"
	"testing"

	"github.com/myelin-im/myelin/internal/loadgen"
)

// BenchmarkSend1000Members: the cost of push rules at store time (issue
// 14's target: a 1,000-member room still sends under 20 ms p99 on
// SQLite). One room of 1,000 local members, each with the default push
// rules, so every message is evaluated for 999 users and notifies them
// all (999 notification rows); ten members long-poll, and each send is
// timed from the start of its request to each of them receiving it.
func BenchmarkSend1000Members(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "m", 1000, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		room, err := loadgen.Room(ctx, users[0], users[1:])
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		lat, err := loadgen.Latency(ctx, users[0], users[1:11], room, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
	})
}
