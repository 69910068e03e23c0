package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/myelin-im/myelin/internal/testenv"
)

// Timings of the expiry tests. Assertions that a key is still there are made
// only when the test can tell from its own clock that the ttl has not run out,
// and assertions that it is gone wait well past the ttl, so a slow machine
// cannot fail a correct cache.
const (
	shortTTL   = 150 * time.Millisecond
	pastShort  = 400 * time.Millisecond // sleep after which shortTTL has surely passed
	longEnough = 400 * time.Millisecond // sleep that a key without ttl must survive
)

// runSuite runs the behaviour every Cache must have against fresh caches made
// by newCache. Each subtest gets its own cache.
func runSuite(t *testing.T, newCache func(t *testing.T) Cache) {
	tests := []struct {
		name string
		run  func(t *testing.T, c Cache)
	}{
		{"get absent", testGetAbsent},
		{"set and get", testSetGet},
		{"overwrite", testOverwrite},
		{"set copies value", testSetCopies},
		{"ttl expiry", testTTLExpiry},
		{"no expiry", testNoExpiry},
		{"overwrite without ttl clears ttl", testOverwriteClearsTTL},
		{"setnx", testSetNX},
		{"setnx after expiry", testSetNXAfterExpiry},
		{"delete", testDelete},
		{"incr", testIncr},
		{"incr rejects non-integers and overflow", testIncrErrors},
		{"incr ttl set on creation only", testIncrTTLOnCreation},
		{"incr does not extend ttl", testIncrDoesNotExtendTTL},
		{"incr keeps no-expiry of existing key", testIncrKeepsNoExpiry},
		{"incr keeps ttl of existing key", testIncrKeepsTTL},
		{"concurrent incr", testConcurrentIncr},
		{"binary safe", testBinarySafe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // most of the time is spent sleeping
			tc.run(t, newCache(t))
		})
	}
}

// --- helpers ---

func get(t *testing.T, c Cache, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok && v != nil {
		t.Fatalf("Get(%q) = %q, false: want a nil value with false", key, v)
	}
	return v, ok
}

func set(t *testing.T, c Cache, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, value, ttl); err != nil {
		t.Fatalf("Set(%q, ttl %v): %v", key, ttl, err)
	}
}

func setNX(t *testing.T, c Cache, key string, value []byte, ttl time.Duration) bool {
	t.Helper()
	ok, err := c.SetNX(context.Background(), key, value, ttl)
	if err != nil {
		t.Fatalf("SetNX(%q): %v", key, err)
	}
	return ok
}

func incr(t *testing.T, c Cache, key string, delta int64, ttl time.Duration) int64 {
	t.Helper()
	n, err := c.Incr(context.Background(), key, delta, ttl)
	if err != nil {
		t.Fatalf("Incr(%q, %d): %v", key, delta, err)
	}
	return n
}

func del(t *testing.T, c Cache, keys ...string) {
	t.Helper()
	if err := c.Delete(context.Background(), keys...); err != nil {
		t.Fatalf("Delete(%q): %v", keys, err)
	}
}

func wantValue(t *testing.T, c Cache, key string, want []byte) {
	t.Helper()
	v, ok := get(t, c, key)
	if !ok {
		t.Fatalf("Get(%q): absent, want %q", key, want)
	}
	if !bytes.Equal(v, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, v, want)
	}
}

func wantAbsent(t *testing.T, c Cache, key string) {
	t.Helper()
	if v, ok := get(t, c, key); ok {
		t.Fatalf("Get(%q) = %q, want absent", key, v)
	}
}

// wantValueWithin checks that key holds want, unless more than ttl has
// passed since start, when the key may legitimately have expired.
func wantValueWithin(t *testing.T, c Cache, key string, want []byte, start time.Time, ttl time.Duration) {
	t.Helper()
	v, ok := get(t, c, key)
	if elapsed := time.Since(start); elapsed >= ttl {
		t.Skipf("machine too slow: %v passed, more than the ttl of %v", elapsed, ttl)
	}
	if !ok || !bytes.Equal(v, want) {
		t.Fatalf("Get(%q) = %q, %v before the ttl ran out; want %q", key, v, ok, want)
	}
}

