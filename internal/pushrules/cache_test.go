package pushrules

import (
	"context"
	"errors"
	"testing"
)

// TestCache: a cached user is not reloaded, Invalidate forces a reload,
// a load racing with Invalidate is not kept, and errors are not cached.
func TestCache(t *testing.T) {
	ctx := context.Background()
	c := NewCache(2)
	loads := 0
	load := func(context.Context) (*Ruleset, error) { loads++; return Defaults(alice), nil }
	first, err := c.Get(ctx, alice, load)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Get(ctx, alice, load)
	if loads != 1 || again != first {
		t.Fatalf("cached user reloaded: %d loads", loads)
	}
	c.Invalidate(alice)
	if _, err := c.Get(ctx, alice, load); err != nil || loads != 2 {
		t.Fatalf("invalidated user not reloaded: %d loads, %v", loads, err)
	}
	racing := func(context.Context) (*Ruleset, error) { c.Invalidate(bob); loads++; return Defaults(bob), nil }
	if _, err := c.Get(ctx, bob, racing); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, bob, load); err != nil || loads != 4 {
		t.Fatalf("a load that raced with Invalidate was kept: %d loads", loads)
	}
	boom := errors.New("boom")
	if _, err := c.Get(ctx, "@c:d", func(context.Context) (*Ruleset, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("load error %v", err)
	}
	if _, err := c.Get(ctx, "@e:f", load); err != nil || len(c.entries) > 2 {
		t.Fatalf("cache grew past its bound: %d", len(c.entries))
	}
}
