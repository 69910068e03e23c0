package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/loadgen"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/server"
)

// Federation benchmarks run whole servers in this process, as the
// federation tests do (TLS from a test CA, found through the discovery
// override table), each on its own database: SQLite, and PostgreSQL when
// MYELIN_TEST_POSTGRES_URL is set. Clients are internal/loadgen (plain HTTP,
// the code behind cmd/myelin-bench and the single-server benchmarks), in
// this process too: everything shares the machine's cores.

// benchFederationDatabases runs fn once per database kind; fn's newDB gives
// each server a database of its own.
func benchFederationDatabases(b *testing.B, fn func(b *testing.B, newDB func() string)) {
	// Some code logs through logrus's standard logger (gomatrixserverlib at
	// info, sqlutil's slow-transaction warning), onto the lines of results.
	std := logrus.StandardLogger()
	out := std.Out
	std.SetOutput(io.Discard)
	b.Cleanup(func() { std.SetOutput(out) })
	b.Run("sqlite", func(b *testing.B) { fn(b, func() string { return "" }) })
	if os.Getenv("MYELIN_TEST_POSTGRES_URL") != "" {
		b.Run("postgres", func(b *testing.B) { fn(b, func() string { return sqltest.URL(b, sqlutil.Postgres) }) })
	}
}

// benchFederation is startFederation for benchmarks: the names and
// addresses of every server are fixed first, so that servers started later
// (a fresh joiner per iteration) are known to those already running.
type benchFederation struct {
	ca    *testCA
	hosts map[string]string
	newDB func() string
}

func newBenchFederation(b *testing.B, newDB func() string, names ...string) *benchFederation {
	b.Helper()
	f := &benchFederation{ca: newTestCA(b), hosts: map[string]string{}, newDB: newDB}
	for _, n := range names {
		f.hosts[n] = freeAddr(b)
	}
	return f
}

