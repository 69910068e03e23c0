package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/clientapi/routing"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// coturnEnv set to "required" makes a missing coturn fail TestTURNWithCoturn
// instead of skipping it (.ci/services.sh sets it when it installs coturn).
const coturnEnv = "MYELIN_TEST_COTURN"

// TestTURNWithCoturn: the credentials GET /voip/turnServer hands out are
// accepted by a real coturn configured with the same static-auth-secret
// (use-auth-secret): turnutils_uclient allocates a relay with them and
// sends through it. A wrong password, and credentials of the right form
// that expired, are refused.
func TestTURNWithCoturn(t *testing.T) {
	turnserver, uclient := coturnTools(t)
	const secret = "coturn-test-secret"
	port := freeUDPPort(t)
	startCoturn(t, turnserver, port, secret)

	cfg := testConfig(t, sqltest.URL(t, sqlutil.SQLite))
	cfg.TURN = config.TURN{URIs: []string{"turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=udp"},
		SharedSecret: secret, TTL: config.Duration(time.Hour)}
	srv := startServer(t, cfg)
	alice := register(t, srv, "alice", "alice-password")
	creds, err := alice.TurnServer(ctx(t))
	if err != nil || creds.TTL != 3600 || len(creds.URIs) != 1 || !strings.HasSuffix(creds.Username, ":"+alice.UserID.String()) {
		t.Fatalf("turnServer %+v, %v", creds, err)
	}

	expiredUser, expiredPass := routing.TURNCredentials(secret, alice.UserID.String(), time.Now().Add(-time.Minute))
	tests := []struct {
		name, user, pass string
		accepted         bool
	}{
		{"Myelin's credentials", creds.Username, creds.Password, true},
		{"a wrong password", creds.Username, "d3Jvbmc=", false},
		{"expired credentials", expiredUser, expiredPass, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := allocate(t, uclient, port, tc.user, tc.pass)
			if tc.accepted && err != nil {
				t.Fatalf("coturn refused the credentials: %v\n%s", err, out)
			}
			var exit *exec.ExitError
			if !tc.accepted && !errors.As(err, &exit) {
				t.Fatalf("coturn accepted them (or the client did not run: %v)\n%s", err, out)
			}
		})
	}
}

// coturnTools finds coturn's server and test client, or skips the test
// (fails it when MYELIN_TEST_COTURN=required).
func coturnTools(t *testing.T) (turnserver, uclient string) {
	t.Helper()
	turnserver, err1 := exec.LookPath("turnserver")
	uclient, err2 := exec.LookPath("turnutils_uclient")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv(coturnEnv) == "required" {
			t.Fatalf("coturn is required (%s=required) but missing: %v", coturnEnv, err)
		}
		t.Skipf("coturn is not installed (apt-get install coturn; .ci/run does): %v", err)
	}
	return turnserver, uclient
}

// freeUDPPort returns a loopback port that was free for UDP and TCP.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		_ = pc.Close()
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// startCoturn runs coturn on 127.0.0.1:port with the TURN REST API's
// shared secret, its files in a temporary directory, until the test ends.
func startCoturn(t *testing.T, turnserver string, port int, secret string) {
	t.Helper()
	dir := t.TempDir()
	relay := 50000 + port%10000
	cmd := exec.Command(turnserver, "-n",
		"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port), "--relay-ip=127.0.0.1",
		"--min-port="+strconv.Itoa(relay), "--max-port="+strconv.Itoa(relay+50),
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm=localhost",
		"--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
		"--userdb="+filepath.Join(dir, "turndb"), "--pidfile="+filepath.Join(dir, "turnserver.pid"),
		"--log-file="+filepath.Join(dir, "turn.log"), "--simple-log")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting coturn: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "turn.log")); err == nil {
				t.Logf("coturn log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("coturn did not start listening: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allocate has turnutils_uclient allocate a relay on coturn with the
// credentials and send one message through it (-y: to a second client of
// its own, so no peer is needed); it exits non-zero when the allocation is
// refused.
func allocate(t *testing.T, uclient string, port int, user, pass string) ([]byte, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(c, uclient, "-y", "-c", "-n", "1", "-m", "1", "-l", "16",
		"-p", strconv.Itoa(port), "-u", user, "-w", pass, "127.0.0.1").CombinedOutput()
}
