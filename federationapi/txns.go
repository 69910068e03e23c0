package federationapi

import (
	"context"
	"sync"
)

// maxRememberedTxns bounds the transactions whose answers are kept.
const maxRememberedTxns = 1000

// txnMemory runs each inbound transaction once (spec: a transaction ID is
// unique per origin; a repeat gets the first answer). Answers are kept for
// the newest maxRememberedTxns transactions; a repeat older than that is run
// again, which is harmless: events already stored are answered as known.
type txnMemory struct {
	mu    sync.Mutex
	byKey map[string]*txnEntry
	order []string
}

type txnEntry struct {
	done chan struct{}
	resp any
	err  error
}

// do returns the answer of the transaction key, running fn if it is new;
// a concurrent repeat waits for the first.
func (t *txnMemory) do(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	t.mu.Lock()
	if t.byKey == nil {
		t.byKey = map[string]*txnEntry{}
	}
	if e, ok := t.byKey[key]; ok {
		t.mu.Unlock()
		select {
		case <-e.done:
			return e.resp, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &txnEntry{done: make(chan struct{})}
	t.byKey[key] = e
	t.order = append(t.order, key)
	if len(t.order) > maxRememberedTxns {
		delete(t.byKey, t.order[0])
		t.order = t.order[1:]
	}
	t.mu.Unlock()
	// The transaction is processed to the end even if the sender gives up.
	e.resp, e.err = fn(context.WithoutCancel(ctx))
	if e.err != nil {
		t.mu.Lock()
		if t.byKey[key] == e {
			delete(t.byKey, key) // a failure is not remembered: retry runs again
		}
		t.mu.Unlock()
	}
	close(e.done)
	return e.resp, e.err
}
