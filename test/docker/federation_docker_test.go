//go:build linux

// Package docker runs the tests that need a Docker daemon: real Myelin
// images on real Docker networks. Each skips when `docker info` fails.
package docker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireDocker skips the test unless the Docker daemon answers, or fails
// it when MYELIN_TEST_DOCKER=required (for CI machines that have Docker).
func requireDocker(t *testing.T) {
	t.Helper()
	reason := ""
	if _, err := exec.LookPath("docker"); err != nil {
		reason = "docker is not installed"
	} else if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		reason = "docker info fails: " + strings.TrimSpace(lastLine(string(out)))
	}
	if reason == "" {
		return
	}
	if os.Getenv("MYELIN_TEST_DOCKER") == "required" {
		t.Fatalf("MYELIN_TEST_DOCKER=required but %s", reason)
	}
	t.Skipf("skipping: %s (the test needs a usable Docker daemon)", reason)
}

// TestFederationOverDockerNetwork runs scripts/federation-docker.sh: two
// servers in containers on a private network, alice@one and bob@two chat,
// two is cut off while alice sends 20 messages, and once it is back bob
// must have all of them, in order, once each.
func TestFederationOverDockerNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: builds an image and starts two containers")
	}
	requireDocker(t)
	script, err := filepath.Abs("../../scripts/federation-docker.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	// The script builds with the go command on PATH; `go test` puts its
	// own first. On timeout the script's process group gets SIGTERM, so that the
	// driver stops and the script's trap removes its containers, network
	// and image; WaitDelay leaves time for that.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	out := &lineLogger{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("scripts/federation-docker.sh did not finish within the test's timeout: %v", err)
	}
	if err != nil {
		t.Fatalf("scripts/federation-docker.sh failed after %s: %v (output above)", time.Since(start).Round(time.Second), err)
	}
	if !strings.Contains(out.all.String(), "fedchat: [") || !strings.Contains(out.all.String(), "] PASS") {
		t.Fatalf("scripts/federation-docker.sh exited 0 without the driver's PASS")
	}
	t.Logf("passed in %s", time.Since(start).Round(time.Second))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// lineLogger writes what it is given to the test log a line at a time and
// keeps all of it.
type lineLogger struct {
	t    *testing.T
	mu   sync.Mutex
	buf  bytes.Buffer
	all  bytes.Buffer
	done bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			break
		}
		if !l.done {
			l.t.Log(strings.TrimRight(line, "\n"))
		}
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 && !l.done {
		l.t.Log(l.buf.String())
	}
	l.buf.Reset()
	l.done = true
}