// --- the suite ---

func testGetAbsent(t *testing.T, c Cache) {
	wantAbsent(t, c, "never-set")
}

func testSetGet(t *testing.T, c Cache) {
	tests := []struct {
		key   string
		value []byte
	}{
		{"small", []byte("hello")},
		{"empty", []byte{}},
		{"big", bytes.Repeat([]byte("0123456789abcdef"), 64<<10)}, // 1 MiB
	}
	for _, tc := range tests {
		set(t, c, tc.key, tc.value, 0)
	}
	for _, tc := range tests {
		v, ok := get(t, c, tc.key)
		if !ok {
			t.Fatalf("Get(%q): absent after Set", tc.key)
		}
		if !bytes.Equal(v, tc.value) {
			t.Errorf("Get(%q): got %d bytes, want %d bytes %.20q…", tc.key, len(v), len(tc.value), tc.value)
		}
	}
}

func testOverwrite(t *testing.T, c Cache) {
	set(t, c, "k", []byte("first, longer value"), 0)
	set(t, c, "k", []byte("second"), 0)
	wantValue(t, c, "k", []byte("second"))
}

func testSetCopies(t *testing.T, c Cache) {
	buf := []byte("abc")
	set(t, c, "k", buf, 0)
	buf[0] = 'X'
	wantValue(t, c, "k", []byte("abc"))
	ok := setNX(t, c, "nx", buf, 0)
	if !ok {
		t.Fatal("SetNX on an absent key: false")
	}
	buf[1] = 'Y'
	wantValue(t, c, "nx", []byte("Xbc"))
}

func testTTLExpiry(t *testing.T, c Cache) {
	start := time.Now()
	set(t, c, "k", []byte("v"), shortTTL)
	wantValueWithin(t, c, "k", []byte("v"), start, shortTTL)
	time.Sleep(pastShort)
	wantAbsent(t, c, "k")
}

func testNoExpiry(t *testing.T, c Cache) {
	for _, ttl := range []time.Duration{0, -1, -time.Second} {
		set(t, c, fmt.Sprint("k", ttl), []byte("v"), ttl)
	}
	time.Sleep(longEnough)
	for _, ttl := range []time.Duration{0, -1, -time.Second} {
		wantValue(t, c, fmt.Sprint("k", ttl), []byte("v"))
	}
}

func testOverwriteClearsTTL(t *testing.T, c Cache) {
	set(t, c, "k", []byte("v1"), shortTTL)
	set(t, c, "k", []byte("v2"), 0)
	time.Sleep(pastShort)
	wantValue(t, c, "k", []byte("v2"))
}

func testSetNX(t *testing.T, c Cache) {
	if !setNX(t, c, "k", []byte("first"), 0) {
		t.Fatal("SetNX on an absent key: false, want true")
	}
	if setNX(t, c, "k", []byte("second"), 0) {
		t.Fatal("SetNX on a present key: true, want false")
	}
	wantValue(t, c, "k", []byte("first"))

	set(t, c, "plain", []byte("set"), 0)
	if setNX(t, c, "plain", []byte("nx"), 0) {
		t.Fatal("SetNX on a key stored by Set: true, want false")
	}
	wantValue(t, c, "plain", []byte("set"))
}

func testSetNXAfterExpiry(t *testing.T, c Cache) {
	start := time.Now()
	if !setNX(t, c, "k", []byte("first"), shortTTL) {
		t.Fatal("SetNX on an absent key: false, want true")
	}
	stored := setNX(t, c, "k", []byte("second"), shortTTL)
	if time.Since(start) < shortTTL && stored {
		t.Fatal("SetNX before the first value expired: true, want false")
	}
	time.Sleep(pastShort)
	if !setNX(t, c, "k", []byte("third"), 0) {
		t.Fatal("SetNX after the value expired: false, want true")
	}
	wantValue(t, c, "k", []byte("third"))
}

