package bus

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// groupKey names a consumer group of a topic.
type groupKey struct{ topic, group string }

// batchFn handles consecutive messages of a partition and says how many of
// them, from the first, it handled (acknowledged) before an error.
type batchFn func(ctx context.Context, msgs []*Message) (int, error)

// oneByOne adapts a Handler: messages are handled one at a time, up to the
// first failure.
func oneByOne(h Handler) batchFn {
	if h == nil {
		return nil
	}
	return func(ctx context.Context, msgs []*Message) (int, error) {
		for i, m := range msgs {
			if err := h(ctx, m); err != nil {
				return i, err
			}
		}
		return len(msgs), nil
	}
}

// allOrNothing adapts a BatchHandler.
func allOrNothing(h BatchHandler) batchFn {
	if h == nil {
		return nil
	}
	return func(ctx context.Context, msgs []*Message) (int, error) {
		if err := h(ctx, msgs); err != nil {
			return 0, err
		}
		return len(msgs), nil
	}
}

// subscriber is one Subscribe call's handler.
type subscriber struct {
	h      batchFn
	ctx    context.Context // handed to h; cancelled when the subscription or the bus closes
	cancel context.CancelFunc

	inflight sync.WaitGroup // handler calls under way
	closed   bool           // guarded by group.mu
}

// group is a consumer group of a topic in this process: its subscribers and
// the goroutines that deliver to them. The implementation starts the
// goroutines (registry.start) and closes done when they have all returned.
type group struct {
	key    groupKey
	ctx    context.Context // cancelled when the group stops
	cancel context.CancelFunc
	done   chan struct{}

	// wake has one channel per partition; Durable's relay signals it when it
	// appended messages to the partition.
	wake []chan struct{}

	mu   sync.Mutex
	subs []*subscriber

	stopping bool // guarded by registry.mu
}

// acquire returns the subscriber that handles partition part now, with its
// in-flight count raised (release it with done), or nil when the group has
// none left.
func (g *group) acquire(part int) *subscriber {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.subs) == 0 {
		return nil
	}
	s := g.subs[part%len(g.subs)]
	s.inflight.Add(1)
	return s
}

// call runs the subscriber's handler on copies of msgs, turning a panic into
// an error (for every message: they are all redelivered), and releases the
// subscriber. It returns how many messages, from the first, were handled.
func (s *subscriber) call(msgs []Message) (n int, err error) {
	defer s.inflight.Done()
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("bus: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	ptrs := make([]*Message, len(msgs))
	for i := range msgs {
		m := msgs[i]
		ptrs[i] = &m
	}
	return s.h(s.ctx, ptrs)
}

// registry tracks the groups of one bus.
type registry struct {
	root       context.Context // the bus's lifetime
	partitions int
	start      func(g *group) // starts g's goroutines; called with mu held, must not block

	mu     sync.Mutex
	closed bool
	groups map[groupKey]*group
}

func newRegistry(root context.Context, partitions int, start func(*group)) *registry {
	return &registry{root: root, partitions: partitions, start: start, groups: map[groupKey]*group{}}
}

// subscribe adds a subscriber with handler h to the group key, starting the
// group when it is new. When the group's last subscriber just left and it is
// still stopping, subscribe waits for it to stop first, so that two
// generations of a group never deliver at once.
func (r *registry) subscribe(ctx context.Context, key groupKey, h batchFn) (*subscription, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrClosed
		}
		g := r.groups[key]
		if g != nil && g.stopping {
			select {
			case <-g.done:
				delete(r.groups, key)
				g = nil
			default:
				done := g.done
				r.mu.Unlock()
				select {
				case <-done:
					continue
				case <-ctx.Done():
					return nil, fmt.Errorf("bus: waiting for the previous subscribers of %s/%s to stop: %w",
						key.topic, key.group, ctx.Err())
				}
			}
		}
		sctx, scancel := context.WithCancel(r.root)
		sub := &subscriber{h: h, ctx: sctx, cancel: scancel}
		if g == nil {
			gctx, gcancel := context.WithCancel(r.root)
			g = &group{key: key, ctx: gctx, cancel: gcancel, done: make(chan struct{}), wake: make([]chan struct{}, r.partitions)}
			for i := range g.wake {
				g.wake[i] = make(chan struct{}, 1)
			}
			g.subs = []*subscriber{sub}
			r.groups[key] = g
			r.start(g)
		} else {
			g.mu.Lock()
			g.subs = append(g.subs, sub)
			g.mu.Unlock()
		}
		r.mu.Unlock()
		return &subscription{r: r, g: g, s: sub}, nil
	}
}

// each calls fn for every running group of topic.
func (r *registry) each(topic string, fn func(*group)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, g := range r.groups {
		if k.topic == topic && !g.stopping {
			fn(g)
		}
	}
}

// keys returns the running groups.
func (r *registry) keys() []groupKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []groupKey
	for k, g := range r.groups {
		if !g.stopping {
			out = append(out, k)
		}
	}
	return out
}

// close marks the registry closed and waits for every group to stop. The
// caller cancels root first.
func (r *registry) close() {
	r.mu.Lock()
	r.closed = true
	var groups []*group
	for _, g := range r.groups {
		g.stopping = true
		g.cancel()
		groups = append(groups, g)
	}
	r.mu.Unlock()
	for _, g := range groups {
		<-g.done
	}
}

// subscription implements Subscription.
type subscription struct {
	r *registry
	g *group
	s *subscriber
}

func (s *subscription) Close() error {
	r, g := s.r, s.g
	r.mu.Lock()
	g.mu.Lock()
	if s.s.closed {
		g.mu.Unlock()
		r.mu.Unlock()
		return nil
	}
	s.s.closed = true
	for i, x := range g.subs {
		if x == s.s {
			g.subs = append(g.subs[:i:i], g.subs[i+1:]...)
			break
		}
	}
	last := len(g.subs) == 0
	g.mu.Unlock()
	if last {
		g.stopping = true
		g.cancel()
	}
	r.mu.Unlock()
	s.s.cancel()
	s.s.inflight.Wait()
	return nil
}
