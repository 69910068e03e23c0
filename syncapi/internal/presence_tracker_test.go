package internal

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/myelin-im/myelin/syncapi/api"
)

// trackerRig is a tracker on a clock the test moves, recording its writes.
type trackerRig struct {
	now    time.Time
	writes []PresenceState
	fail   error
	t      *PresenceTracker
}

func newRig() *trackerRig {
	r := &trackerRig{now: time.Unix(1_700_000_000, 0)}
	r.t = NewPresenceTracker(func() time.Time { return r.now }, func(_ context.Context, _ string, st PresenceState) error {
		if r.fail != nil {
			return r.fail
		}
		r.writes = append(r.writes, st)
		return nil
	})
	return r
}

func (r *trackerRig) advance(d time.Duration) { r.now = r.now.Add(d) }

// last is the latest written state; it fails the test when none was.
func (r *trackerRig) last(t *testing.T) PresenceState {
	t.Helper()
	if len(r.writes) == 0 {
		t.Fatal("nothing written")
	}
	return r.writes[len(r.writes)-1]
}

func (r *trackerRig) sweep(t *testing.T) int {
	t.Helper()
	n, err := r.t.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// syncing starts a sync of alice's with set_presence set.
func (r *trackerRig) syncing(t *testing.T, set string) func() {
	t.Helper()
	done, err := r.t.Syncing(context.Background(), alice, set)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func wantState(t *testing.T, got PresenceState, presence string, active bool) {
	t.Helper()
	if got.Presence != presence || got.CurrentlyActive != active {
		t.Fatalf("state %s (currently_active %v), want %s (%v)", got.Presence, got.CurrentlyActive, presence, active)
	}
}

const alice = "@alice:x"

// TestTrackerSync: a sync brings an offline user online once; further
// syncs write nothing; "offline" neither marks nor keeps anyone online;
// "unavailable" marks idle and a later online sync undoes it.
func TestTrackerSync(t *testing.T) {
	r := newRig()
	r.syncing(t, "offline")()
	if len(r.writes) != 0 || r.t.Len() != 0 {
		t.Fatalf("set_presence=offline wrote %v / holds %d users", r.writes, r.t.Len())
	}
	done := r.syncing(t, "")
	wantState(t, r.last(t), api.PresenceOnline, true)
	done()
	for range 3 {
		r.advance(time.Second)
		r.syncing(t, "online")()
	}
	if len(r.writes) != 1 {
		t.Fatalf("%d writes for syncs of an online user, want 1", len(r.writes))
	}
	r.syncing(t, "unavailable")()
	wantState(t, r.last(t), api.PresenceUnavailable, false)
	r.syncing(t, "")()
	wantState(t, r.last(t), api.PresenceOnline, true)
	if len(r.writes) != 3 {
		t.Fatalf("%d writes, want 3", len(r.writes))
	}
}

// TestTrackerExplicitIdle: unavailable set explicitly (or by the idle
// timer) survives online syncs; activity brings the user back online.
func TestTrackerExplicitIdle(t *testing.T) {
	r := newRig()
	ctx := context.Background()
	msg := "in a meeting"
	if err := r.t.Set(ctx, alice, api.PresenceUnavailable, &msg); err != nil {
		t.Fatal(err)
	}
	got := r.last(t)
	wantState(t, got, api.PresenceUnavailable, false)
	if got.StatusMsg == nil || *got.StatusMsg != msg || !got.LastActive.Equal(r.now) {
		t.Fatalf("written %+v, want status %q active now", got, msg)
	}
	done := r.syncing(t, "")
	if len(r.writes) != 1 {
		t.Fatalf("an online sync changed an explicit unavailable: %+v", r.last(t))
	}
	r.advance(time.Second)
	if err := r.t.Active(ctx, alice, r.now); err != nil {
		t.Fatal(err)
	}
	wantState(t, r.last(t), api.PresenceOnline, true)
	done()
	// The same setting again is no visible change: nothing written.
	n := len(r.writes)
	if err := r.t.Set(ctx, alice, api.PresenceOnline, &msg); err != nil {
		t.Fatal(err)
	}
	if len(r.writes) != n {
		t.Fatalf("an unchanged setting wrote %+v", r.last(t))
	}
}

// TestTrackerTimers: while syncing, currently_active ends after ActiveFor
// and the user goes idle after IdleAfter; once no sync is in progress the
// user goes offline after OfflineAfter and is then forgotten.
func TestTrackerTimers(t *testing.T) {
	r := newRig()
	done := r.syncing(t, "")
	r.advance(ActiveFor - time.Second)
	if n := r.sweep(t); n != 0 {
		t.Fatalf("sweep wrote %d users before any timer ran out", n)
	}
	r.advance(2 * time.Second)
	if n := r.sweep(t); n != 1 {
		t.Fatalf("sweep wrote %d users when currently_active ended, want 1", n)
	}
	wantState(t, r.last(t), api.PresenceOnline, false)
	r.advance(IdleAfter)
	r.sweep(t)
	wantState(t, r.last(t), api.PresenceUnavailable, false)
	r.advance(time.Hour)
	if n := r.sweep(t); n != 0 {
		t.Fatalf("a user still syncing was written %d times (%+v)", n, r.last(t))
	}
	done()
	r.advance(OfflineAfter - time.Second)
	r.sweep(t)
	wantState(t, r.last(t), api.PresenceUnavailable, false)
	r.advance(2 * time.Second)
	r.sweep(t)
	wantState(t, r.last(t), api.PresenceOffline, false)
	if r.t.Len() != 1 {
		t.Fatalf("holds %d users right after going offline, want 1 (forgotten at the next sweep)", r.t.Len())
	}
	r.sweep(t)
	if r.t.Len() != 0 {
		t.Fatalf("holds %d users after an offline sweep, want 0", r.t.Len())
	}
}

// TestTrackerSetWithoutSync: a user who sets online and never syncs goes
// offline OfflineAfter after the setting (no event stream, spec: offline).
func TestTrackerSetWithoutSync(t *testing.T) {
	r := newRig()
	if err := r.t.Set(context.Background(), alice, api.PresenceOnline, nil); err != nil {
		t.Fatal(err)
	}
	r.advance(OfflineAfter)
	r.sweep(t)
	wantState(t, r.last(t), api.PresenceOnline, true)
	r.advance(time.Second)
	r.sweep(t)
	wantState(t, r.last(t), api.PresenceOffline, false)
}

// TestTrackerWriteFailure: a failed write is returned and retried by the
// next sweep; Load resumes stored users with OfflineAfter to reconnect.
func TestTrackerWriteFailure(t *testing.T) {
	r := newRig()
	r.fail = errors.New("disk full")
	if err := r.t.Set(context.Background(), alice, api.PresenceOnline, nil); err == nil {
		t.Fatal("a failed write was not reported")
	}
	r.fail = nil
	if n := r.sweep(t); n != 1 {
		t.Fatalf("sweep retried %d writes, want 1", n)
	}
	wantState(t, r.last(t), api.PresenceOnline, true)

	r2 := newRig()
	r2.t.Load(map[string]PresenceState{alice: {Presence: api.PresenceOnline, LastActive: r2.now.Add(-time.Hour)}})
	r2.sweep(t)
	wantState(t, r2.last(t), api.PresenceUnavailable, false)
	r2.advance(OfflineAfter + time.Second)
	r2.sweep(t)
	wantState(t, r2.last(t), api.PresenceOffline, false)
}

// BenchmarkPresenceSweep10k: one timer sweep over 10,000 local users
// syncing, with nothing to write (the steady state of a busy server).
func BenchmarkPresenceSweep10k(b *testing.B) {
	r := newRig()
	for i := range 10_000 {
		if _, err := r.t.Syncing(context.Background(), userN(i), ""); err != nil {
			b.Fatal(err)
		}
	}
	r.writes = nil
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if n, err := r.t.Sweep(ctx); err != nil || n != 0 {
			b.Fatalf("sweep wrote %d: %v", n, err)
		}
	}
}

func userN(i int) string { return fmt.Sprintf("@u%d:x", i) }
