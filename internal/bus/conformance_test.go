package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// runConformance runs the behaviour every Bus implementation must have.
// newBus returns a new bus, closed when the test ends; called again within the
// same test, it returns a new bus on the same storage (database, broker), as
// a restarted process would get.
func runConformance(t *testing.T, newBus func(t *testing.T) Bus) {
	t.Run("EveryMessageInOrderPerKey", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("order")
		c := newCollector()
		subscribe(t, b, topic, "g", c.handle)
		ks := keys(20)
		publishKeys(t, b, topic, ks, 50)
		got := c.waitN(t, 20*50)
		checkOrdered(t, topic, got, ks, 50)
	})

	t.Run("TwoGroupsEachGetEverything", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("groups")
		a, z := newCollector(), newCollector()
		subscribe(t, b, topic, "a", a.handle)
		subscribe(t, b, topic, "z", z.handle)
		ks := keys(5)
		publishKeys(t, b, topic, ks, 20)
		checkOrdered(t, topic, a.waitN(t, 100), ks, 20)
		checkOrdered(t, topic, z.waitN(t, 100), ks, 20)
	})

	t.Run("GroupSubscribersShareMessages", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("share")
		all, one, two := newCollector(), newCollector(), newCollector()
		subscribe(t, b, topic, "g", func(ctx context.Context, m *Message) error { one.add(*m); all.add(*m); return nil })
		subscribe(t, b, topic, "g", func(ctx context.Context, m *Message) error { two.add(*m); all.add(*m); return nil })
		ks := keys(20)
		publishKeys(t, b, topic, ks, 10)
		checkOrdered(t, topic, all.waitN(t, 200), ks, 10)
		got1, got2 := one.snapshot(), two.snapshot()
		if len(got1) == 0 || len(got2) == 0 {
			t.Fatalf("one subscriber got everything: %d and %d messages", len(got1), len(got2))
		}
		// Each key (partition) stays with one subscriber while the group does
		// not change.
		owner := map[string]int{}
		for i, got := range [][]Message{got1, got2} {
			for _, m := range got {
				if o, ok := owner[m.Key]; ok && o != i {
					t.Fatalf("key %s delivered to both subscribers", m.Key)
				}
				owner[m.Key] = i
			}
		}
	})

	t.Run("FailureRedeliversAndHoldsTheKey", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("retry")
		const stuck, other = "stuck", "other"
		if partitionOf(stuck, DefaultPartitions) == partitionOf(other, DefaultPartitions) {
			t.Fatal("test keys share a partition")
		}
		var (
			mu        sync.Mutex
			events    []string // "stuck/3 fail", "stuck/3 ok", …
			attempts  int
			ids       = map[string]bool{}
			otherDone = make(chan struct{})
			otherSeen int
		)
		c := newCollector()
		subscribe(t, b, topic, "g", func(ctx context.Context, m *Message) error {
			mu.Lock()
			defer mu.Unlock()
			k, i := parseBody(t, *m)
			if k == stuck && i == 3 {
				attempts++
				ids[m.ID] = true
				select {
				case <-otherDone:
				default:
					// Fail until the other key is done, and at least twice.
					events = append(events, "stuck/3 fail")
					return errors.New("not yet")
				}
				if attempts < 3 {
					events = append(events, "stuck/3 fail")
					return fmt.Errorf("attempt %d fails", attempts)
				}
			}
			events = append(events, string(m.Body)+" ok")
			if k == other {
				if otherSeen++; otherSeen == 10 {
					close(otherDone)
				}
			}
			c.add(*m)
			return nil
		})
		for i := 0; i < 10; i++ {
			for _, k := range []string{stuck, other} {
				if err := b.Publish(context.Background(), topic, k, body(k, i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := c.waitN(t, 20)
		checkOrdered(t, topic, got, []string{stuck, other}, 10)
		mu.Lock()
		defer mu.Unlock()
		if attempts < 3 || len(ids) != 1 {
			t.Fatalf("stuck/3: %d attempts with %d distinct IDs; want at least 3 with one ID", attempts, len(ids))
		}
		// Nothing after stuck/3 was handled before it succeeded.
		okAt := -1
		for i, e := range events {
			if e == "stuck/3 ok" {
				okAt = i
			}
		}
		for i, e := range events[:okAt] {
			for j := 4; j < 10; j++ {
				if e == "stuck/"+strconv.Itoa(j)+" ok" {
					t.Fatalf("event %d: %s handled before stuck/3 succeeded: %q", i, e, events)
				}
			}
		}
	})

	t.Run("BatchHandler", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("batch")
		ks := keys(4)
		// The handler holds its first batch until everything is published,
		// so that a bus that batches has messages waiting.
		published := make(chan struct{})
		var (
			mu       sync.Mutex
			failed   bool
			maxBatch int
		)
		c := newCollector()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		s, err := b.SubscribeBatch(ctx, topic, "g", func(ctx context.Context, msgs []*Message) error {
			select {
			case <-published:
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			if len(msgs) == 0 {
				return errors.New("empty batch")
			}
			maxBatch = max(maxBatch, len(msgs))
			for _, m := range msgs {
				if k, i := parseBody(t, *m); k == ks[1] && i == 7 && !failed {
					// The whole batch fails once: none of it may count.
					failed = true
					return errors.New("batch fails once")
				}
			}
			for _, m := range msgs {
				if m.Key == "" || m.Topic != topic {
					return fmt.Errorf("message %s without key or topic", m.ID)
				}
				c.add(*m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}()
		publishKeys(t, b, topic, ks, 30)
		close(published)
		// In order per key, each once: the failed batch was redelivered whole.
		checkOrdered(t, topic, c.waitN(t, 4*30), ks, 30)
		mu.Lock()
		defer mu.Unlock()
		if !failed {
			t.Fatal("the failing message never came")
		}
		t.Logf("largest batch: %d messages", maxBatch)
		if _, durable := b.(*Durable); durable && maxBatch < 2 {
			t.Fatalf("durable bus delivered batches of at most %d with 120 messages waiting", maxBatch)
		}
	})

	t.Run("TransactionalPublish", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		db := dbOf(b)
		topic := uniqueTopic("tx")
		c := newCollector()
		subscribe(t, b, topic, "g", c.handle)
		ctx := context.Background()
		rollback := errors.New("rollback")
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if err := b.Publish(ctx, topic, "k", []byte("rolled back"), nil); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("transaction: %v", err)
		}
		if err := db.WithTx(ctx, func(ctx context.Context) error {
			return b.Publish(ctx, topic, "k", []byte("committed"), map[string]string{"h": "v"})
		}); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, topic, "k", []byte("after"), nil); err != nil {
			t.Fatal(err)
		}
		// Same key, so anything published before "after" arrives before it.
		got := c.waitFor(t, `"after"`, func(got []Message) bool {
			return len(got) > 0 && string(got[len(got)-1].Body) == "after"
		})
		if len(got) != 2 || string(got[0].Body) != "committed" || got[0].Headers["h"] != "v" || got[1].Headers != nil {
			t.Fatalf("got %s, want committed, after", describe(got))
		}
	})

	t.Run("ResubscribeContinuesWhereTheGroupLeft", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		topic := uniqueTopic("resub")
		first := newCollector()
		s := subscribe(t, b, topic, "g", first.handle)
		publishKeys(t, b, topic, []string{"k"}, 3)
		first.waitN(t, 3)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for i := 3; i < 6; i++ {
			if err := b.Publish(context.Background(), topic, "k", body("k", i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		second := newCollector()
		subscribe(t, b, topic, "g", second.handle)
		got := second.waitN(t, 3)
		for i, m := range got {
			if _, n := parseBody(t, m); n != i+3 {
				t.Fatalf("after resubscribing got %s, want k/3..k/5", describe(got))
			}
		}
		if n := len(first.snapshot()); n != 3 {
			t.Fatalf("closed subscription got %d messages, want 3", n)
		}
	})

	t.Run("RestartLosesNothing", func(t *testing.T) {
		t.Parallel()
		b1 := newBus(t)
		db := dbOf(b1)
		topic := uniqueTopic("restart")
		acked := newCollector()
		blocked := make(chan struct{})
		var once sync.Once
		subscribe(t, b1, topic, "g", func(ctx context.Context, m *Message) error {
			if _, n := parseBody(t, *m); n < 5 {
				acked.add(*m)
				return nil
			}
			once.Do(func() { close(blocked) }) // message 5: the key waits behind it
			<-ctx.Done()                       // a slow consumer, interrupted by Close
			return ctx.Err()
		})
		publishKeys(t, b1, topic, []string{"k"}, 10)
		<-blocked
		// Committed while the consumer is stuck; maybe never relayed by b1.
		if err := db.WithTx(context.Background(), func(ctx context.Context) error {
			for i := 10; i < 13; i++ {
				if err := b1.Publish(ctx, topic, "k", body("k", i), map[string]string{"n": strconv.Itoa(i)}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		closeWithin(t, b1)
		if n := len(acked.snapshot()); n != 5 {
			t.Fatalf("acknowledged %d messages before the restart, want 5", n)
		}

		b2 := newBus(t)
		c := newCollector()
		subscribe(t, b2, topic, "g", c.handle)
		got := c.waitN(t, 8)
		// Acknowledged messages are not redelivered; the rest arrive in order.
		for i, m := range got {
			if _, n := parseBody(t, m); n != i+5 {
				t.Fatalf("after the restart got %s, want k/5..k/12", describe(got))
			}
		}
		if len(got) != 8 {
			t.Fatalf("after the restart got %d messages, want 8", len(got))
		}
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := newBus(t)
		ctx := context.Background()
		nop := func(context.Context, *Message) error { return nil }
		for _, topic := range []string{"", "a b", ".a", "a..b", "a/b", string(make([]byte, 200))} {
			if err := b.Publish(ctx, topic, "k", nil, nil); err == nil {
				t.Errorf("Publish accepted topic %q", topic)
			}
			if _, err := b.Subscribe(ctx, topic, "g", nop); err == nil {
				t.Errorf("Subscribe accepted topic %q", topic)
			}
		}
		topic := uniqueTopic("valid")
		for _, group := range []string{"", "a.b", "a b"} {
			if _, err := b.Subscribe(ctx, topic, group, nop); err == nil {
				t.Errorf("Subscribe accepted group %q", group)
			}
		}
		if _, err := b.Subscribe(ctx, topic, "g", nil); err == nil {
			t.Error("Subscribe accepted a nil handler")
		}
		if err := b.Publish(ctx, topic, "k", nil, map[string]string{"X-Myelin-Key": "v"}); err == nil {
			t.Error("Publish accepted a reserved header")
		}
		// An empty body and an empty key are fine.
		c := newCollector()
		subscribe(t, b, topic, "g", c.handle)
		if err := b.Publish(ctx, topic, "", nil, nil); err != nil {
			t.Fatal(err)
		}
		if got := c.waitN(t, 1); len(got[0].Body) != 0 || got[0].Key != "" {
			t.Fatalf("got %+v", got[0])
		}
		closeWithin(t, b)
		closeWithin(t, b) // Close is idempotent
		if err := b.Publish(ctx, topic, "k", nil, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after Close: %v", err)
		}
		if _, err := b.Subscribe(ctx, topic, "g", nop); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close: %v", err)
		}
	})
}