// start starts server name with the benchmark settings (bcrypt cost 4,
// client rate limits off); it is shut down when the benchmark ends.
func (f *benchFederation) start(b *testing.B, name string) *server.Server {
	b.Helper()
	cfg := config.Default()
	cfg.Global.ServerName = name
	cfg.Global.DataDir = b.TempDir()
	cfg.Global.Database.URL = f.newDB()
	cfg.ClientAPI.ListenAddr = "127.0.0.1:0"
	cfg.ClientAPI.RateLimits.Enabled = false
	cfg.UserAPI.BcryptCost = 4
	cfg.FederationAPI.ListenAddr = f.hosts[name]
	cfg.FederationAPI.TLSCert, cfg.FederationAPI.TLSKey = f.ca.issue(b, name)
	cfg.FederationAPI.TLSCA = f.ca.pemPath
	cfg.FederationAPI.Hosts = f.hosts
	if err := cfg.Verify(); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// benchUsers registers n users prefix0… on srv, workers at a time.
func benchUsers(b *testing.B, srv *server.Server, prefix string, n, workers int) []*loadgen.Client {
	b.Helper()
	tr := loadgen.NewTransport()
	out := make([]*loadgen.Client, n)
	forEachConcurrently(b, n, workers, func(i int) error {
		c := &loadgen.Client{Base: srv.ClientURL(), HTTP: &http.Client{Transport: tr}}
		var resp struct {
			AccessToken string `json:"access_token"`
			UserID      string `json:"user_id"`
		}
		if err := c.Call(b.Context(), http.MethodPost, "/_matrix/client/v3/register", map[string]any{
			"username": fmt.Sprintf("%s%d", prefix, i), "password": "benchmark-password",
			"auth": map[string]string{"type": "m.login.dummy"}}, &resp); err != nil {
			return err
		}
		c.Token, c.UserID = resp.AccessToken, resp.UserID
		out[i] = c
		return nil
	})
	return out
}

// forEachConcurrently runs fn(0…n-1) on workers goroutines and fails the
// benchmark on the first error.
func forEachConcurrently(b *testing.B, n, workers int, fn func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// joinVia has c join roomID (an ID or alias) through server.
func joinVia(ctx context.Context, c *loadgen.Client, roomID, server string) error {
	return c.Call(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(roomID)+"?server_name="+url.QueryEscape(server),
		map[string]any{}, nil)
}

// joinedCount is the number of joined members of roomID as c's server sees it.
func joinedCount(ctx context.Context, c *loadgen.Client, roomID string) int {
	var resp struct {
		Joined map[string]any `json:"joined"`
	}
	if err := c.Call(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/joined_members", nil, &resp); err != nil {
		return -1
	}
	return len(resp.Joined)
}

// waitJoined waits until every client's server sees n joined members.
func waitJoined(b *testing.B, roomID string, n int, clients ...*loadgen.Client) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for _, c := range clients {
		for joinedCount(b.Context(), c, roomID) != n {
			if time.Now().After(deadline) {
				b.Fatalf("%s's server does not see %d members in %s", c.UserID, n, roomID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// BenchmarkFederationSendToDelivery: alice of one sends to a room she
// shares with bob of two, who long-polls /sync; time from the start of each
// send request to bob's /sync returning the message (loadgen.Latency, as
// BenchmarkSendToDelivery). The path: alice's send on one, one's outgoing
// transaction queue, PUT /send on two over TLS (signature checks, auth),
// two's roomserver and sync stream, bob's long-poll. The same-server
// variant times carol of one, in the same room, for comparison.
func BenchmarkFederationSendToDelivery(b *testing.B) {
	benchFederationDatabases(b, func(b *testing.B, newDB func() string) {
		f := newBenchFederation(b, newDB, "one.test", "two.test")
		one, two := f.start(b, "one.test"), f.start(b, "two.test")
		ones := benchUsers(b, one, "u", 2, 1)
		alice, carol := ones[0], ones[1]
		bob := benchUsers(b, two, "bob", 1, 1)[0]
		room, err := loadgen.Room(b.Context(), alice, []*loadgen.Client{carol})
		if err != nil {
			b.Fatal(err)
		}
		if err := joinVia(b.Context(), bob, room, "one.test"); err != nil {
			b.Fatal(err)
		}
		waitJoined(b, room, 3, alice, bob)
		for _, v := range []struct {
			name   string
			member *loadgen.Client
		}{{"across", bob}, {"same-server", carol}} {
			b.Run(v.name, func(b *testing.B) {
				lat, err := loadgen.Latency(b.Context(), alice, []*loadgen.Client{v.member}, room, b.N)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(lat.Quantile(0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat.Quantile(0.99).Microseconds())/1000, "p99-ms")
			})
		}
	})
}

// remoteJoinMembers is the number of joined members of the room joined in
// BenchmarkFederationRemoteJoin1000.
const remoteJoinMembers = 1000

// BenchmarkFederationRemoteJoin1000: one hosts a public room whose state
// has 1,000 joined members (999 registered users joined through the client
// API, and the creator); each iteration starts a fresh server (two-0.test,
// two-1.test, …) whose user joins the room by ID through one: make_join,
// send_join (one answers with the 1,000+ state events and their auth
// chain), signature, hash and auth checks of everything returned, a
// backfill of the last 100 events, storage. ns/op is the time of the /join
// request; to-sync-ms runs on to when the joiner's /sync (long-polling,
// lazy-loading members) shows the room. Memory, for the whole process
// (both servers and the clients, since they share it), from just before
// the join until it is in /sync: alloc-MiB allocated, peak-heap-MiB the
// peak of heap objects above the level before, retained-MiB the growth of
// the live heap after a GC.
func BenchmarkFederationRemoteJoin1000(b *testing.B) {
	benchFederationDatabases(b, func(b *testing.B, newDB func() string) {
		names := []string{"one.test"}
		for i := 0; i < b.N; i++ {
			names = append(names, fmt.Sprintf("two-%d.test", i))
		}
		f := newBenchFederation(b, newDB, names...)
		one := f.start(b, "one.test")
		setup := time.Now()
		users := benchUsers(b, one, "m", remoteJoinMembers, 4)
		room, err := loadgen.Room(b.Context(), users[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		forEachConcurrently(b, remoteJoinMembers-1, 8, func(i int) error {
			return joinVia(b.Context(), users[i+1], room, "one.test")
		})
		waitJoined(b, room, remoteJoinMembers, users[0])
		b.Logf("setup: %d members in %v", remoteJoinMembers, time.Since(setup).Round(time.Millisecond))

		var syncTime time.Duration
		var alloc, peak, retained uint64
		b.ResetTimer()
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			two := f.start(b, names[i+1])
			joiner := benchUsers(b, two, "joiner", 1, 1)[0]
			// A long-poll is waiting when the join starts.
			synced := make(chan error, 1)
			var syncDone time.Time
			since := syncToken(b, joiner)
			ctx, cancel := context.WithCancel(b.Context())
			go func() {
				err := awaitRoom(ctx, joiner, since, room)
				syncDone = time.Now()
				synced <- err
			}()
			before := memNow(true)
			sampler := startHeapSampler()

			b.StartTimer()
			start := time.Now()
			err := joinVia(b.Context(), joiner, room, "one.test")
			b.StopTimer()
			if err != nil {
				cancel()
				b.Fatalf("join %d: %v", i, err)
			}
			select {
			case err := <-synced:
				if err != nil {
					b.Fatal(err)
				}
			case <-time.After(2 * time.Minute):
				b.Fatalf("join %d: the room is not in the joiner's /sync after 2 minutes", i)
			}
			cancel()
			syncTime += syncDone.Sub(start)
			top := sampler.stop()
			after := memNow(false)
			alloc += after.totalAlloc - before.totalAlloc
			if top > before.heapObjects {
				peak += top - before.heapObjects
			}
			settled := memNow(true)
			if settled.live > before.live {
				retained += settled.live - before.live
			}
			if got := joinedCount(b.Context(), joiner, room); got != remoteJoinMembers+1+i {
				b.Fatalf("join %d: two sees %d joined members, want %d", i, got, remoteJoinMembers+1+i)
			}
		}
		n := float64(b.N)
		b.ReportMetric(float64(syncTime.Microseconds())/1000/n, "to-sync-ms")
		b.ReportMetric(float64(alloc)/(1<<20)/n, "alloc-MiB")
		b.ReportMetric(float64(peak)/(1<<20)/n, "peak-heap-MiB")
		b.ReportMetric(float64(retained)/(1<<20)/n, "retained-MiB")
	})
}

// lazySyncFilter is the /sync filter of the joiner's long-poll: members
// lazy-loaded and one timeline event, as clients such as Element ask.
var lazySyncFilter = url.QueryEscape(`{"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}},"presence":{"not_types":["*"]}}`)

// syncToken is the next_batch of an initial /sync of c.
func syncToken(b *testing.B, c *loadgen.Client) string {
	b.Helper()
	var resp struct {
		NextBatch string `json:"next_batch"`
	}
	if err := c.Call(b.Context(), http.MethodGet, "/_matrix/client/v3/sync?timeout=0&filter="+lazySyncFilter, nil, &resp); err != nil {
		b.Fatal(err)
	}
	return resp.NextBatch
}

// awaitRoom long-polls c's /sync from since until roomID is among its
// joined rooms.
func awaitRoom(ctx context.Context, c *loadgen.Client, since, roomID string) error {
	for {
		var resp struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join map[string]struct{} `json:"join"`
			} `json:"rooms"`
		}
		path := "/_matrix/client/v3/sync?timeout=30000&filter=" + lazySyncFilter + "&since=" + url.QueryEscape(since)
		if err := c.Call(ctx, http.MethodGet, path, nil, &resp); err != nil {
			return err
		}
		if _, ok := resp.Rooms.Join[roomID]; ok {
			return nil
		}
		since = resp.NextBatch
	}
}

// memSample is the process's memory at one moment.
type memSample struct {
	totalAlloc  uint64 // bytes allocated since the process started
	heapObjects uint64 // bytes of heap objects, live or not yet swept
	live        uint64 // live heap at the end of the last GC
}

// memNow reads the runtime's memory metrics, after a full GC when gc is set.
func memNow(gc bool) memSample {
	if gc {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return memSample{totalAlloc: s[0].Value.Uint64(), heapObjects: s[1].Value.Uint64(), live: s[2].Value.Uint64()}
}

// heapSampler records the peak of heap objects every 2 ms until stopped.
type heapSampler struct {
	done chan struct{}
	peak chan uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		var top uint64
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			top = max(top, s[0].Value.Uint64())
			select {
			case <-h.done:
				h.peak <- top
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() uint64 {
	close(h.done)
	return <-h.peak
}

// backfillHistoryEvents is the number of messages in the room paged back
// in BenchmarkFederationBackfill1000.
const backfillHistoryEvents = 1000

// BenchmarkFederationBackfill1000: one hosts a public room with 1,000
// messages; each iteration starts a fresh server (two-0.test, …) whose user
// joins the room through one, then pages /messages backwards from the end,
// 100 events a page, until the page after the room's creation (no end).
// ns/op is the paging alone: two's on-demand backfill from one (/backfill,
// signature and auth checks, storage below every stream position) and the
// pages served. events/s is the history paged per second.
func BenchmarkFederationBackfill1000(b *testing.B) {
	benchFederationDatabases(b, func(b *testing.B, newDB func() string) {
		names := []string{"one.test"}
		for i := 0; i < b.N; i++ {
			names = append(names, fmt.Sprintf("two-%d.test", i))
		}
		f := newBenchFederation(b, newDB, names...)
		one := f.start(b, "one.test")
		alice := benchUsers(b, one, "alice", 1, 1)[0]
		room, err := loadgen.Room(b.Context(), alice, nil)
		if err != nil {
			b.Fatal(err)
		}
		for i := range backfillHistoryEvents {
			if err := alice.Send(b.Context(), room, fmt.Sprintf("h%d", i), fmt.Sprintf("old %04d", i)); err != nil {
				b.Fatal(err)
			}
		}
		var total time.Duration
		b.ResetTimer()
		b.StopTimer()
		for i := 0; i < b.N; i++ {
			two := f.start(b, names[i+1])
			joiner := benchUsers(b, two, "joiner", 1, 1)[0]
			err := joiner.Call(b.Context(), http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(room)+"?server_name=one.test",
				map[string]any{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			n, err := pageBack(b.Context(), joiner, room)
			b.StopTimer()
			total += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if n < backfillHistoryEvents {
				b.Fatalf("iteration %d: %d events paged, want at least %d", i, n, backfillHistoryEvents)
			}
		}
		b.ReportMetric(float64(backfillHistoryEvents*b.N)/total.Seconds(), "events/s")
	})
}

// pageBack pages roomID's /messages backwards from the end, 100 events a
// page, until a page without an end; it returns the number of events read.
func pageBack(ctx context.Context, c *loadgen.Client, roomID string) (int, error) {
	from, n := "", 0
	for range 100 {
		var resp struct {
			Chunk []json.RawMessage `json:"chunk"`
			End   *string           `json:"end"`
		}
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=100"
		if from != "" {
			path += "&from=" + url.QueryEscape(from)
		}
		if err := c.Call(ctx, http.MethodGet, path, nil, &resp); err != nil {
			return n, err
		}
		n += len(resp.Chunk)
		if resp.End == nil {
			return n, nil
		}
		from = *resp.End
	}
	return n, fmt.Errorf("more than 100 pages")
}
