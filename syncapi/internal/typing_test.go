package internal

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestTyping(t *testing.T) {
	changes := make(chan string, 16)
	ty := NewTyping(1000, func(roomID string) { changes <- roomID })
	const room, quiet = "!r:x", "!q:x"
	steps := []struct {
		name        string
		user        string
		typing      bool
		wantUsers   []string
		wantChanged bool // a change the room's members hear of
	}{
		{"alice starts", "@alice:x", true, []string{"@alice:x"}, true},
		{"alice again only renews", "@alice:x", true, []string{"@alice:x"}, false},
		{"bob starts", "@bob:x", true, []string{"@alice:x", "@bob:x"}, true},
		{"alice stops", "@alice:x", false, []string{"@bob:x"}, true},
		{"alice stops again", "@alice:x", false, []string{"@bob:x"}, false},
	}
	for _, st := range steps {
		before := ty.Pos()
		ty.Set(room, st.user, st.typing, time.Hour)
		users, changed := ty.Since(room, before)
		if !slices.Equal(users, st.wantUsers) || changed != st.wantChanged {
			t.Fatalf("%s: users %v changed %v, want %v %v", st.name, users, changed, st.wantUsers, st.wantChanged)
		}
		if st.wantChanged {
			if got := <-changes; got != room || ty.Pos() != before+1 {
				t.Fatalf("%s: told of %s at %d, want %s at %d", st.name, got, ty.Pos(), room, before+1)
			}
		} else if len(changes) > 0 || ty.Pos() != before {
			t.Fatalf("%s: a change was announced", st.name)
		}
	}
	if users, changed := ty.Since(quiet, -1); users != nil || changed {
		t.Fatalf("a room nobody typed in: %v %v", users, changed)
	}
	if _, changed := ty.Since(room, -1); !changed {
		t.Fatal("an initial sync does not see bob typing")
	}
}

// TestTypingExpires: typing ends by itself after the timeout, which is
// capped, and a renewal restarts the timer.
func TestTypingExpires(t *testing.T) {
	changes := make(chan string, 16)
	ty := NewTyping(0, func(roomID string) { changes <- roomID })
	ty.Set("!r:x", "@alice:x", true, 30*time.Millisecond)
	<-changes
	ty.Set("!r:x", "@alice:x", true, 30*time.Millisecond) // renewed: still one typer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case <-changes:
	case <-ctx.Done():
		t.Fatal("typing did not expire")
	}
	if users, _ := ty.Since("!r:x", 0); len(users) != 0 {
		t.Fatalf("still typing after expiry: %v", users)
	}
	asked := time.Now()
	ty.Set("!r:x", "@bob:x", true, 24*time.Hour)
	answered := time.Now()
	<-changes
	ty.mu.Lock()
	until := ty.rooms["!r:x"].users["@bob:x"].until
	ty.mu.Unlock()
	if until.Before(asked.Add(MaxTypingTimeout)) || until.After(answered.Add(MaxTypingTimeout)) {
		t.Fatalf("a day's typing lasts %s, want the cap %s", until.Sub(asked), MaxTypingTimeout)
	}
}
