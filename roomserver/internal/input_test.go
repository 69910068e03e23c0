package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/roomserver/api"
)

// remote builds events as another server would: signed with its own key,
// with prev_events and auth events chosen by the test.
type remote struct {
	t    *testing.T
	priv ed25519.PrivateKey
	ver  gomatrixserverlib.IRoomVersion
	room string
	now  time.Time
}

func (x *remote) event(
	sender, evType string,
	stateKey *string,
	content any,
	prev []string,
	depth int64,
	auth gomatrixserverlib.AuthEventProvider,
) gomatrixserverlib.PDU {
	x.t.Helper()
	c, _ := json.Marshal(content)
	proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: x.room, Type: evType, StateKey: stateKey,
		Content: c, PrevEvents: prev, Depth: depth}
	b := x.ver.NewEventBuilderFromProtoEvent(&proto)
	if err := b.AddAuthEvents(auth); err != nil {
		x.t.Fatal(err)
	}
	x.now = x.now.Add(time.Second)
	ev, err := b.Build(x.now, "remote.test", "ed25519:r", x.priv)
	if err != nil {
		x.t.Fatal(err)
	}
	return ev
}

// TestInputRemoteEvents feeds a room events from another server: a join,
// messages, a fork (two events on the same parent) resolved into one current
// state, a rejected event, a soft-failed one, missing parents, and a restart.
func TestInputRemoteEvents(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		outputs := recordOutputs(t, f)
		roomID, err := f.rs.CreateRoom(ctx, api.CreateRoomRequest{Creator: alice, Preset: PresetPublicChat})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := f.rs.loadRoom(ctx, roomID)
		head := func() ([]string, int64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return append([]string(nil), r.extremities...), r.depth
		}
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		x := &remote{t: t, priv: priv, ver: r.version, room: roomID, now: time.Now()}
		const rita, mallory = "@rita:remote.test", "@mallory:remote.test"
		input := func(ev gomatrixserverlib.PDU, want api.InputResult) {
			t.Helper()
			got, err := f.rs.InputEvent(ctx, ev)
			if err != nil || got != want {
				t.Fatalf("input %s (%s): %v %v, want %v", ev.EventID(), ev.Type(), got, err, want)
			}
		}

		servers := func() string {
			s, err := f.rs.JoinedServers(ctx, roomID)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(s)
			return fmt.Sprint(s)
		}
		if got := servers(); got != "[test.local]" {
			t.Fatalf("servers before rita joins: %s", got)
		}
		// Rita joins the public room.
		prev, depth := head()
		join := x.event(rita, spec.MRoomMember, strPtr(rita), map[string]string{"membership": "join"}, prev, depth+1, r)
		input(join, api.InputAccepted)
		if m, _ := f.rs.Membership(ctx, roomID, rita); m != spec.Join {
			t.Fatalf("rita's membership %q", m)
		}
		input(join, api.InputKnown)
		// Her server is in the room now (the cached list follows the join).
		if got := servers(); got != "[remote.test test.local]" {
			t.Fatalf("servers after rita joins: %s", got)
		}

		// A fork: alice and rita each send on the same parent.
		prev, depth = head()
		local := sendText(t, f.rs, roomID, alice, "hi")
		msg := x.event(rita, "m.room.message", nil, map[string]string{"body": "hello"}, prev, depth+1, r)
		input(msg, api.InputAccepted)
		if ext, _ := head(); len(ext) != 2 || ext[0] != local || ext[1] != msg.EventID() {
			t.Fatalf("extremities after the fork: %v", ext)
		}
		// The next local event joins both branches.
		merge := sendText(t, f.rs, roomID, alice, "merge")
		ev, _ := f.store.EventByID(ctx, merge)
		var body struct {
			PrevEvents []string `json:"prev_events"`
		}
		_ = json.Unmarshal(ev.JSON, &body)
		if len(body.PrevEvents) != 2 {
			t.Fatalf("merge prev_events %v", body.PrevEvents)
		}

		// A state conflict: give rita power to set the topic, then both set
		// it on the same parent; rita's is later, and state resolution
		// orders the two by time at the same power level, so hers stands.
		if _, err := f.rs.SendEvent(ctx, api.SendEventRequest{
			RoomID:   roomID,
			Sender:   alice,
			Type:     spec.MRoomPowerLevels,
			StateKey: strPtr(""),
			Content:  json.RawMessage(`{"users":{"` + rita + `":50},"events":{"m.room.topic":50}}`),
		}); err != nil {
			t.Fatal(err)
		}
		prev, depth = head()
		if _, err := f.rs.SendEvent(ctx, api.SendEventRequest{RoomID: roomID, Sender: alice, Type: "m.room.topic", StateKey: strPtr(""),
			Content: json.RawMessage(`{"topic":"A"}`)}); err != nil {
			t.Fatal(err)
		}
		topicB := x.event(rita, "m.room.topic", strPtr(""), map[string]string{"topic": "B"}, prev, depth+1, r)
		input(topicB, api.InputAccepted)
		topic, err := f.rs.StateEvent(ctx, roomID, "m.room.topic", "")
		if err != nil || topic.ID != topicB.EventID() {
			t.Fatalf("topic after the conflict: %v %v, want rita's", topic.ID, err)
		}

		// Rejected: mallory never joined.
		prev, depth = head()
		bad := x.event(mallory, "m.room.message", nil, map[string]string{"body": "spam"}, prev, depth+1, r)
		input(bad, api.InputRejected)

		// Soft-failed: built before rita's ban, arriving after it.
		prev, depth = head()
		late := x.event(rita, "m.room.message", nil, map[string]string{"body": "late"}, prev, depth+1, r)
		setMembership(t, f.rs, roomID, alice, rita, spec.Ban)
		if got := servers(); got != "[test.local]" {
			t.Fatalf("servers after rita's ban: %s", got)
		}
		extBefore, _ := head()
		input(late, api.InputSoftFailed)
		if ext, _ := head(); len(ext) != 1 || ext[0] != extBefore[0] {
			t.Fatalf("a soft-failed event moved the extremities: %v", ext)
		}

		// Missing parents.
		_, depth = head()
		orphan := x.event(rita, "m.room.message", nil, map[string]string{"body": "?"}, []string{"$unknown"}, depth+1, r)
		var me *api.MissingEventsError
		if _, err := f.rs.InputEvent(ctx, orphan); !errors.As(err, &me) || len(me.Prev) != 1 || me.Prev[0] != "$unknown" {
			t.Fatalf("missing prev: %v", err)
		}

		// Published: the accepted ones, not the rejected or soft-failed.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok := outputs.has(join.EventID()) && outputs.has(msg.EventID()) && outputs.has(topicB.EventID())
			leaked := outputs.has(bad.EventID()) || outputs.has(late.EventID())
			if leaked {
				t.Fatal("a rejected or soft-failed event was published")
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("accepted remote events not published")
			}
			time.Sleep(20 * time.Millisecond)
		}

		// Remote events say how they changed the current state: rita's
		// message in the fork changed nothing, her topic became current.
		if o := outputs.get(msg.EventID()); !o.Resolved || len(o.StateChanged) != 0 {
			t.Errorf("the forked message's output: resolved %v, changed %v", o.Resolved, o.StateChanged)
		}
		if o := outputs.get(topicB.EventID()); !o.Resolved || !slices.Contains(o.StateChanged, topicB.EventID()) {
			t.Errorf("the winning topic's output: resolved %v, changed %v", o.Resolved, o.StateChanged)
		}

		// A restart reads the same room: topic B, rita banned, one extremity.
		g := New(f.opts, f.store, f.bus, logrus.New())
		topic, err = g.StateEvent(ctx, roomID, "m.room.topic", "")
		if err != nil || topic.ID != topicB.EventID() {
			t.Fatalf("topic after a restart: %v %v", topic.ID, err)
		}
		if m, _ := g.Membership(ctx, roomID, rita); m != spec.Ban {
			t.Fatalf("rita after a restart: %q", m)
		}
		sendText(t, g, roomID, alice, "after")
	})
}
