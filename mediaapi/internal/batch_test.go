package internal

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// batch uploads contents as one batch for user.
func (e *env) batch(user string, contents [][]byte) error {
	ctx := context.Background()
	b, err := e.NewBatch(ctx, user)
	if err != nil {
		return err
	}
	defer b.Discard()
	for i, c := range contents {
		if err := b.Add(fmt.Sprintf("%d.bin", i), "application/octet-stream", bytes.NewReader(c)); err != nil {
			return err
		}
	}
	_, err = b.Commit(ctx)
	return err
}

// TestConcurrentBatches: batches sharing files in opposite orders and
// single uploads of the same files run at once (each batch takes the locks
// of its files' hashes together) without waiting on each other for ever,
// and each file is stored once.
func TestConcurrentBatches(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
	var contents [][]byte
	for i := range 20 {
		contents = append(contents, []byte(fmt.Sprintf("file %d", i)))
	}
	reversed := slices.Clone(contents)
	slices.Reverse(reversed)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 4 {
		wg.Add(3)
		go func() { defer wg.Done(); errs <- e.batch(alice, contents) }()
		go func() { defer wg.Done(); errs <- e.batch(bob, reversed) }()
		go func() {
			defer wg.Done()
			_, err := e.Upload(context.Background(), Upload{Uploader: alice, Body: bytes.NewReader(contents[i]), ContentLength: -1})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if stored, tmp := e.storedFiles(t); len(stored) != len(contents) || len(tmp) != 0 {
		t.Fatalf("%d files stored, temporary %v; want %d", len(stored), tmp, len(contents))
	}
}

// TestDiscardedBatch: a batch given up before its commit leaves no
// temporary file and no record.
func TestDiscardedBatch(t *testing.T) {
	e := newEnv(t, sqltest.Open(t, sqlutil.SQLite))
	b, err := e.NewBatch(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := b.Add("f", "", bytes.NewReader([]byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	if _, tmp := e.storedFiles(t); len(tmp) != 3 {
		t.Fatalf("temporary files %v while the batch arrives, want 3", tmp)
	}
	b.Discard()
	if stored, tmp := e.storedFiles(t); len(stored)+len(tmp) != 0 {
		t.Fatalf("a discarded batch left %v %v", stored, tmp)
	}
	if used, err := e.store.Usage(context.Background(), alice); err != nil || used != 0 {
		t.Fatalf("usage %d (%v) after a discarded batch", used, err)
	}
}