func testDelete(t *testing.T, c Cache) {
	for _, k := range []string{"a", "b", "c", "d"} {
		set(t, c, k, []byte(k), 0)
	}
	tests := []struct {
		name    string
		delete  []string
		absent  []string
		present []string
	}{
		{"one", []string{"a"}, []string{"a"}, []string{"b", "c", "d"}},
		{"many with an absent one", []string{"b", "never-set", "c"}, []string{"a", "b", "c"}, []string{"d"}},
		{"absent only", []string{"never-set"}, []string{"a", "b", "c"}, []string{"d"}},
		{"none", nil, []string{"a", "b", "c"}, []string{"d"}},
		{"already deleted", []string{"a", "a"}, []string{"a", "b", "c"}, []string{"d"}},
	}
	for _, tc := range tests {
		del(t, c, tc.delete...)
		for _, k := range tc.absent {
			if _, ok := get(t, c, k); ok {
				t.Errorf("after deleting %s: %q present, want absent", tc.name, k)
			}
		}
		for _, k := range tc.present {
			if _, ok := get(t, c, k); !ok {
				t.Errorf("after deleting %s: %q absent, want present", tc.name, k)
			}
		}
	}
}

func testIncr(t *testing.T, c Cache) {
	steps := []struct {
		delta, want int64
	}{
		{1, 1}, // from absent
		{5, 6},
		{0, 6},
		{-10, -4},
		{4, 0},
	}
	for _, s := range steps {
		if got := incr(t, c, "n", s.delta, 0); got != s.want {
			t.Fatalf("Incr(n, %d) = %d, want %d", s.delta, got, s.want)
		}
	}
	// Counters are stored as decimal text, so Get and Set interoperate with Incr.
	incr(t, c, "n", -7, 0)
	wantValue(t, c, "n", []byte("-7"))
	set(t, c, "m", []byte("41"), 0)
	if got := incr(t, c, "m", 1, 0); got != 42 {
		t.Fatalf("Incr on Set(\"41\") = %d, want 42", got)
	}
	if got := incr(t, c, "neg", -3, 0); got != -3 {
		t.Fatalf("Incr(absent, -3) = %d, want -3", got)
	}
}

func testIncrErrors(t *testing.T, c Cache) {
	tests := []struct {
		name  string
		value string
		delta int64
	}{
		{"text", "abc", 1},
		{"empty", "", 1},
		{"leading zero", "007", 1},
		{"plus sign", "+5", 1},
		{"space", " 5", 1},
		{"minus zero", "-0", 1},
		{"float", "1.5", 1},
		{"binary", "\x00\x01", 1},
		{"overflow", strconv.FormatInt(math.MaxInt64, 10), 1},
		{"underflow", strconv.FormatInt(math.MinInt64, 10), -1},
		{"overflow by delta", "1", math.MaxInt64},
	}
	for _, tc := range tests {
		key := "k-" + tc.name
		set(t, c, key, []byte(tc.value), 0)
		if n, err := c.Incr(context.Background(), key, tc.delta, 0); err == nil {
			t.Errorf("%s: Incr on %q by %d = %d, want an error", tc.name, tc.value, tc.delta, n)
		}
		wantValue(t, c, key, []byte(tc.value)) // unchanged
	}
}

func testIncrTTLOnCreation(t *testing.T, c Cache) {
	if got := incr(t, c, "n", 3, shortTTL); got != 3 {
		t.Fatalf("Incr from absent = %d, want 3", got)
	}
	time.Sleep(pastShort)
	wantAbsent(t, c, "n")
	// It starts again from zero, with a new ttl.
	if got := incr(t, c, "n", 1, shortTTL); got != 1 {
		t.Fatalf("Incr after expiry = %d, want 1", got)
	}
	time.Sleep(pastShort)
	wantAbsent(t, c, "n")
}

func testIncrDoesNotExtendTTL(t *testing.T, c Cache) {
	const ttl = 300 * time.Millisecond
	before := time.Now()
	incr(t, c, "n", 1, ttl)
	created := time.Now() // the key expires at or before created+ttl
	time.Sleep(ttl / 2)
	got := incr(t, c, "n", 1, ttl)
	if time.Since(before) >= ttl {
		t.Skip("machine too slow: the first ttl ran out before the second Incr")
	}
	if got != 2 {
		t.Fatalf("second Incr = %d, want 2", got)
	}
	// Had the second Incr extended the ttl, the key would live until at
	// least before+ttl/2+ttl; check before that, after the first ttl.
	time.Sleep(time.Until(created.Add(ttl + ttl/4)))
	wantAbsent(t, c, "n")
}

