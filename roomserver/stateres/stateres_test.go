package stateres

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

const (
	creator = "@creator:a.test"
	alice   = "@alice:a.test"
	bob     = "@bob:b.test"
	charlie = "@charlie:c.test"
	eve     = "@eve:c.test"
)

// dag builds signed room version 12 events with the auth events the test
// names, one second apart.
type dag struct {
	t      testing.TB
	priv   ed25519.PrivateKey
	room   string
	now    time.Time
	create gomatrixserverlib.PDU
	names  map[string]string // event ID -> test name
}

func newDAG(t testing.TB) *dag {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	d := &dag{t: t, priv: ed25519.NewKeyFromSeed(seed), now: time.UnixMilli(1_700_000_000_000), names: map[string]string{}}
	d.create = d.event("create", creator, spec.MRoomCreate, "", map[string]any{"room_version": "12"})
	d.room = "!" + d.create.EventID()[1:]
	return d
}

// event builds a state event; auth are its auth events (the create event
// is implied in room version 12).
func (d *dag) event(name, sender, evType, stateKey string, content any, auth ...gomatrixserverlib.PDU) gomatrixserverlib.PDU {
	d.t.Helper()
	c, err := json.Marshal(content)
	if err != nil {
		d.t.Fatal(err)
	}
	authIDs := []string{}
	for _, a := range auth {
		authIDs = append(authIDs, a.EventID())
	}
	prev := []string{}
	if d.create != nil {
		prev = []string{d.create.EventID()}
	}
	proto := gomatrixserverlib.ProtoEvent{SenderID: sender, RoomID: d.room, Type: evType, StateKey: &stateKey,
		Content: c, PrevEvents: prev, AuthEvents: authIDs, Depth: int64(len(d.names) + 1)}
	ver := gomatrixserverlib.MustGetRoomVersion(gomatrixserverlib.RoomVersionV12)
	d.now = d.now.Add(time.Second)
	ev, err := ver.NewEventBuilderFromProtoEvent(&proto).Build(d.now, "a.test", "ed25519:k", d.priv)
	if err != nil {
		d.t.Fatalf("building %s: %v", name, err)
	}
	d.names[ev.EventID()] = name
	return ev
}

func member(m string) map[string]any { return map[string]any{"membership": m} }

func allowed(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) error {
	return gomatrixserverlib.Allowed(ev, auth, func(_ spec.RoomID, s spec.SenderID) (*spec.UserID, error) {
		return spec.NewUserID(string(s), true)
	})
}

