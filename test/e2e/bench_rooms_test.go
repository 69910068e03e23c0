package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/loadgen"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// Room benchmarks run the real binary as its own process (so that its CPU
// time and memory can be read from /proc) on SQLite and, when configured,
// PostgreSQL; the clients are internal/loadgen in this process, the same
// code as cmd/myelin-bench.

func benchDatabases(b *testing.B, fn func(b *testing.B, dbURL string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, "") })
	if os.Getenv("MYELIN_TEST_POSTGRES_URL") != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, sqltest.URL(b, sqlutil.Postgres)) })
	}
}

// procStat returns a process's CPU time and resident memory.
func procStat(pid int) (time.Duration, int64) {
	var cpu time.Duration
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	var rss int64
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				rss = kb * 1024
			}
		}
	}
	return cpu, rss
}

// BenchmarkSendToDelivery: 50 members long-poll one room, one sends; time
// from the start of each send request to each member's /sync returning it.
func BenchmarkSendToDelivery(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "u", 51, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		room, err := loadgen.Room(ctx, users[0], users[1:])
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		lat, err := loadgen.Latency(ctx, users[0], users[1:], room, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
	})
}

// BenchmarkThroughput: 10 rooms × 10 senders sending as fast as
// acknowledgements allow; messages per second, server CPU-seconds per 1,000
// messages, and the server's resident memory idle and after the run.
func BenchmarkThroughput(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "u", 100, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		var rooms []string
		var senders []*loadgen.Client
		for r := 0; r < 10; r++ {
			id, err := loadgen.Room(ctx, users[r*10], users[r*10+1:r*10+10])
			if err != nil {
				b.Fatal(err)
			}
			rooms = append(rooms, id)
		}
		for i := 0; i < 10; i++ {
			for r := 0; r < 10; r++ {
				senders = append(senders, users[r*10+i])
			}
		}
		pid := p.cmd.Process.Pid
		cpu0, rssIdle := procStat(pid)
		b.ResetTimer()
		res, err := loadgen.Throughput(ctx, senders, rooms, b.N)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu1, rssAfter := procStat(pid)
		b.ReportMetric(res.PerSecond(), "msgs/s")
		b.ReportMetric(res.DeliveredPerSecond(), "delivered-msgs/s")
		b.ReportMetric((cpu1-cpu0).Seconds()*1000/float64(b.N), "cpu-s/1k-msgs")
		b.ReportMetric(float64(rssIdle)/(1<<20), "rss-idle-MiB")
		b.ReportMetric(float64(rssAfter)/(1<<20), "rss-after-MiB")
	})
}

// TestLoadgen runs the load generator briefly against a server, so the
// benchmark and cmd/myelin-bench code stays working.
func TestLoadgen(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	ctx := context.Background()
	users, err := loadgen.Register(ctx, srv.ClientURL(), "lg", 4, loadgen.NewTransport())
	if err != nil {
		t.Fatal(err)
	}
	room, err := loadgen.Room(ctx, users[0], users[1:])
	if err != nil {
		t.Fatal(err)
	}
	res, err := loadgen.Throughput(ctx, users, []string{room}, 40)
	if err != nil || res.Messages != 40 || res.PerSecond() <= 0 || res.Delivered < res.Elapsed {
		t.Fatalf("throughput: %+v %v", res, err)
	}
	lat, err := loadgen.Latency(ctx, users[0], users[1:], room, 3)
	if err != nil || len(lat) != 9 || lat.Quantile(0.5) <= 0 || lat.Quantile(1) < lat.Quantile(0.5) {
		t.Fatalf("latency: %v %v", lat, err)
	}
}

// BenchmarkInitialSync: the initial /sync of a user in 100 rooms with 50
// messages each (time per sync and response size).
func BenchmarkInitialSync(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startProcess(b, b.TempDir(), dbURL, freeAddr(b))
		ctx := context.Background()
		users, err := loadgen.Register(ctx, p.url, "u", 1, loadgen.NewTransport())
		if err != nil {
			b.Fatal(err)
		}
		u := users[0]
		var rooms []string
		for r := 0; r < 100; r++ {
			id, err := loadgen.Room(ctx, u, nil)
			if err != nil {
				b.Fatal(err)
			}
			rooms = append(rooms, id)
		}
		senders := make([]*loadgen.Client, 100)
		for i := range senders {
			senders[i] = u
		}
		if _, err := loadgen.Throughput(ctx, senders, rooms, 100*50); err != nil {
			b.Fatal(err)
		}
		// Let the sync stream catch up before measuring.
		var size int
		deadline := time.Now().Add(60 * time.Second)
		for {
			n, rs, err := initialSync(ctx, u)
			if err != nil {
				b.Fatal(err)
			}
			size = n
			if rs == 100 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := initialSync(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(size)/1024, "KiB/sync")
	})
}

// initialSync runs an initial /sync and returns its size and room count.
func initialSync(ctx context.Context, c *loadgen.Client) (int, int, error) {
	var raw json.RawMessage
	if err := c.Call(ctx, "GET", "/_matrix/client/v3/sync", nil, &raw); err != nil {
		return 0, 0, err
	}
	var resp struct {
		Rooms struct {
			Join map[string]json.RawMessage `json:"join"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return 0, 0, err
	}
	return len(raw), len(resp.Rooms.Join), nil
}
