package routing_test

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// heapPeak samples the heap in use until stopped and reports the highest.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// watchMemory starts measuring what the process allocates and the heap it
// uses. The function it returns stops, logs both for what, and fails the
// test when either grew by more than bound: the data was held in memory.
func watchMemory(t *testing.T) (check func(what string, bound uint64)) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stopPeak := heapPeak()
	return func(what string, bound uint64) {
		t.Helper()
		peak := stopPeak()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %.1f MiB allocated, heap in use peaked %.1f MiB above the start",
			what, float64(allocated)/(1<<20), (float64(peak)-float64(before.HeapInuse))/(1<<20))
		if allocated > bound || peak > before.HeapInuse+bound {
			t.Fatalf("%s: allocated %d bytes, heap peak %d (from %d): held in memory", what, allocated, peak, before.HeapInuse)
		}
	}
}

// TestLargeFileStreams sends 200 MiB up and back down through a real
// listener and checks that neither direction holds the file in memory:
// what the process allocates and the heap it uses stay a small fraction of
// the file. (Peak RSS for 1 GB is BenchmarkMediaStream1GB in test/e2e.)
func TestLargeFileStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MiB through the disk")
	}
	const size = 200 << 20
	const bound = 48 << 20
	e := newEnv(t, func(m *config.MediaAPI) { m.MaxUploadBytes = size })
	srv := httptest.NewServer(e.Handler(t))
	defer srv.Close()

	checkMemory := watchMemory(t)

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/_matrix/media/v3/upload", fixture.Generated(size, 1))
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+e.alice.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		ContentURI string `json:"content_uri"`
	}
	err = json.NewDecoder(res.Body).Decode(&up)
	_ = res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %v", res.StatusCode, err)
	}

	want := sha256.New()
	_, _ = io.Copy(want, fixture.Generated(size, 1))
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/_matrix/client/v1/media/download/"+strings.TrimPrefix(up.ContentURI, "mxc://"), nil)
	req.Header.Set("Authorization", "Bearer "+e.bob.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	_ = res.Body.Close()
	if err != nil || n != size || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("download: %d bytes, %v, same bytes %v", n, err, string(got.Sum(nil)) == string(want.Sum(nil)))
	}

	checkMemory("200 MiB up and down", bound)
}
