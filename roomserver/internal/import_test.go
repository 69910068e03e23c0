package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// TestImportRoom joins a room of another server the way the federation
// component does (make_join and send_join there, ImportRoom here): a join
// the room's state refuses leaves nothing behind; an accepted one brings
// the room's state whole, on the output log before the join and each event
// once; a second local user's join is an ordinary event; a rejoin after
// both left replaces the state and bridges the events missed.
func TestImportRoom(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		home := newFixture(t, db)
		here := newFixtureOf(t, sqltest.Open(t, db.Dialect()), "other.test")
		out := collectOutput(t, here.bus)
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		const bob, carol, mallory = "@bob:other.test", "@carol:other.test", "@mallory:other.test"

		name := "Garden"
		roomID, err := home.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat, Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		setMembership(t, home.rs, roomID, alice, mallory, spec.Ban)
		ver, err := home.rs.RoomVersion(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}

		// Mallory is banned: her join fails on the state, and the room is
		// not half there (the next import stores it again).
		state, chain := currentStateAndChain(t, home, roomID)
		banned := bannedJoin(t, home, roomID, mallory, key)
		err = here.rs.ImportRoom(ctx, ver, state, chain, nil, banned)
		forbidden(t, err)
		if _, err := here.rs.loadRoom(ctx, roomID); !errors.Is(err, api.ErrRoomNotFound) {
			t.Fatalf("after a refused import: %v, want ErrRoomNotFound", err)
		}

		// Bob's join brings the room.
		join, state := joinVia(t, home, here, roomID, bob, key, nil)
		checkSameState(t, here, home, roomID)
		checkHead(t, here, roomID, join)
		if m, _ := here.rs.Membership(ctx, roomID, bob); m != spec.Join {
			t.Fatalf("bob's membership %q", m)
		}
		if m, _ := here.rs.Membership(ctx, roomID, mallory); m != spec.Ban {
			t.Fatalf("mallory's membership %q", m)
		}
		// The state, oldest first, as outliers, then the join.
		logged := out.wait(t, len(state)+1)
		checkImportLog(t, logged, state, nil, join)

		// Carol joins too: this server is in the room, so her join is an
		// ordinary event, not a second import.
		join2, _ := joinVia(t, home, here, roomID, carol, key, nil)
		checkHead(t, here, roomID, join2)
		logged = out.wait(t, len(logged)+1)
		if last := logged[len(logged)-1]; last.EventID != join2.EventID() || last.Outlier || !last.Resolved {
			t.Fatalf("carol's join on the log as %+v, want a resolved timeline event", last)
		}

		// Both leave; the room goes on without this server; bob rejoins, and
		// the message he missed bridges the old timeline and his join.
		for _, u := range []string{bob, carol} {
			leaveThroughHere(t, here, home, ver, roomID, u)
		}
		logged = out.wait(t, len(logged)+2)
		msgID := sendText(t, home.rs, roomID, alice, "missed")
		missed, err := home.rs.RoomEvents(ctx, roomID, []string{msgID})
		if err != nil || len(missed) != 1 {
			t.Fatalf("reading the missed message: %v %v", missed, err)
		}
		rejoin, state := joinVia(t, home, here, roomID, bob, key, missed)
		checkSameState(t, here, home, roomID)
		checkHead(t, here, roomID, rejoin)
		if m, _ := here.rs.Membership(ctx, roomID, carol); m != spec.Leave {
			t.Fatalf("carol's membership after bob's rejoin %q", m)
		}
		all := out.wait(t, len(logged)+len(state)+2)
		checkImportLog(t, all[len(logged):], state, missed, rejoin)
	})
}

