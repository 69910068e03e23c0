package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/userapi/api"
)

// docs/configuration.md shows the generated config; keep them in step.
func TestConfigurationDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), config.GenerateYAML()) {
		t.Fatal("docs/configuration.md is out of date: regenerate its YAML block with `myelin generate-config`")
	}
}

func TestCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "myelin ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"generate-config"}, nil, &out, &errOut); code != 0 || out.String() != config.GenerateYAML() {
		t.Fatalf("generate-config: %d", code)
	}
	out.Reset()
	errOut.Reset()
	code := run([]string{"--registration", "maybe", "--log-format", "xml"}, nil, &out, &errOut)
	if code != 2 ||
		!strings.Contains(errOut.String(), "client_api.registration") ||
		!strings.Contains(errOut.String(), "global.log.format") {
		t.Fatalf("bad config: exit %d, %q", code, errOut.String())
	}
}

// TestServeUnreachableDatabase: a database that does not answer is a start-up
// error (exit 1, logged), not a panic.
func TestServeUnreachableDatabase(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"--data-dir", t.TempDir(), "--client-addr", "127.0.0.1:0", "--federation-addr", "127.0.0.1:0",
		"--database", "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errOut.String())
	}
}

func TestCreateAccount(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "myelin.yaml")
	cfg := "global:\n  data_dir: " + dir + "\n  server_name: example.org\nuser_api:\n  bcrypt_cost: 4\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	password := strings.NewReader("hunter2hunter2\n")
	code := run([]string{"create-account", "--config", cfgPath, "--username", "root", "--admin"}, password, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "@root:example.org") || !strings.Contains(out.String(), "admin: true") {
		t.Fatalf("create-account: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = run([]string{"create-account", "--config", cfgPath, "--username", "root", "--password", "x"}, nil, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "already taken") {
		t.Fatalf("duplicate create-account: %d %q", code, errOut.String())
	}
	code = run([]string{"create-account", "--config", cfgPath, "--username", "ops", "--password", "x", "--displayname", "Operations"},
		nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("create-account --displayname: %d %q", code, errOut.String())
	}
	for user, want := range map[api.Localpart]string{"root": `"root"`, "ops": `"Operations"`} {
		if got := displayName(t, cfgPath, user); got != want {
			t.Errorf("display name of %s = %s, want %s", user, got, want)
		}
	}
	out.Reset()
	code = run([]string{"create-registration-token", "--config", cfgPath, "--uses", "2"}, nil, &out, &errOut)
	if code != 0 || len(strings.TrimSpace(out.String())) < 10 {
		t.Fatalf("create-registration-token: %d %q %q", code, out.String(), errOut.String())
	}
}

// displayName reads a user's display name (JSON) from the configured database.
func displayName(t *testing.T, cfgPath string, user api.Localpart) string {
	t.Helper()
	u, closeDB, err := openUserAPI(context.Background(), cfgPath, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	p, err := u.Profile(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return string(p["displayname"])
}

// TestServeStopsOnSIGTERM runs the server as the binary does and sends the
// process SIGTERM: it drains, closes the database and exits 0.
func TestServeStopsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("MYELIN_DATA_DIR", dir)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"--client-addr", addr, "--federation-addr", "127.0.0.1:0", "--log-level", "info"}, nil, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop on SIGTERM")
	}
	logs := errOut.String()
	for _, want := range []string{"client API listening", dir, "registration is open", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up/shutdown log lacks %q:\n%s", want, logs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "signing.key")); err != nil {
		t.Errorf("no signing key in the data dir: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIssueCert: a certificate signed with an RSA (PKCS#1) CA verifies
// against that CA for the name.
func TestIssueCert(t *testing.T) {
	dir := t.TempDir()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKeyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	_ = os.WriteFile(caCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(caKeyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(caKey)}), 0o600)
	var out, errOut bytes.Buffer
	code := run([]string{"issue-cert", "--ca-cert", caCert, "--ca-key", caKeyPath, "--name", "hs1",
		"--cert-out", filepath.Join(dir, "tls.crt"), "--key-out", filepath.Join(dir, "tls.key")}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("issue-cert: %d %s", code, errOut.String())
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "hs1"}); err != nil {
		t.Fatalf("the certificate does not verify for hs1: %v", err)
	}
	if code := run([]string{"issue-cert", "--name", "hs1"}, nil, &out, &errOut); code != 2 {
		t.Fatalf("missing flags: exit %d", code)
	}
}