func testIncrKeepsNoExpiry(t *testing.T, c Cache) {
	set(t, c, "n", []byte("5"), 0)
	if got := incr(t, c, "n", 1, shortTTL); got != 6 {
		t.Fatalf("Incr = %d, want 6", got)
	}
	time.Sleep(pastShort)
	wantValue(t, c, "n", []byte("6"))
}

func testIncrKeepsTTL(t *testing.T, c Cache) {
	start := time.Now()
	set(t, c, "n", []byte("5"), shortTTL)
	got := incr(t, c, "n", 1, 0)
	if time.Since(start) >= shortTTL {
		t.Skip("machine too slow: the ttl ran out before Incr")
	}
	if got != 6 {
		t.Fatalf("Incr = %d, want 6", got)
	}
	time.Sleep(pastShort)
	wantAbsent(t, c, "n")
}

func testConcurrentIncr(t *testing.T, c Cache) {
	const goroutines, perGoroutine = 20, 50
	results := make(chan int64, goroutines*perGoroutine)
	errs := make(chan error, goroutines*perGoroutine)
	var wg sync.WaitGroup
	var want int64
	for g := range goroutines {
		delta := int64(g + 1) // distinct deltas catch lost or doubled updates
		want += delta * perGoroutine
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perGoroutine {
				n, err := c.Incr(context.Background(), "n", delta, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				results <- n
			}
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatalf("Incr: %v", err)
	}
	// All deltas are positive, so every Incr must have seen a different total.
	seen := make(map[int64]bool)
	var highest int64
	for n := range results {
		if seen[n] {
			t.Fatalf("two Incr calls returned %d", n)
		}
		seen[n] = true
		highest = max(highest, n)
	}
	if len(seen) != goroutines*perGoroutine || highest != want {
		t.Fatalf("%d results, highest %d; want %d results, highest %d", len(seen), highest, goroutines*perGoroutine, want)
	}
	wantValue(t, c, "n", []byte(strconv.FormatInt(want, 10)))
}

func testBinarySafe(t *testing.T, c Cache) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		key   string
		value []byte
	}{
		{"nul", []byte{0}},
		{"nuls", []byte{0, 1, 0, 0}},
		{"every byte", all},
		{"not utf-8", []byte{0xff, 0xfe, 0xc3, 0x28, '\r', '\n'}},
		{"k\x00ey", []byte("key with a NUL")},
		{"k", []byte("prefix of the key with a NUL")},
		{"ключ 🔑", []byte("unicode key")},
		{"spaces and\r\nnewlines", []byte("v")},
	}
	for _, tc := range tests {
		set(t, c, tc.key, tc.value, 0)
	}
	for _, tc := range tests {
		wantValue(t, c, tc.key, tc.value)
	}
	del(t, c, "k\x00ey")
	wantAbsent(t, c, "k\x00ey")
	wantValue(t, c, "k", []byte("prefix of the key with a NUL"))
}

// --- Memory ---