// describe prints a resolved state as "type|state_key=name", sorted.
func (d *dag) describe(state []gomatrixserverlib.PDU) string {
	var out []string
	for _, p := range state {
		out = append(out, fmt.Sprintf("%s|%s=%s", p.Type(), *p.StateKey(), d.names[p.EventID()]))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// scenario is a fork: state sets, the events of their auth chains, and
// the resolved state expected.
type scenario struct {
	name   string
	sets   [][]gomatrixserverlib.PDU
	chain  []gomatrixserverlib.PDU
	reject map[string]bool
	want   map[string]string // "type|state_key" -> event name; absent keys must be absent
}

func TestResolveV21(t *testing.T) {
	for _, build := range []func(t *testing.T) (*dag, scenario){
		simpleConflict, powerDecidesConflict, startsFromEmptySet, includesConflictedSubgraph,
		keyMissingFromOneSetIsConflicted, rejectedAuthEventNotUsed,
	} {
		d, sc := build(t)
		t.Run(sc.name, func(t *testing.T) {
			got, err := ResolveV21(Input{StateSets: sc.sets, AuthEvents: sc.chain, Allowed: allowed,
				Rejected: func(id string) bool { return sc.reject[id] }})
			if err != nil {
				t.Fatal(err)
			}
			byKey := map[string]string{}
			for _, p := range got {
				byKey[p.Type()+"|"+*p.StateKey()] = d.names[p.EventID()]
			}
			if len(byKey) != len(got) {
				t.Fatalf("two events for one key: %s", d.describe(got))
			}
			for k, want := range sc.want {
				if byKey[k] != want {
					t.Errorf("%s: got %q, want %q (state: %s)", k, byKey[k], want, d.describe(got))
				}
			}
			for k := range byKey {
				if _, ok := sc.want[k]; !ok {
					t.Errorf("unexpected %s=%s", k, byKey[k])
				}
			}
		})
	}
}

// base is a room: the creator's join, power levels giving alice 100 and
// letting 50 change power levels, a public join rule, and alice and bob
// joined.
type base struct {
	d                  *dag
	cj, pl, jr, aj, bj gomatrixserverlib.PDU
	common             []gomatrixserverlib.PDU
	wantCommon         map[string]string
	levels             map[string]any
}

func newBase(t testing.TB) *base {
	d := newDAG(t)
	b := &base{d: d}
	b.cj = d.event("creator-join", creator, spec.MRoomMember, creator, member(spec.Join))
	b.levels = map[string]any{"users": map[string]int{alice: 100}, "events": map[string]int{spec.MRoomPowerLevels: 50, spec.MRoomTopic: 50}}
	b.pl = d.event("pl", creator, spec.MRoomPowerLevels, "", b.levels, b.cj)
	b.jr = d.event("jr-public", creator, spec.MRoomJoinRules, "", map[string]any{"join_rule": "public"}, b.cj, b.pl)
	b.aj = d.event("alice-join", alice, spec.MRoomMember, alice, member(spec.Join), b.pl, b.jr)
	b.bj = d.event("bob-join", bob, spec.MRoomMember, bob, member(spec.Join), b.pl, b.jr)
	b.common = []gomatrixserverlib.PDU{d.create, b.cj, b.pl, b.jr, b.aj, b.bj}
	b.wantCommon = map[string]string{
		"m.room.create|": "create", "m.room.member|" + creator: "creator-join", "m.room.power_levels|": "pl",
		"m.room.join_rules|": "jr-public", "m.room.member|" + alice: "alice-join", "m.room.member|" + bob: "bob-join",
	}
	return b
}

func (b *base) with(events ...gomatrixserverlib.PDU) []gomatrixserverlib.PDU {
	out := []gomatrixserverlib.PDU{}
	replaced := map[string]bool{}
	for _, e := range events {
		replaced[e.Type()+"|"+*e.StateKey()] = true
	}
	for _, c := range b.common {
		if !replaced[c.Type()+"|"+*c.StateKey()] {
			out = append(out, c)
		}
	}
	return append(out, events...)
}

func (b *base) want(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range b.wantCommon {
		out[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// simpleConflict: alice and the creator set the topic on two forks; both
// pass, and at the same mainline position the later one wins.
func simpleConflict(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	t1 := b.d.event("topic-creator", creator, spec.MRoomTopic, "", map[string]string{"topic": "one"}, b.pl, b.cj)
	t2 := b.d.event("topic-alice", alice, spec.MRoomTopic, "", map[string]string{"topic": "two"}, b.pl, b.aj)
	return b.d, scenario{
		name:  "simple two-sided conflict: the later topic wins",
		sets:  [][]gomatrixserverlib.PDU{b.with(t1), b.with(t2)},
		chain: b.common,
		want:  b.want(map[string]string{"m.room.topic|": "topic-alice"}),
	}
}

// powerDecidesConflict: on one fork alice demotes bob (to whom she gave
// 50 first), on the other bob sets the topic with his 50. The power events
// go first, so bob's topic is checked against the demotion and dropped.
func powerDecidesConflict(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	pl2 := b.d.event("pl-bob-50", alice, spec.MRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100, bob: 50}, "events": map[string]int{spec.MRoomPowerLevels: 50, spec.MRoomTopic: 50}}, b.pl, b.aj)
	pl3 := b.d.event("pl-bob-0", alice, spec.MRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100}, "events": map[string]int{spec.MRoomPowerLevels: 50, spec.MRoomTopic: 50}}, pl2, b.aj)
	topic := b.d.event("topic-bob", bob, spec.MRoomTopic, "", map[string]string{"topic": "bob's"}, pl2, b.bj)
	return b.d, scenario{
		name:  "power ordering: a demotion beats the demoted user's topic",
		sets:  [][]gomatrixserverlib.PDU{b.with(pl3), b.with(pl2, topic)},
		chain: append(b.with(), pl2),
		want:  b.want(map[string]string{"m.room.power_levels|": "pl-bob-0"}),
	}
}

// startsFromEmptySet is Complement's
// TestMSC4297StateResolutionV2_1_starts_from_empty_set: the creator makes
// the room invite-only and leaves; another server claims the join rule is
// still public. Every fork agrees the creator left, so v2, starting from
// that, rejects both join rules and the room has none; v2.1 checks them
// against their auth events (the creator joined) and the invite rule,
// later, wins. The creator stays left.
func startsFromEmptySet(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	jr2 := b.d.event("jr-invite", creator, spec.MRoomJoinRules, "", map[string]any{"join_rule": "invite"}, b.pl, b.cj)
	cl := b.d.event("creator-leave", creator, spec.MRoomMember, creator, member(spec.Leave), b.pl, b.cj)
	good := b.with(jr2, cl)
	bad := b.with(cl) // the join rule is still jr-public
	return b.d, scenario{
		name:  "starts from the empty set",
		sets:  [][]gomatrixserverlib.PDU{good, bad},
		chain: append(b.with(), jr2, cl),
		want:  b.want(map[string]string{"m.room.join_rules|": "jr-invite", "m.room.member|" + creator: "creator-leave"}),
	}
}

// includesConflictedSubgraph is Complement's
// TestMSC4297StateResolutionV2_1_includes_conflicted_subgraph: alice
// gives bob 50 (pl2), bob gives charlie 40 (pl3), eve joins citing pl3;
// another server claims the power levels are still pl. pl and pl3 conflict,
// and pl2 lies on the auth path between them, in the auth chains of both
// forks (through eve's join), so only the conflicted subgraph brings it
// in. Without it pl3 would be checked against pl, where bob has 0.
func includesConflictedSubgraph(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	pl2 := b.d.event("pl2", alice, spec.MRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100, bob: 50}, "events": map[string]int{spec.MRoomPowerLevels: 50}}, b.pl, b.aj)
	pl3 := b.d.event("pl3", bob, spec.MRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100, bob: 50, charlie: 40}, "events": map[string]int{spec.MRoomPowerLevels: 50}}, pl2, b.bj)
	ej := b.d.event("eve-join", eve, spec.MRoomMember, eve, member(spec.Join), pl3, b.jr)
	good := b.with(pl3, ej)
	bad := b.with(ej) // the power levels are still pl
	return b.d, scenario{
		name:  "includes the conflicted subgraph",
		sets:  [][]gomatrixserverlib.PDU{good, bad},
		chain: append(b.with(), pl2, pl3, ej),
		want:  b.want(map[string]string{"m.room.power_levels|": "pl3", "m.room.member|" + eve: "eve-join"}),
	}
}

