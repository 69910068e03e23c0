package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// myelinBinary builds cmd/myelin once per test run.
func myelinBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "myelin-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "myelin")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/myelin").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type process struct {
	cmd  *exec.Cmd
	url  string
	logs string
}

// startProcess runs the myelin binary on dataDir and dbURL until it answers.
func startProcess(t testing.TB, dataDir, dbURL, addr string) *process {
	t.Helper()
	cfg := filepath.Join(dataDir, "myelin.yaml")
	yaml := "user_api:\n  bcrypt_cost: 4\nclient_api:\n  rate_limits:\n    enabled: false\nfederation:\n  listen_addr: 127.0.0.1:0\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dataDir, fmt.Sprintf("log-%d", time.Now().UnixNano()))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(myelinBinary(t), "--config", cfg, "--data-dir", dataDir, "--client-addr", addr, "--log-level", "warn")
	if dbURL != "" {
		cmd.Args = append(cmd.Args, "--database", dbURL)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, url: "http://" + addr, logs: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if err := logFile.Close(); err != nil {
			t.Errorf("closing the server log: %v", err)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.url + "/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("server did not start:\n%s", b)
	return nil
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestKillDuringSends kills the server (SIGKILL, no graceful stop) while
// clients send; after a restart every acknowledged message is there exactly
// once, retries of acknowledged transactions return the same event, and
// sync tokens from before the crash still work.
func TestKillDuringSends(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		dataDir, addr := t.TempDir(), freeAddr(t)
		p := startProcess(t, dataDir, dbURL, addr)
		c, err := mautrix.NewClient(p.url, "", "")
		if err != nil {
			t.Fatal(err)
		}
		reg, err := c.RegisterDummy(ctx(t), &mautrix.ReqRegister[any]{Username: "alice", Password: "long enough"})
		if err != nil {
			t.Fatal(err)
		}
		c.UserID, c.AccessToken = reg.UserID, reg.AccessToken
		room, err := c.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		before := syncOnce(t, c, "", 0)

		var mu sync.Mutex
		acked := map[string]id.EventID{} // txn ID → event ID
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					txn := fmt.Sprintf("w%d-%d", w, i)
					resp, err := sendTextTxn(ctx(t), c, room.RoomID, txn, txn)
					if err != nil {
						return // the server died under this request
					}
					mu.Lock()
					acked[txn] = resp.EventID
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(700 * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, _ = p.cmd.Process.Wait()
		close(stop)
		wg.Wait()
		if len(acked) < 10 {
			t.Fatalf("only %d messages acknowledged before the kill", len(acked))
		}

		p2 := startProcess(t, dataDir, dbURL, addr)
		_ = p2
		// Retrying acknowledged transactions returns the same events.
		n := 0
		for txn, evID := range acked {
			resp, err := sendTextTxn(ctx(t), c, room.RoomID, txn, txn)
			if err != nil || resp.EventID != evID {
				t.Fatalf("retry of %s after restart = %v, %v; want %s", txn, resp, err, evID)
			}
			if n++; n == 20 {
				break
			}
		}
		// History holds every acknowledged message exactly once (the sync
		// stream catches up from the bus outbox after the restart).
		var counts map[string]int
		deadline := time.Now().Add(20 * time.Second)
		for {
			counts = map[string]int{}
			from := ""
			for {
				resp, err := c.Messages(ctx(t), room.RoomID, from, "", mautrix.DirectionBackward, nil, 500)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range resp.Chunk {
					if b, ok := e.Content.Raw["body"].(string); ok {
						counts[b]++
					}
				}
				if resp.End == "" {
					break
				}
				from = resp.End
			}
			missing := 0
			for txn := range acked {
				if counts[txn] == 0 {
					missing++
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				if missing > 0 {
					t.Fatalf("%d of %d acknowledged messages missing after restart", missing, len(acked))
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for body, k := range counts {
			if k != 1 {
				t.Fatalf("message %s appears %d times", body, k)
			}
		}
		// A sync token from before the crash still works.
		after := syncOnce(t, c, before.NextBatch, 0)
		if len(after.Rooms.Join[room.RoomID].Timeline.Events) == 0 {
			t.Fatal("sync from a pre-crash token returned nothing")
		}
		t.Logf("%d messages acknowledged before SIGKILL, all present once after restart", len(acked))
	})
}