func TestMemory(t *testing.T) {
	runSuite(t, func(t *testing.T) Cache {
		m := NewMemory(MemoryOptions{}, prometheus.NewRegistry())
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}

func TestMemoryLRU(t *testing.T) {
	tests := []struct {
		name    string
		ops     []string // "set k", "get k", "incr k", "setnx k", "del k"
		absent  []string
		present []string
	}{
		{
			name:    "untouched: first stored goes first",
			ops:     []string{"set a", "set b", "set c", "set d"},
			absent:  []string{"a"},
			present: []string{"b", "c", "d"},
		},
		{
			name:    "get makes recently used",
			ops:     []string{"set a", "set b", "set c", "get a", "set d"},
			absent:  []string{"b"},
			present: []string{"a", "c", "d"},
		},
		{
			name:    "overwrite makes recently used",
			ops:     []string{"set a", "set b", "set c", "set a", "set d", "set e"},
			absent:  []string{"b", "c"},
			present: []string{"a", "d", "e"},
		},
		{
			name:    "incr makes recently used",
			ops:     []string{"incr a", "set b", "set c", "incr a", "set d"},
			absent:  []string{"b"},
			present: []string{"a", "c", "d"},
		},
		{
			name:    "setnx counts as a store",
			ops:     []string{"setnx a", "set b", "set c", "setnx d"},
			absent:  []string{"a"},
			present: []string{"b", "c", "d"},
		},
		{
			name:    "delete makes room",
			ops:     []string{"set a", "set b", "set c", "del a", "set d"},
			absent:  []string{"a"},
			present: []string{"b", "c", "d"},
		},
		{
			name:    "get of an absent key changes nothing",
			ops:     []string{"set a", "set b", "set c", "get x", "set d"},
			absent:  []string{"a", "x"},
			present: []string{"b", "c", "d"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{MaxEntries: 3}, nil)
			for _, op := range tc.ops {
				verb, key, _ := strings.Cut(op, " ")
				switch verb {
				case "set":
					set(t, m, key, []byte(key), 0)
				case "setnx":
					setNX(t, m, key, []byte(key), 0)
				case "get":
					get(t, m, key)
				case "incr":
					incr(t, m, key, 1, 0)
				case "del":
					del(t, m, key)
				default:
					t.Fatalf("bad op %q", op)
				}
			}
			if n := m.Len(); n != 3 {
				t.Errorf("Len = %d, want 3", n)
			}
			// Absent first: a Get of a present key changes the order, but
			// nothing is stored any more.
			for _, k := range tc.absent {
				wantAbsent(t, m, k)
			}
			for _, k := range tc.present {
				if _, ok := get(t, m, k); !ok {
					t.Errorf("%q evicted, want present", k)
				}
			}
		})
	}
}

func TestMemoryBounded(t *testing.T) {
	tests := []struct {
		maxEntries, want int
	}{
		{1, 1},
		{1000, 1000},
		{5000, 5000},   // several shards
		{10001, 10001}, // a bound that does not divide among the shards
		{0, DefaultMaxEntries},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.maxEntries), func(t *testing.T) {
			m := NewMemory(MemoryOptions{MaxEntries: tc.maxEntries}, nil)
			total := 0
			for i := range m.shards {
				total += m.shards[i].limit
			}
			if total != tc.want {
				t.Fatalf("shard limits add up to %d, want %d", total, tc.want)
			}
			n := tc.want * 5
			for i := range n {
				set(t, m, strconv.Itoa(i), []byte("v"), 0)
				if i%1000 == 0 && m.Len() > tc.want {
					t.Fatalf("Len = %d after %d Sets, want at most %d", m.Len(), i+1, tc.want)
				}
			}
			// Every shard received far more keys than it holds, so all are full.
			if got := m.Len(); got != tc.want {
				t.Fatalf("Len = %d after %d Sets, want %d", got, n, tc.want)
			}
			wantValue(t, m, strconv.Itoa(n-1), []byte("v"))
			wantAbsent(t, m, "0")
		})
	}
}

func TestMemoryExpiredRemoved(t *testing.T) {
	m := NewMemory(MemoryOptions{}, nil)
	set(t, m, "short", []byte("v"), 50*time.Millisecond)
	set(t, m, "long", []byte("v"), 0)
	if n := m.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := m.Len(); n != 2 {
		t.Fatalf("Len = %d before the expired entry was looked up, want 2 (removal is lazy)", n)
	}
	wantAbsent(t, m, "short")
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d after looking up the expired entry, want 1", n)
	}
}

