package federationapi

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTxnMemory: a transaction runs once per key; a repeat, even while the
// first runs, gets its answer; a failure is not remembered; the oldest
// answers are forgotten beyond maxRememberedTxns.
func TestTxnMemory(t *testing.T) {
	var m txnMemory
	ctx := context.Background()
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(context.Context) (any, error) {
		runs.Add(1)
		<-release
		return "answer", ctx.Err()
	}
	var wg sync.WaitGroup
	answers := make([]any, 5)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _ = m.do(ctx, "a", fn)
		}()
	}
	close(release)
	wg.Wait()
	for _, a := range answers {
		if a != "answer" {
			t.Fatalf("answers %v", answers)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}

	failed := errors.New("failed")
	if _, err := m.do(ctx, "b", func(context.Context) (any, error) { return nil, failed }); !errors.Is(err, failed) {
		t.Fatalf("failure: %v", err)
	}
	if a, err := m.do(ctx, "b", func(context.Context) (any, error) { return "retried", nil }); err != nil || a != "retried" {
		t.Fatalf("after a failure: %v %v", a, err)
	}

	for i := range maxRememberedTxns {
		_, _ = m.do(ctx, "k"+strconv.Itoa(i), func(context.Context) (any, error) { return i, nil })
	}
	if a, _ := m.do(ctx, "a", func(context.Context) (any, error) { return "again", nil }); a != "again" {
		t.Fatalf("the oldest answer is still kept: %v", a)
	}
	if a, _ := m.do(ctx, "k999", func(context.Context) (any, error) { return "again", nil }); a != 999 {
		t.Fatalf("a recent answer is lost: %v", a)
	}
}
