package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxEntries is the bound of a [Memory] whose MemoryOptions.MaxEntries is 0.
const DefaultMaxEntries = 100000

// MemoryOptions configure a [Memory].
type MemoryOptions struct {
	// MaxEntries bounds the number of entries held; when the cache is full, a
	// new key evicts the least recently used one. 0 means DefaultMaxEntries.
	MaxEntries int
}

// Memory is an in-process [Cache]: a bounded map with least-recently-used
// eviction, safe for concurrent use. Expired entries are never returned; they
// are removed when next looked up or when eviction reaches them.
//
// The entries are spread over shards, each with its own lock and its own LRU
// list, so that concurrent callers seldom wait for each other. Eviction is
// therefore least recently used within a shard, which approximates the global
// order. A Memory whose MaxEntries is below 2048 has one shard and evicts in
// exact LRU order.
//
// Set copies the value it is given, but Get returns the stored slice itself,
// without copying: callers must not modify a slice that Get returned.
//
// The context arguments are unused: a Memory never blocks on anything but its
// own short critical sections.
type Memory struct {
	seed    maphash.Seed
	shards  []memShard
	mask    uint64
	epoch   time.Time // origin of entry.expires, read on the monotonic clock
	metrics metrics
}

// minShardEntries is the smallest share of MaxEntries that a shard gets when
// there is more than one.
const minShardEntries = 1024

// maxShards bounds the number of shards (a power of two).
const maxShards = 64

// memShard is one lock's worth of a Memory.
type memShard struct {
	mu    sync.Mutex
	items map[string]*memEntry
	// root is the sentinel of a circular list of the entries: root.next is
	// the most recently used entry, root.prev the least.
	root  memEntry
	limit int
	_     [64]byte // keep neighbouring shards' locks off one cache line
}

type memEntry struct {
	key        string
	value      []byte
	expires    int64 // time.Duration since Memory.epoch; 0 means never
	prev, next *memEntry
}

// NewMemory returns an empty Memory. Unless reg is nil, it registers the
// counters myelin_cache_hits_total and myelin_cache_misses_total on reg (with
// backend="memory"), or reuses them when reg already has them. It panics only
// if reg holds incompatible collectors under those names, a programming
// error.
func NewMemory(opts MemoryOptions, reg prometheus.Registerer) *Memory {
	maxEntries := opts.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	n := 1
	for n*2 <= maxShards && maxEntries/(n*2) >= minShardEntries {
		n *= 2
	}
	met, err := newMetrics(reg, backendMemory)
	if err != nil {
		panic(err)
	}
	m := &Memory{
		seed:    maphash.MakeSeed(),
		shards:  make([]memShard, n),
		mask:    uint64(n - 1),
		epoch:   time.Now(),
		metrics: met,
	}
	for i := range m.shards {
		s := &m.shards[i]
		// Share maxEntries out exactly, so the total never exceeds it.
		s.limit = maxEntries / n
		if i < maxEntries%n {
			s.limit++
		}
		s.reset()
	}
	return m
}

func (s *memShard) reset() {
	s.items = make(map[string]*memEntry)
	s.root.next = &s.root
	s.root.prev = &s.root
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&m.mask]
}

// now returns the current time as a duration since m.epoch, from the
// monotonic clock so that wall-clock steps do not move expiry.
func (m *Memory) now() int64 {
	return int64(time.Since(m.epoch))
}

// deadline returns the expires value for an entry stored now with ttl.
func (m *Memory) deadline(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	d := m.now() + int64(ttl)
	if d <= 0 { // overflow; and 0 would mean "never"
		return math.MaxInt64
	}
	return d
}

// Get returns the stored value, which the caller must not modify.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	s := m.shard(key)
	s.mu.Lock()
	e := s.live(m, key)
	if e == nil {
		s.mu.Unlock()
		m.metrics.misses.Inc()
		return nil, false, nil
	}
	s.moveToFront(e)
	v := e.value
	s.mu.Unlock()
	m.metrics.hits.Inc()
	return v, true, nil
}

// Set stores a copy of value under key.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	v := cloneBytes(value)
	expires := m.deadline(ttl)
	s := m.shard(key)
	s.mu.Lock()
	s.put(key, v, expires)
	s.mu.Unlock()
	return nil
}

// SetNX stores a copy of value under key unless the key holds a live value.
func (m *Memory) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	v := cloneBytes(value)
	expires := m.deadline(ttl)
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live(m, key) != nil {
		return false, nil
	}
	s.put(key, v, expires)
	return true, nil
}

// Delete removes keys.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	for _, key := range keys {
		s := m.shard(key)
		s.mu.Lock()
		if e, ok := s.items[key]; ok {
			s.remove(e)
		}
		s.mu.Unlock()
	}
	return nil
}

// Incr adds delta to the counter under key. As in Redis, the value must be
// the canonical decimal text of an int64 (no sign but '-', no leading zeros
// or spaces), and a result outside int64 is an error that leaves it unchanged.
// Incrementing an existing key keeps its expiry.
func (m *Memory) Incr(_ context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(m, key)
	if e == nil {
		s.put(key, strconv.AppendInt(nil, delta, 10), m.deadline(ttl))
		return delta, nil
	}
	n, ok := parseCounter(e.value)
	if !ok {
		return 0, fmt.Errorf("cache: incr %q: value is not an integer", key)
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, fmt.Errorf("cache: incr %q: increment would overflow", key)
	}
	n += delta
	// A new slice, not an update in place: earlier Gets may still hold the old one.
	e.value = strconv.AppendInt(make([]byte, 0, 20), n, 10)
	s.moveToFront(e)
	return n, nil
}

// Close drops all entries. The Memory stays usable, empty.
func (m *Memory) Close() error {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.reset()
		s.mu.Unlock()
	}
	return nil
}

// Len returns the number of entries held, counting expired ones that have not
// been removed yet. It is at most MaxEntries.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

// live returns the unexpired entry under key, removing an expired one.
// s.mu must be held.
func (s *memShard) live(m *Memory, key string) *memEntry {
	e, ok := s.items[key]
	if !ok {
		return nil
	}
	// Read the clock only for entries that can expire.
	if e.expires != 0 && m.now() >= e.expires {
		s.remove(e)
		return nil
	}
	return e
}

// put stores value under key as the most recently used entry, evicting the
// least recently used entry when the shard is full. s.mu must be held.
func (s *memShard) put(key string, value []byte, expires int64) {
	if e, ok := s.items[key]; ok {
		e.value = value
		e.expires = expires
		s.moveToFront(e)
		return
	}
	for len(s.items) >= s.limit && s.root.prev != &s.root {
		s.remove(s.root.prev)
	}
	e := &memEntry{key: key, value: value, expires: expires}
	s.items[key] = e
	s.pushFront(e)
}

func (s *memShard) remove(e *memEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	delete(s.items, e.key)
}

func (s *memShard) pushFront(e *memEntry) {
	e.prev = &s.root
	e.next = s.root.next
	s.root.next.prev = e
	s.root.next = e
}

func (s *memShard) moveToFront(e *memEntry) {
	if s.root.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	s.pushFront(e)
}

// cloneBytes copies b; the copy of an empty b is empty but not nil.
func cloneBytes(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// parseCounter parses b as Redis does for INCRBY: the canonical decimal form
// of an int64 only.
func parseCounter(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	if string(strconv.AppendInt(buf[:0], n, 10)) != string(b) {
		return 0, false
	}
	return n, true
}