func TestMemorySetNXReplacesExpired(t *testing.T) {
	// An expired entry that has not been removed yet does not block SetNX.
	m := NewMemory(MemoryOptions{MaxEntries: 2}, nil)
	set(t, m, "a", []byte("old"), 50*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	if !setNX(t, m, "a", []byte("new"), 0) {
		t.Fatal("SetNX over an expired entry: false")
	}
	wantValue(t, m, "a", []byte("new"))
}

func TestMemoryClose(t *testing.T) {
	m := NewMemory(MemoryOptions{}, nil)
	set(t, m, "k", []byte("v"), 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len after Close = %d, want 0", n)
	}
	wantAbsent(t, m, "k")
}

func TestMemoryGetDoesNotAllocate(t *testing.T) {
	m := NewMemory(MemoryOptions{}, nil)
	set(t, m, "key", []byte("value"), time.Hour)
	set(t, m, "forever", []byte("value"), 0)
	ctx := context.Background()
	for _, key := range []string{"key", "forever", "absent"} {
		allocs := testing.AllocsPerRun(1000, func() {
			_, _, _ = m.Get(ctx, key)
		})
		if allocs != 0 {
			t.Errorf("Get(%q): %v allocations per call, want 0", key, allocs)
		}
	}
}

func TestMemoryMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMemory(MemoryOptions{}, reg)

	wantCounts := func(hits, misses int) {
		t.Helper()
		want := fmt.Sprintf(`
# HELP myelin_cache_hits_total Cache lookups that found a live value, by backend.
# TYPE myelin_cache_hits_total counter
myelin_cache_hits_total{backend="memory"} %d
# HELP myelin_cache_misses_total Cache lookups that found no value (absent or expired), by backend.
# TYPE myelin_cache_misses_total counter
myelin_cache_misses_total{backend="memory"} %d
`, hits, misses)
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "myelin_cache_hits_total", "myelin_cache_misses_total")
		if err != nil {
			t.Fatal(err)
		}
	}

	get(t, m, "a") // miss
	get(t, m, "b") // miss
	set(t, m, "a", []byte("v"), 0)
	set(t, m, "gone", []byte("v"), time.Millisecond)
	for range 3 {
		get(t, m, "a") // hit
	}
	// Neither writes nor counters count as lookups.
	incr(t, m, "n", 1, 0)
	setNX(t, m, "a", []byte("w"), 0)
	del(t, m, "a")
	wantCounts(3, 2)

	time.Sleep(20 * time.Millisecond)
	get(t, m, "gone") // expired: a miss
	wantCounts(3, 3)

	// A second cache on the same registry neither panics nor gets counters of
	// its own: the two count together.
	m2 := NewMemory(MemoryOptions{}, reg)
	set(t, m2, "x", []byte("v"), 0)
	get(t, m2, "x")
	get(t, m2, "y")
	wantCounts(4, 4)

	// A nil registry is allowed, and counts go nowhere visible.
	m3 := NewMemory(MemoryOptions{}, nil)
	get(t, m3, "x")
	wantCounts(4, 4)

	// The counter objects themselves agree.
	if got := testutil.ToFloat64(m.metrics.hits); got != 4 {
		t.Errorf("hits = %v, want 4", got)
	}
}

func TestMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "myelin_cache_hits_total",
		Help: "Something else entirely.",
	}))
	if _, err := newMetrics(reg, backendMemory); err == nil {
		t.Fatal("newMetrics with a conflicting collector registered: no error")
	}
	if _, err := NewRedis(context.Background(), "redis://127.0.0.1:1/0", "p:", reg); err == nil {
		t.Fatal("NewRedis with a conflicting collector registered: no error")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewMemory with a conflicting collector registered: no panic")
		}
	}()
	NewMemory(MemoryOptions{}, reg)
}

// --- Open and NewRedis without a server ---

func TestOpen(t *testing.T) {
	tests := []struct {
		url       string
		wantErr   bool
		notInErr  string // e.g. a password that must not leak into the message
		wantTypeM bool
	}{
		{url: "", wantTypeM: true},
		{url: "memory", wantTypeM: true},
		{url: "Memory", wantErr: true},
		{url: "redis", wantErr: true},
		{url: "ftp://cache.example", wantErr: true},
		{url: "postgres://user:s3cret@db/myelin", wantErr: true, notInErr: "s3cret"},
		{url: "redis://user:s3cret@[::1", wantErr: true, notInErr: "s3cret"},
		{url: "redis://127.0.0.1:6379/notanumber", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := Open(context.Background(), tc.url, "p:", prometheus.NewRegistry())
			if tc.wantErr {
				if err == nil {
					_ = c.Close()
					t.Fatalf("Open(%q): no error", tc.url)
				}
				if !strings.HasPrefix(err.Error(), "cache: ") {
					t.Errorf("error %q does not start with \"cache: \"", err)
				}
				if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
					t.Errorf("error %q reveals %q", err, tc.notInErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			t.Cleanup(func() { _ = c.Close() })
			if _, ok := c.(*Memory); !ok && tc.wantTypeM {
				t.Fatalf("Open(%q) = %T, want *Memory", tc.url, c)
			}
		})
	}
}

func TestNewRedisUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 (tcpmux) is not listening on any machine that runs these tests.
	r, err := NewRedis(ctx, "redis://127.0.0.1:1/0?dial_timeout=1s&max_retries=-1", "p:", nil)
	if err == nil {
		_ = r.Close()
		t.Fatal("NewRedis to a closed port: no error")
	}
	if !strings.HasPrefix(err.Error(), "cache: connecting to redis: ") {
		t.Errorf("error = %q, want it to start with \"cache: connecting to redis: \"", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("error %q wraps nothing", err)
	}
}

// --- Redis ---

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// testPrefix returns a prefix unique to this test and run, made only of
// characters that are not special in a SCAN MATCH pattern.
func testPrefix(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "myelin-test:" + unsafeKeyChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b[:]) + ":"
}