// keyMissingFromOneSetIsConflicted: a key present in one state set only is
// conflicted (spec: present in every set with the same value, else
// conflicted), so it is checked; a topic bob may not send is dropped.
func keyMissingFromOneSetIsConflicted(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	topic := b.d.event("topic-bob", bob, spec.MRoomTopic, "", map[string]string{"topic": "not allowed"}, b.pl, b.bj)
	name := b.d.event("name-alice", alice, spec.MRoomName, "", map[string]string{"name": "n"}, b.pl, b.aj)
	return b.d, scenario{
		name:  "a key in one set only is conflicted and checked",
		sets:  [][]gomatrixserverlib.PDU{b.with(topic, name), b.with()},
		chain: b.common,
		want:  b.want(map[string]string{"m.room.name|": "name-alice"}),
	}
}

// rejectedAuthEventNotUsed: bob forges power levels giving himself 100
// (rejected on receipt) and sets the topic citing them. The forgery fails
// its own check, so the partial state has no power levels when the topic
// is checked; the rejected auth event must not stand in for them, and bob,
// at 0 under the defaults, cannot set the topic.
func rejectedAuthEventNotUsed(t *testing.T) (*dag, scenario) {
	b := newBase(t)
	forged := b.d.event("pl-forged", bob, spec.MRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100, bob: 100}}, b.pl, b.bj)
	topic := b.d.event("topic-bob", bob, spec.MRoomTopic, "", map[string]string{"topic": "t"}, forged, b.bj)
	return b.d, scenario{
		name:   "rejected auth events are not used",
		sets:   [][]gomatrixserverlib.PDU{b.with(topic), b.with()},
		chain:  append(b.with(), forged),
		reject: map[string]bool{forged.EventID(): true},
		want:   b.want(nil),
	}
}
