// Package stateres implements state resolution v2.1 (MSC4297), the
// algorithm of room version 12 (spec: rooms, v12, "State resolution").
//
// It differs from v2 in two places: the iterative auth checks of the power
// events start from an empty state map instead of the unconflicted state
// map (which is applied last, as in v2), and the full conflicted set also
// holds the conflicted state subgraph: every event on an auth_events path
// between two events of the conflicted state set.
//
// The library's own v2.1 (gomatrixserverlib.ResolveConflictsNew, at the
// pinned version) builds the auth state of an event from its auth_events
// by adding the event itself instead of its auth event, so, starting from
// an empty state, the events of a simple conflict fail their checks and
// both sides are lost.
package stateres

import (
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// AllowedFunc applies the room version's authorisation rules to an event
// against the given state.
type AllowedFunc func(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) error

// Input is what a resolution needs.
type Input struct {
	// StateSets are the states to resolve, each one event per state key.
	StateSets [][]gomatrixserverlib.PDU
	// AuthEvents holds the auth chains of the state sets' events (it may
	// hold the state events too). Auth events missing from it are skipped.
	AuthEvents []gomatrixserverlib.PDU
	// Rejected reports events rejected by the checks on receipt; they are
	// not used as auth events in the iterative auth checks.
	Rejected func(eventID string) bool
	// Allowed is the auth check of the iterative auth checks.
	Allowed AllowedFunc
}

// key is a state key: (event_type, state_key).
type key struct{ evType, stateKey string }

func keyOf(p gomatrixserverlib.PDU) key {
	return key{p.Type(), *p.StateKey()}
}

// resolver holds one resolution's events and partial state.
type resolver struct {
	in      Input
	events  map[string]gomatrixserverlib.PDU
	create  gomatrixserverlib.PDU
	partial map[key]gomatrixserverlib.PDU
	levels  map[string]int64 // memoised sender power levels by event ID
}

// ResolveV21 resolves the state sets with state resolution v2.1 and
// returns the resolved state, one event per state key.
func ResolveV21(in Input) ([]gomatrixserverlib.PDU, error) {
	r := &resolver{
		in:      in,
		events:  map[string]gomatrixserverlib.PDU{},
		partial: map[key]gomatrixserverlib.PDU{},
		levels:  map[string]int64{},
	}
	if r.in.Rejected == nil {
		r.in.Rejected = func(string) bool { return false }
	}
	for _, p := range in.AuthEvents {
		r.add(p)
	}
	for _, set := range in.StateSets {
		for _, p := range set {
			r.add(p)
		}
	}
	if r.create == nil {
		return nil, fmt.Errorf("state resolution: no m.room.create event among %d events", len(r.events))
	}
	unconflicted, conflicted := r.split()
	full := r.fullConflictedSet(conflicted)

	// Steps 1 and 2: the power events and their auth events in the full
	// conflicted set, in reverse topological power order, checked from an
	// empty state map.
	power := r.powerSet(full)
	r.iterativeAuthChecks(r.reverseTopologicalPowerOrder(power))

	// Steps 3 and 4: the other events, in mainline order of the partially
	// resolved power levels, checked on top of it.
	var rest []gomatrixserverlib.PDU
	for id, p := range full {
		if _, ok := power[id]; !ok {
			rest = append(rest, p)
		}
	}
	r.iterativeAuthChecks(r.mainlineOrder(rest))

	// Step 5: the unconflicted state map overrides.
	for k, p := range unconflicted {
		r.partial[k] = p
	}
	out := make([]gomatrixserverlib.PDU, 0, len(r.partial))
	for _, p := range r.partial {
		out = append(out, p)
	}
	return out, nil
}

func (r *resolver) add(p gomatrixserverlib.PDU) {
	if _, ok := r.events[p.EventID()]; ok {
		return
	}
	r.events[p.EventID()] = p
	if p.Type() == spec.MRoomCreate && p.StateKeyEquals("") {
		r.create = p
	}
}

// split divides the state sets into the unconflicted state map and the
// conflicted state set (spec: "Unconflicted state map and conflicted state
// set"): a key with the same event in every set is unconflicted; otherwise
// every event it has in any set is conflicted.
func (r *resolver) split() (map[key]gomatrixserverlib.PDU, map[string]gomatrixserverlib.PDU) {
	values := map[key]map[string]int{} // key -> event ID -> sets holding it
	for _, set := range r.in.StateSets {
		for _, p := range set {
			if p.StateKey() == nil {
				continue
			}
			k := keyOf(p)
			if values[k] == nil {
				values[k] = map[string]int{}
			}
			values[k][p.EventID()]++
		}
	}
	unconflicted := map[key]gomatrixserverlib.PDU{}
	conflicted := map[string]gomatrixserverlib.PDU{}
	for k, ids := range values {
		for id, n := range ids {
			if len(ids) == 1 && n == len(r.in.StateSets) {
				unconflicted[k] = r.events[id]
			} else {
				conflicted[id] = r.events[id]
			}
		}
	}
	return unconflicted, conflicted
}

// fullConflictedSet is the conflicted state set, the conflicted state
// subgraph and the auth difference (spec: v12, "Full conflicted set").
func (r *resolver) fullConflictedSet(conflicted map[string]gomatrixserverlib.PDU) map[string]gomatrixserverlib.PDU {
	full := make(map[string]gomatrixserverlib.PDU, len(conflicted))
	for id, p := range conflicted {
		full[id] = p
	}
	for _, id := range r.conflictedSubgraph(conflicted) {
		full[id] = r.events[id]
	}
	for _, id := range r.authDifference() {
		full[id] = r.events[id]
	}
	return full
}

// authDifference is the union of the state sets' full auth chains minus
// their intersection (spec: "Auth difference").
func (r *resolver) authDifference() []string {
	count := map[string]int{}
	for _, set := range r.in.StateSets {
		roots := make([]string, 0, len(set))
		for _, p := range set {
			roots = append(roots, p.AuthEventIDs()...)
		}
		for id := range r.reach(roots) {
			count[id]++
		}
	}
	var out []string
	for id, n := range count {
		if n < len(r.in.StateSets) {
			out = append(out, id)
		}
	}
	return out
}

// reach returns the known events reachable from ids (included) through
// auth_events.
func (r *resolver) reach(ids []string) map[string]bool {
	seen := map[string]bool{}
	stack := append([]string(nil), ids...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, ok := r.events[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		stack = append(stack, p.AuthEventIDs()...)
	}
	return seen
}

// conflictedSubgraph returns the events on auth_events paths between two
// events of the conflicted state set, endpoints included (spec: v12,
// "Conflicted state subgraph"): those reachable from a conflicted event
// that themselves reach a conflicted event.
func (r *resolver) conflictedSubgraph(conflicted map[string]gomatrixserverlib.PDU) []string {
	var roots []string
	for _, p := range conflicted {
		roots = append(roots, p.AuthEventIDs()...)
	}
	below := r.reach(roots) // strictly below some conflicted event
	reaches := map[string]bool{}
	var visit func(id string) bool
	visit = func(id string) bool {
		if v, ok := reaches[id]; ok {
			return v
		}
		reaches[id] = false // a DAG: no cycle comes back here
		p, ok := r.events[id]
		if !ok {
			return false
		}
		v := conflicted[id] != nil
		for _, a := range p.AuthEventIDs() {
			if visit(a) {
				v = true
			}
		}
		reaches[id] = v
		return v
	}
	var out []string
	for id := range below {
		if visit(id) {
			out = append(out, id)
		}
	}
	return out
}

// isPowerEvent reports a power event (spec: "Power events"): power levels,
// join rules, or a member event that kicks or bans another user.
func isPowerEvent(p gomatrixserverlib.PDU) bool {
	if p.StateKey() == nil {
		return false
	}
	switch p.Type() {
	case spec.MRoomPowerLevels, spec.MRoomJoinRules:
		return p.StateKeyEquals("")
	case spec.MRoomMember:
		m, err := p.Membership()
		if err != nil || (m != spec.Leave && m != spec.Ban) {
			return false
		}
		return *p.StateKey() != string(p.SenderID())
	}
	return false
}

// powerSet is step 1's set X: the power events of the full conflicted set
// and the events of their auth chains in it.
func (r *resolver) powerSet(full map[string]gomatrixserverlib.PDU) map[string]gomatrixserverlib.PDU {
	x := map[string]gomatrixserverlib.PDU{}
	var roots []string
	for id, p := range full {
		if isPowerEvent(p) {
			x[id] = p
			roots = append(roots, p.AuthEventIDs()...)
		}
	}
	for id := range r.reach(roots) {
		if p, ok := full[id]; ok {
			x[id] = p
		}
	}
	return x
}

// iterativeAuthChecks applies each event allowed by the partial state,
// taking a state key the rules need and the partial state lacks from the
// event's auth events, if not rejected (spec: "Iterative auth checks").
func (r *resolver) iterativeAuthChecks(events []gomatrixserverlib.PDU) {
	for _, ev := range events {
		if ev.StateKey() == nil {
			continue
		}
		provider, err := r.authState(ev)
		if err != nil {
			continue
		}
		if r.in.Allowed(ev, provider) != nil {
			continue
		}
		r.partial[keyOf(ev)] = ev
	}
}

// authState is the state an event is checked against in the iterative
// auth checks.
func (r *resolver) authState(ev gomatrixserverlib.PDU) (*gomatrixserverlib.AuthEvents, error) {
	fromAuth := map[key]gomatrixserverlib.PDU{}
	for _, id := range ev.AuthEventIDs() {
		a, ok := r.events[id]
		if !ok || a.StateKey() == nil || r.in.Rejected(id) {
			continue
		}
		fromAuth[keyOf(a)] = a
	}
	needed := gomatrixserverlib.StateNeededForAuth([]gomatrixserverlib.PDU{ev}).Tuples()
	// The create event is always needed; room version 12 no longer lists
	// it in auth_events, its hash being the room ID.
	needed = append(needed, gomatrixserverlib.StateKeyTuple{EventType: spec.MRoomCreate})
	pdus := make([]gomatrixserverlib.PDU, 0, len(needed))
	for _, t := range needed {
		k := key{t.EventType, t.StateKey}
		if p, ok := r.partial[k]; ok {
			pdus = append(pdus, p)
		} else if p, ok := fromAuth[k]; ok {
			pdus = append(pdus, p)
		} else if k.evType == spec.MRoomCreate {
			pdus = append(pdus, r.create)
		}
	}
	return gomatrixserverlib.NewAuthEvents(pdus)
}