// newTestRedis connects to the test Redis with a fresh prefix and deletes
// every key under that prefix when the test ends.
func newTestRedis(t testing.TB, reg prometheus.Registerer) *Redis {
	t.Helper()
	url := testenv.RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := NewRedis(ctx, url, testPrefix(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys := redisKeys(t, r)
		if len(keys) > 0 {
			if err := r.client.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning up %d keys: %v", len(keys), err)
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// redisKeys returns the Redis keys, prefix included, under r's prefix.
func redisKeys(t testing.TB, r *Redis) []string {
	t.Helper()
	var keys []string
	iter := r.client.Scan(context.Background(), 0, r.prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return keys
}

func TestRedis(t *testing.T) {
	testenv.RedisURL(t) // skip (or, under CI, fail) once rather than in every subtest
	runSuite(t, func(t *testing.T) Cache {
		return newTestRedis(t, nil)
	})

	t.Run("prefix isolation", func(t *testing.T) {
		t.Parallel()
		a, b := newTestRedis(t, nil), newTestRedis(t, nil)
		if a.prefix == b.prefix {
			t.Fatalf("both caches have prefix %q", a.prefix)
		}
		set(t, a, "k", []byte("from a"), 0)
		wantAbsent(t, b, "k")
		set(t, b, "k", []byte("from b"), 0)
		wantValue(t, a, "k", []byte("from a"))
		wantValue(t, b, "k", []byte("from b"))

		incr(t, a, "n", 10, 0)
		if got := incr(t, b, "n", 1, 0); got != 1 {
			t.Fatalf("Incr in b after Incr in a = %d, want 1", got)
		}
		if !setNX(t, b, "only-a", []byte("b"), 0) {
			t.Fatal("SetNX in b of a key a does not have: false")
		}
		if !setNX(t, a, "only-a", []byte("a"), 0) {
			t.Fatal("SetNX in a of a key only b has: false")
		}

		del(t, a, "k")
		wantAbsent(t, a, "k")
		wantValue(t, b, "k", []byte("from b"))

		// The keys in Redis really carry the prefix.
		got, err := a.client.Get(context.Background(), a.prefix+"n").Result()
		if err != nil || got != "10" {
			t.Fatalf("raw GET %q = %q, %v; want \"10\"", a.prefix+"n", got, err)
		}
		if n := len(redisKeys(t, a)); n != 2 { // n, only-a
			t.Fatalf("%d keys under a's prefix, want 2", n)
		}
	})

	t.Run("ttl is in redis", func(t *testing.T) {
		t.Parallel()
		r := newTestRedis(t, nil)
		ctx := context.Background()
		set(t, r, "set", []byte("v"), time.Hour)
		incr(t, r, "incr", 1, time.Hour)
		setNX(t, r, "setnx", []byte("v"), time.Hour)
		set(t, r, "forever", []byte("v"), 0)
		incr(t, r, "forever-incr", 1, 0)
		incr(t, r, "forever-incr", 1, time.Hour) // not created here: no ttl
		for key, want := range map[string]bool{"set": true, "incr": true, "setnx": true, "forever": false, "forever-incr": false} {
			ttl, err := r.client.PTTL(ctx, r.prefix+key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if has := ttl > 59*time.Minute && ttl <= time.Hour; has != want {
				t.Errorf("PTTL %s = %v; want a ttl of about an hour: %v", key, ttl, want)
			}
		}
	})

	t.Run("open", func(t *testing.T) {
		t.Parallel()
		c, err := Open(context.Background(), testenv.RedisURL(t), testPrefix(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := c.(*Redis)
		if !ok {
			t.Fatalf("Open(redis URL) = %T, want *Redis", c)
		}
		defer func() {
			_ = r.client.Del(context.Background(), r.prefix+"k").Err()
			_ = r.Close()
		}()
		set(t, r, "k", []byte("v"), time.Minute)
		wantValue(t, r, "k", []byte("v"))
	})

	t.Run("metrics", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		r := newTestRedis(t, reg)
		r2 := newTestRedis(t, reg) // same backend, same registry: no panic
		m := NewMemory(MemoryOptions{}, reg)
		get(t, r, "a")
		set(t, r, "a", []byte("v"), 0)
		get(t, r, "a")
		get(t, r, "a")
		get(t, r2, "a") // r2 has another prefix: a miss
		get(t, m, "a")
		want := `
# HELP myelin_cache_hits_total Cache lookups that found a live value, by backend.
# TYPE myelin_cache_hits_total counter
myelin_cache_hits_total{backend="memory"} 0
myelin_cache_hits_total{backend="redis"} 2
# HELP myelin_cache_misses_total Cache lookups that found no value (absent or expired), by backend.
# TYPE myelin_cache_misses_total counter
myelin_cache_misses_total{backend="memory"} 1
myelin_cache_misses_total{backend="redis"} 2
`
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "myelin_cache_hits_total", "myelin_cache_misses_total")
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("errors are wrapped", func(t *testing.T) {
		t.Parallel()
		r := newTestRedis(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := r.Get(ctx, "k")
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "cache: ") {
			t.Fatalf("Get with a cancelled context: %v; want a cache: error wrapping context.Canceled", err)
		}
		set(t, r, "text", []byte("abc"), 0)
		if _, err := r.Incr(context.Background(), "text", 1, 0); err == nil || !strings.HasPrefix(err.Error(), "cache: ") {
			t.Fatalf("Incr of text: %v; want a cache: error", err)
		}
	})
}

func TestRedisTTL(t *testing.T) {
	tests := []struct{ in, want time.Duration }{
		{0, 0},
		{-1, 0},
		{-time.Hour, 0},
		{1, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{1500 * time.Microsecond, 2 * time.Millisecond},
		{time.Second, time.Second},
		{math.MaxInt64, math.MaxInt64},
	}
	for _, tc := range tests {
		if got := redisTTL(tc.in); got != tc.want {
			t.Errorf("redisTTL(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// --- benchmarks ---

func BenchmarkMemoryGet(b *testing.B) {
	m := NewMemory(MemoryOptions{}, prometheus.NewRegistry())
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "ratelimit:@user" + strconv.Itoa(i) + ":example.org"
		if err := m.Set(ctx, keys[i], []byte("small value"), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok, _ := m.Get(ctx, keys[i&1023]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

func BenchmarkMemoryGetParallel(b *testing.B) {
	m := NewMemory(MemoryOptions{}, prometheus.NewRegistry())
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "ratelimit:@user" + strconv.Itoa(i) + ":example.org"
		if err := m.Set(ctx, keys[i], []byte("small value"), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok, _ := m.Get(ctx, keys[i&1023]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkMemorySet(b *testing.B) {
	m := NewMemory(MemoryOptions{}, prometheus.NewRegistry())
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(i)
	}
	v := []byte("small value")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Set(ctx, keys[i&1023], v, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkMemoryIncr(b *testing.B) {
	m := NewMemory(MemoryOptions{}, prometheus.NewRegistry())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Incr(ctx, "counter", 1, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisGet(b *testing.B) {
	r := newTestRedis(b, nil)
	ctx := context.Background()
	if err := r.Set(ctx, "k", []byte("small value"), time.Minute); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := r.Get(ctx, "k"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
