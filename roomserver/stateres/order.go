package stateres

import (
	"container/heap"
	"math"
	"slices"
	"sort"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// powerOf is the power level of an event's sender in the state its
// auth_events name (spec: "Reverse topological power ordering", 1). In
// room version 12 the creators' power is infinite.
func (r *resolver) powerOf(p gomatrixserverlib.PDU) int64 {
	if v, ok := r.levels[p.EventID()]; ok {
		return v
	}
	v := r.computePower(p)
	r.levels[p.EventID()] = v
	return v
}

func (r *resolver) computePower(p gomatrixserverlib.PDU) int64 {
	sender := string(p.SenderID())
	create := r.create
	if ac := r.authEventOfType(p, spec.MRoomCreate); ac != nil {
		create = ac
	}
	if ver, err := gomatrixserverlib.GetRoomVersion(create.Version()); err == nil && ver.PrivilegedCreators() {
		if slices.Contains(gomatrixserverlib.CreatorsFromCreateEvent(create), sender) {
			return gomatrixserverlib.CreatorPowerLevel
		}
	}
	pl := r.authEventOfType(p, spec.MRoomPowerLevels)
	if pl == nil {
		// No power levels yet: the room's creator has 100 (spec: auth
		// rules, "the default ... for the room creator").
		if sender == string(create.SenderID()) {
			return 100
		}
		return 0
	}
	c, err := gomatrixserverlib.NewPowerLevelContentFromEvent(pl)
	if err != nil {
		return 0
	}
	return c.UserLevel(p.SenderID())
}

// authEventOfType returns the known auth event of p with the given type
// and an empty state key.
func (r *resolver) authEventOfType(p gomatrixserverlib.PDU, evType string) gomatrixserverlib.PDU {
	for _, id := range p.AuthEventIDs() {
		if a, ok := r.events[id]; ok && a.Type() == evType && a.StateKeyEquals("") {
			return a
		}
	}
	return nil
}

// powerQueue is Kahn's algorithm's candidate set, smallest first by the
// reverse topological power ordering's comparison.
type powerQueue struct {
	r      *resolver
	events []gomatrixserverlib.PDU
}

func (q *powerQueue) Len() int { return len(q.events) }
func (q *powerQueue) Less(i, j int) bool {
	x, y := q.events[i], q.events[j]
	if px, py := q.r.powerOf(x), q.r.powerOf(y); px != py {
		return px > py
	}
	return earlier(x, y)
}
func (q *powerQueue) Swap(i, j int) { q.events[i], q.events[j] = q.events[j], q.events[i] }
func (q *powerQueue) Push(x any)    { q.events = append(q.events, x.(gomatrixserverlib.PDU)) }
func (q *powerQueue) Pop() any {
	last := q.events[len(q.events)-1]
	q.events = q.events[:len(q.events)-1]
	return last
}

// earlier compares by origin_server_ts, then event ID.
func earlier(x, y gomatrixserverlib.PDU) bool {
	if x.OriginServerTS() != y.OriginServerTS() {
		return x.OriginServerTS() < y.OriginServerTS()
	}
	return x.EventID() < y.EventID()
}

// reverseTopologicalPowerOrder sorts a set of events, auth events first,
// by Kahn's algorithm taking the smallest candidate at each step (spec:
// "Reverse topological power ordering").
func (r *resolver) reverseTopologicalPowerOrder(set map[string]gomatrixserverlib.PDU) []gomatrixserverlib.PDU {
	waiting := make(map[string]int, len(set))         // event -> auth events in set not yet placed
	dependents := make(map[string][]string, len(set)) // auth event -> events in set citing it
	q := &powerQueue{r: r}
	for id, p := range set {
		n := 0
		for _, a := range p.AuthEventIDs() {
			if _, ok := set[a]; ok && a != id {
				n++
				dependents[a] = append(dependents[a], id)
			}
		}
		waiting[id] = n
		if n == 0 {
			q.events = append(q.events, p)
		}
	}
	heap.Init(q)
	out := make([]gomatrixserverlib.PDU, 0, len(set))
	for q.Len() > 0 {
		p := heap.Pop(q).(gomatrixserverlib.PDU)
		out = append(out, p)
		for _, d := range dependents[p.EventID()] {
			waiting[d]--
			if waiting[d] == 0 {
				heap.Push(q, set[d])
			}
		}
	}
	return out
}

// noMainline is the mainline position of an event whose power levels do
// not lead to the mainline: greater than any other.
const noMainline = math.MaxInt

// mainlineOrder sorts events by their mainline position based on the
// partial state's power levels, greatest first, then origin_server_ts,
// then event ID (spec: "Mainline ordering").
func (r *resolver) mainlineOrder(events []gomatrixserverlib.PDU) []gomatrixserverlib.PDU {
	mainline := map[string]int{}
	pl := r.partial[key{spec.MRoomPowerLevels, ""}]
	for i := 0; pl != nil; i++ {
		if _, seen := mainline[pl.EventID()]; seen {
			break
		}
		mainline[pl.EventID()] = i
		pl = r.authEventOfType(pl, spec.MRoomPowerLevels)
	}
	pos := make(map[string]int, len(events))
	for _, e := range events {
		pos[e.EventID()] = r.mainlinePosition(e, mainline)
	}
	out := slices.Clone(events)
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if px, py := pos[x.EventID()], pos[y.EventID()]; px != py {
			return px > py
		}
		return earlier(x, y)
	})
	return out
}

// mainlinePosition follows e's power levels auth events until one is on
// the mainline.
func (r *resolver) mainlinePosition(e gomatrixserverlib.PDU, mainline map[string]int) int {
	seen := map[string]bool{}
	for p := r.authEventOfType(e, spec.MRoomPowerLevels); p != nil && !seen[p.EventID()]; p = r.authEventOfType(p, spec.MRoomPowerLevels) {
		if i, ok := mainline[p.EventID()]; ok {
			return i
		}
		seen[p.EventID()] = true
	}
	return noMainline
}
