package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/server"
	"github.com/myelin-im/myelin/test/fixture"
)

// The media benchmarks upload and download through a real server on
// loopback (SQLite, the client in the same process), beside the same sizes
// written (with fsync) and read with plain Go file I/O in the same kind of
// directory: the raw disk speed the server is measured against.
//
//	go test -run '^$' -bench 'Media|Disk' -benchtime 5x ./test/e2e/

const (
	bigFile    = 50_000_000
	smallFile  = 10 << 10
	smallFiles = 1000
)

// mediaBenchServer is benchServer with uploads of up to limit bytes, and
// the access token of a user on it.
func mediaBenchServer(b *testing.B, limit int64) (*server.Server, string) {
	b.Helper()
	srv := benchServer(b, func(c *config.Config) { c.MediaAPI.MaxUploadBytes = limit })
	resp := benchPost(b, srv.ClientURL()+"/_matrix/client/v3/register",
		`{"username":"bench","password":"benchmark-password","auth":{"type":"m.login.dummy"}}`)
	return srv, resp["access_token"].(string)
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}

// benchUpload uploads body (of size bytes) and returns its server/mediaId.
func benchUpload(b *testing.B, srv *server.Server, token string, body io.Reader, size int64) string {
	req, _ := http.NewRequest(http.MethodPost, srv.ClientURL()+"/_matrix/media/v3/upload", body)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("upload: %d %v", res.StatusCode, err)
	}
	return strings.TrimPrefix(out.ContentURI, "mxc://")
}

// benchDownload downloads path and returns the bytes read.
func benchDownload(b *testing.B, srv *server.Server, token, path string) int64 {
	req, _ := http.NewRequest(http.MethodGet, srv.ClientURL()+"/_matrix/client/v1/media/download/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("download: %d", res.StatusCode)
	}
	return n
}

// distinct returns content with its first 8 bytes set to i, so that no
// upload is a duplicate of another (which would skip the disk).
func distinct(content []byte, i uint64) []byte {
	binary.BigEndian.PutUint64(content, i)
	return content
}

func randomContent(b *testing.B, n int) []byte {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	return buf
}

func BenchmarkMediaUpload50MB(b *testing.B) {
	srv, token := mediaBenchServer(b, bigFile)
	content := randomContent(b, bigFile)
	b.SetBytes(bigFile)
	b.ResetTimer()
	for i := range b.N {
		benchUpload(b, srv, token, bytes.NewReader(distinct(content, uint64(i))), bigFile)
	}
}

func BenchmarkMediaDownload50MB(b *testing.B) {
	srv, token := mediaBenchServer(b, bigFile)
	path := benchUpload(b, srv, token, bytes.NewReader(randomContent(b, bigFile)), bigFile)
	b.SetBytes(bigFile)
	b.ResetTimer()
	for range b.N {
		if n := benchDownload(b, srv, token, path); n != bigFile {
			b.Fatalf("downloaded %d bytes", n)
		}
	}
}

func BenchmarkMediaUpload1000x10KiB(b *testing.B) {
	srv, token := mediaBenchServer(b, smallFile)
	content := randomContent(b, smallFile)
	b.SetBytes(smallFiles * smallFile)
	b.ResetTimer()
	for i := range b.N {
		for j := range smallFiles {
			benchUpload(b, srv, token, bytes.NewReader(distinct(content, uint64(i*smallFiles+j))), smallFile)
		}
	}
}

func BenchmarkMediaDownload1000x10KiB(b *testing.B) {
	srv, token := mediaBenchServer(b, smallFile)
	content := randomContent(b, smallFile)
	paths := make([]string, smallFiles)
	for j := range paths {
		paths[j] = benchUpload(b, srv, token, bytes.NewReader(distinct(content, uint64(j))), smallFile)
	}
	b.SetBytes(smallFiles * smallFile)
	b.ResetTimer()
	for range b.N {
		for _, p := range paths {
			benchDownload(b, srv, token, p)
		}
	}
}

// diskWrite writes content to path and fsyncs it, as the server does
// with an upload (without the rename and the database).
func diskWrite(b *testing.B, path string, content []byte) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(content); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// diskRead reads path to its end.
func diskRead(b *testing.B, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, f)
	_ = f.Close()
	return n
}

func BenchmarkDiskWrite50MB(b *testing.B) {
	dir := b.TempDir()
	content := randomContent(b, bigFile)
	b.SetBytes(bigFile)
	b.ResetTimer()
	for i := range b.N {
		diskWrite(b, filepath.Join(dir, strconv.Itoa(i)), distinct(content, uint64(i)))
	}
}

func BenchmarkDiskRead50MB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big")
	diskWrite(b, path, randomContent(b, bigFile))
	b.SetBytes(bigFile)
	b.ResetTimer()
	for range b.N {
		diskRead(b, path)
	}
}

func BenchmarkDiskWrite1000x10KiB(b *testing.B) {
	dir := b.TempDir()
	content := randomContent(b, smallFile)
	b.SetBytes(smallFiles * smallFile)
	b.ResetTimer()
	for i := range b.N {
		for j := range smallFiles {
			diskWrite(b, filepath.Join(dir, fmt.Sprintf("%d-%d", i, j)), distinct(content, uint64(j)))
		}
	}
}

func BenchmarkDiskRead1000x10KiB(b *testing.B) {
	dir := b.TempDir()
	content := randomContent(b, smallFile)
	for j := range smallFiles {
		diskWrite(b, filepath.Join(dir, strconv.Itoa(j)), content)
	}
	b.SetBytes(smallFiles * smallFile)
	b.ResetTimer()
	for range b.N {
		for j := range smallFiles {
			diskRead(b, filepath.Join(dir, strconv.Itoa(j)))
		}
	}
}

// BenchmarkMediaStream1GB streams a 1 GB file up and down through a real
// server in this process and reports the process's peak resident memory
// (VmHWM of /proc/self/status, reset before the transfer where the kernel
// allows): server and client together, with the file made and hashed as
// it streams.
func BenchmarkMediaStream1GB(b *testing.B) {
	const size = 1_000_000_000
	srv, token := mediaBenchServer(b, size)
	resetPeakRSS()
	before := procStatusKB(b, "VmRSS")
	b.SetBytes(2 * size)
	b.ResetTimer()
	for i := range b.N {
		path := benchUpload(b, srv, token, fixture.Generated(size, uint64(i)+1), size)
		if n := benchDownload(b, srv, token, path); n != size {
			b.Fatalf("downloaded %d bytes", n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(procStatusKB(b, "VmHWM"))/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(before)/1024, "start-RSS-MiB")
}

// resetPeakRSS resets VmHWM to the current RSS (Linux: writing 5 to
// /proc/self/clear_refs); where that is refused the peak counts from the
// process's start.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatusKB reads a kB field of /proc/self/status.
func procStatusKB(b *testing.B, field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	b.Skipf("no %s in /proc/self/status", field)
	return 0
}
