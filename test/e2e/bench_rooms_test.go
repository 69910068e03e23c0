package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// Room benchmarks run the real binary as its own process (so its CPU time
// can be read from /proc) on SQLite and, when configured, PostgreSQL; the
// clients are plain HTTP in this process.

type benchClient struct {
	base, token, userID string
	http                *http.Client
}

func (c *benchClient) call(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func benchUsers(b *testing.B, base string, n int) []*benchClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	out := make([]*benchClient, n)
	for i := range out {
		c := &benchClient{base: base, http: &http.Client{Transport: tr}}
		var resp struct {
			AccessToken string `json:"access_token"`
			UserID      string `json:"user_id"`
		}
		if err := c.call("POST", "/_matrix/client/v3/register", map[string]any{"username": fmt.Sprintf("u%d", i), "password": "benchmark-password",
			"auth": map[string]string{"type": "m.login.dummy"}}, &resp); err != nil {
			b.Fatal(err)
		}
		c.token, c.userID = resp.AccessToken, resp.UserID
		out[i] = c
	}
	return out
}

func benchRoom(b *testing.B, creator *benchClient, members []*benchClient) string {
	var room struct {
		RoomID string `json:"room_id"`
	}
	if err := creator.call("POST", "/_matrix/client/v3/createRoom", map[string]any{"preset": "public_chat"}, &room); err != nil {
		b.Fatal(err)
	}
	for _, m := range members {
		if err := m.call("POST", "/_matrix/client/v3/rooms/"+room.RoomID+"/join", map[string]any{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	return room.RoomID
}

// benchDatabases runs fn on SQLite, and on PostgreSQL when
// MYELIN_TEST_POSTGRES_URL is set.
func benchDatabases(b *testing.B, fn func(b *testing.B, dbURL string)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, "") })
	if os.Getenv("MYELIN_TEST_POSTGRES_URL") != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, sqltest.URL(b, sqlutil.Postgres)) })
	}
}

// procCPU returns the user+system CPU time of a process.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func startBenchProcess(b *testing.B, dbURL string) *process {
	return startProcess(b, b.TempDir(), dbURL, freeAddr(b))
}

// BenchmarkSendToDelivery: 50 members long-poll one room, one sends; the
// time from the start of each send request to each member's /sync
// returning the message (p50, p99).
func BenchmarkSendToDelivery(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startBenchProcess(b, dbURL)
		users := benchUsers(b, p.url, 51)
		sender, members := users[0], users[1:]
		roomID := benchRoom(b, sender, members)

		var mu sync.Mutex
		sent := map[string]time.Time{}
		var lat []time.Duration
		received := make(chan struct{}, 64*len(members))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, m := range members {
			var first struct {
				NextBatch string `json:"next_batch"`
			}
			if err := m.call("GET", "/_matrix/client/v3/sync", nil, &first); err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func(m *benchClient, since string) {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var resp struct {
						NextBatch string `json:"next_batch"`
						Rooms     struct {
							Join map[string]struct {
								Timeline struct {
									Events []struct {
										Content struct {
											Body string `json:"body"`
										} `json:"content"`
									} `json:"events"`
								} `json:"timeline"`
							} `json:"join"`
						} `json:"rooms"`
					}
					if err := m.call("GET", "/_matrix/client/v3/sync?timeout=5000&since="+since, nil, &resp); err != nil {
						return
					}
					now := time.Now()
					since = resp.NextBatch
					for _, e := range resp.Rooms.Join[roomID].Timeline.Events {
						mu.Lock()
						if t0, ok := sent[e.Content.Body]; ok {
							lat = append(lat, now.Sub(t0))
							received <- struct{}{}
						}
						mu.Unlock()
					}
				}
			}(m, first.NextBatch)
		}
		time.Sleep(200 * time.Millisecond)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			body := "lat-" + strconv.Itoa(i)
			mu.Lock()
			sent[body] = time.Now()
			mu.Unlock()
			if err := sender.call("PUT", "/_matrix/client/v3/rooms/"+roomID+"/send/m.room.message/"+body, map[string]string{"msgtype": "m.text", "body": body}, nil); err != nil {
				b.Fatal(err)
			}
			for k := 0; k < len(members); k++ {
				select {
				case <-received:
				case <-time.After(10 * time.Second):
					b.Fatalf("message %d reached only %d members", i, k)
				}
			}
		}
		b.StopTimer()
		close(stop)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkThroughput: 10 rooms × 10 senders sending as fast as
// acknowledgements allow; messages per second and server CPU-seconds per
// 1,000 messages, and the server's resident memory before and after.
func BenchmarkThroughput(b *testing.B) {
	benchDatabases(b, func(b *testing.B, dbURL string) {
		p := startBenchProcess(b, dbURL)
		users := benchUsers(b, p.url, 100)
		var rooms []string
		for r := 0; r < 10; r++ {
			rooms = append(rooms, benchRoom(b, users[r*10], users[r*10+1:r*10+10]))
		}
		pid := p.cmd.Process.Pid
		rssIdle := procRSS(pid)
		cpu0 := procCPU(pid)
		var next atomic.Int64
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for s := 0; s < 100; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				c, room := users[s], rooms[s/10]
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					txn := "t" + strconv.FormatInt(i, 10)
					if err := c.call("PUT", "/_matrix/client/v3/rooms/"+room+"/send/m.room.message/"+txn, map[string]string{"msgtype": "m.text", "body": txn}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			}(s)
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		cpu := procCPU(pid) - cpu0
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-s/1k-msgs")
		b.ReportMetric(float64(rssIdle)/(1<<20), "rss-idle-MiB")
		b.ReportMetric(float64(procRSS(pid))/(1<<20), "rss-after-MiB")
	})
}