// joinVia has user of here join roomID through home, as the federation
// component does: make_join and send_join there, ImportRoom here with gap
// as the events between here's old timeline and the join. It returns the
// join and the state send_join gave.
func joinVia(
	t *testing.T,
	home, here *fixture,
	roomID, user string,
	key ed25519.PrivateKey,
	gap []gomatrixserverlib.PDU,
) (gomatrixserverlib.PDU, []gomatrixserverlib.PDU) {
	t.Helper()
	ctx := context.Background()
	ver, err := home.rs.RoomVersion(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	join := joinThrough(t, home, roomID, user, key)
	state, chain, err := home.rs.SendJoin(ctx, join)
	if err != nil {
		t.Fatalf("send_join of %s: %v", user, err)
	}
	if err := here.rs.ImportRoom(ctx, ver, state, chain, gap, join); err != nil {
		t.Fatalf("importing the join of %s: %v", user, err)
	}
	return join, state
}

// checkSameState checks that here has home's current state of the room.
func checkSameState(t *testing.T, here, home *fixture, roomID string) {
	t.Helper()
	if got, want := stateIDs(t, here, roomID), stateIDs(t, home, roomID); !slices.Equal(got, want) {
		t.Fatalf("state %v, want the home server's %v", got, want)
	}
}

// checkHead checks that ev is the room's only forward extremity.
func checkHead(t *testing.T, f *fixture, roomID string, ev gomatrixserverlib.PDU) {
	t.Helper()
	if ids, err := f.rs.LatestEventIDs(context.Background(), roomID); err != nil || !slices.Equal(ids, []string{ev.EventID()}) {
		t.Fatalf("extremities %v, %v; want %s", ids, err, ev.EventID())
	}
}

// leaveThroughHere has a user of here leave, and home take in the leave as
// the federation component would deliver it.
func leaveThroughHere(t *testing.T, here, home *fixture, ver gomatrixserverlib.IRoomVersion, roomID, user string) {
	t.Helper()
	ctx := context.Background()
	id, err := here.rs.PerformMembership(ctx, api.MembershipRequest{RoomID: roomID, Sender: user, Target: user, Membership: spec.Leave})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := here.rs.Event(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pdu, err := ver.NewEventFromTrustedJSON(ev.PDU, false)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := home.rs.InputEvent(ctx, pdu); err != nil || res != api.InputAccepted {
		t.Fatalf("the home server took %s's leave: %v %v", user, res, err)
	}
}

// checkImportLog checks an import's output log: each state event once, as
// an outlier, in depth order, then the gap's events and the join in the
// timeline.
func checkImportLog(t *testing.T, logged []api.OutputEvent, state, gap []gomatrixserverlib.PDU, join gomatrixserverlib.PDU) {
	t.Helper()
	if len(logged) != len(state)+len(gap)+1 {
		t.Fatalf("%d output events, want %d state events, %d of the gap and the join", len(logged), len(state), len(gap))
	}
	depths := map[string]int64{}
	for _, p := range state {
		depths[p.EventID()] = p.Depth()
	}
	var prev int64
	for i, oe := range logged[:len(state)] {
		d, ok := depths[oe.EventID]
		if !ok || !oe.Outlier || d < prev {
			t.Fatalf("output %d: %s (outlier %v, depth %d after %d), want the next state event", i, oe.EventID, oe.Outlier, d, prev)
		}
		delete(depths, oe.EventID)
		prev = d
	}
	for i, p := range append(slices.Clone(gap), join) {
		if oe := logged[len(state)+i]; oe.EventID != p.EventID() || oe.Outlier {
			t.Fatalf("output %d: %s (outlier %v), want %s in the timeline", len(state)+i, oe.EventID, oe.Outlier, p.EventID())
		}
	}
	if last := logged[len(logged)-1]; !last.Delivered {
		t.Fatalf("the join on the log as %+v, want it delivered already", last)
	}
}

// joinThrough is user's join of roomID as their server makes it: the
// template from make_join, signed with key.
func joinThrough(t *testing.T, home *fixture, roomID, user string, key ed25519.PrivateKey) gomatrixserverlib.PDU {
	t.Helper()
	ver, proto, err := home.rs.MakeJoin(context.Background(), roomID, user)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ver.NewEventBuilderFromProtoEvent(proto).Build(time.Now(), "other.test", "ed25519:o", key)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// bannedJoin is a join of a user the room's state refuses (make_join would
// not give a template), built on the room's head.
func bannedJoin(t *testing.T, home *fixture, roomID, user string, key ed25519.PrivateKey) gomatrixserverlib.PDU {
	t.Helper()
	r, err := home.rs.loadRoom(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	x := &remote{t: t, priv: key, ver: r.version, room: roomID, now: time.Now()}
	return x.event(user, spec.MRoomMember, &user, map[string]string{"membership": spec.Join}, r.extremities, r.depth+1, r)
}

// currentStateAndChain are the room's current state events and their auth
// chain, as send_join would give them.
func currentStateAndChain(t *testing.T, home *fixture, roomID string) (state, chain []gomatrixserverlib.PDU) {
	t.Helper()
	ctx := context.Background()
	r, err := home.rs.loadRoom(ctx, roomID)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.state {
		state = append(state, e.pdu)
	}
	chain, _, err = home.rs.authChain(ctx, r, [][]gomatrixserverlib.PDU{state})
	if err != nil {
		t.Fatal(err)
	}
	return state, chain
}

// stateIDs are the IDs of the room's current state events, sorted.
func stateIDs(t *testing.T, f *fixture, roomID string) []string {
	t.Helper()
	evs, err := f.rs.CurrentState(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

// outputLog gathers what a roomserver puts on its output log.
type outputLog struct {
	mu  sync.Mutex
	out []api.OutputEvent
}

func collectOutput(t *testing.T, b bus.Bus) *outputLog {
	t.Helper()
	l := &outputLog{}
	if _, err := b.Subscribe(context.Background(), api.OutputTopic, "test", func(_ context.Context, m *bus.Message) error {
		var oe api.OutputEvent
		if err := json.Unmarshal(m.Body, &oe); err != nil {
			return err
		}
		l.mu.Lock()
		l.out = append(l.out, oe)
		l.mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// wait returns the log once it has n entries, and fails the test if more
// come within a moment (or fewer within ten seconds).
func (l *outputLog) wait(t *testing.T, n int) []api.OutputEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		got := slices.Clone(l.out)
		l.mu.Unlock()
		if len(got) > n || (len(got) < n && time.Now().After(deadline)) {
			t.Fatalf("%d output events, want %d", len(got), n)
		}
		if len(got) == n {
			time.Sleep(200 * time.Millisecond)
			l.mu.Lock()
			late := len(l.out)
			l.mu.Unlock()
			if late != n {
				t.Fatalf("%d output events, want %d", late, n)
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}
