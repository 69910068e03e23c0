package internal

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/stateres"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Events from other servers (spec: server-server API, "Checks performed on
// receipt of a PDU"). The federation component verifies signatures and
// hashes; the roomserver then checks the event
//   - against its auth events (rejected if it fails),
//   - against the state before it, resolved with the room version's state
//     resolution algorithm where its prev_events fork (rejected if it fails),
//   - against the room's current state (soft-failed if it fails: stored, but
//     not shown to clients and not built upon),
// and stores it with the state before it; the room's forward extremities
// and current state (resolved across the extremities) move on.

// stateMap is a room state: state key -> event NID.
type stateMap map[storage.StateKey]storage.EventNID

// InputEvent adds an event another server sent to a room this server has.
// pdu's signatures and content hash must have been checked.
func (rs *Roomserver) InputEvent(ctx context.Context, pdu gomatrixserverlib.PDU) (api.InputResult, error) {
	return rs.input(ctx, pdu, nil, false)
}

// InputEventWithState is InputEvent for an event whose prev events this
// server cannot get: stateBefore (event IDs, all stored, as outliers at
// least) is the state before it, as another server in the room gave it
// (spec: "the state at the event", /state_ids). The event becomes an
// extremity beside the room's others.
func (rs *Roomserver) InputEventWithState(ctx context.Context, pdu gomatrixserverlib.PDU, stateBefore []string) (api.InputResult, error) {
	if stateBefore == nil {
		stateBefore = []string{}
	}
	return rs.input(ctx, pdu, stateBefore, false)
}

// input checks and stores an event from another server; given (non-nil)
// replaces the state before it that its prev events would give.
//
// relay marks an event this server must pass on to the room's other servers
// itself: a join or leave another server made through it (send_join,
// send_leave), which that server, not being in the room, cannot send.
func (rs *Roomserver) input(ctx context.Context, pdu gomatrixserverlib.PDU, given []string, relay bool) (api.InputResult, error) {
	r, err := rs.loadRoom(ctx, pdu.RoomID().String())
	if err != nil {
		return 0, err
	}
	if pdu.Version() != r.version.Version() {
		return 0, &api.BadRequestError{Reason: "event of another room version"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.purged {
		return 0, api.ErrRoomNotFound
	}
	if err := rs.settle(ctx, r); err != nil {
		return 0, err
	}
	if err := rs.memberOfBlocked(ctx, r.id, pdu); err != nil {
		return 0, err
	}
	if known, err := rs.store.EventsByID(ctx, []string{pdu.EventID()}); err != nil {
		return 0, err
	} else if len(known) > 0 {
		// Stored already. NOTE: an outlier (learned as the state or auth
		// chain of a join) stays one: the room's state already counts it,
		// and placing it in the timeline comes with history backfill.
		return api.InputKnown, nil
	}
	relayedLeave := relay && isLeave(pdu)
	if !rs.hasLocalMember(r) && !relayedLeave {
		// Spec: a server receives a room's events while one of its users
		// is joined; a server that left (the room's servers send it the
		// event that removed its last user, and no more) would otherwise
		// take in whatever still reaches it, out of order with what it
		// hears directly, such as a new invite.
		return 0, api.ErrNotInRoom
	}
	// Auth events: all known, and the event passes against them.
	authEvs, err := rs.store.EventsByID(ctx, pdu.AuthEventIDs())
	if err != nil {
		return 0, err
	}
	if missing := missingIDs(pdu.AuthEventIDs(), authEvs, false); len(missing) > 0 {
		// Missing prev events too are named, so that the caller fills the
		// gap (which may bring the auth events) before asking for them.
		prevEvs, err := rs.store.EventsByID(ctx, pdu.PrevEventIDs())
		if err != nil {
			return 0, err
		}
		return 0, &api.MissingEventsError{Auth: missing, Prev: missingIDs(pdu.PrevEventIDs(), prevEvs, true)}
	}
	authPDUs, err := rs.parse(r, authEvs)
	if err != nil {
		return 0, err
	}
	rejected := anyRejected(authEvs)
	if !rejected {
		provider, err := gomatrixserverlib.NewAuthEvents(authPDUs)
		if err != nil {
			rejected = true
		} else if authAllowed(pdu, provider) != nil {
			rejected = true
		}
	}
	var before stateMap
	if given != nil {
		if before, err = rs.stateOfIDs(ctx, r, given); err != nil {
			return 0, err
		}
	} else if before, err = rs.stateFromPrevs(ctx, r, pdu); err != nil {
		return 0, err
	}
	if !rejected {
		if err := rs.allowedAt(ctx, r, pdu, before); err != nil {
			rejected = true
		}
	}
	result := api.InputAccepted
	switch {
	case rejected:
		result = api.InputRejected
	case authAllowed(pdu, r) != nil:
		result = api.InputSoftFailed
	}
	return result, rs.storeInput(ctx, r, pdu, before, result, inputFlags{relay: relay, gap: given != nil})
}

// stateFromPrevs is the state before pdu from its prev events (all known,
// else MissingEventsError), resolved where they fork.
func (rs *Roomserver) stateFromPrevs(ctx context.Context, r *room, pdu gomatrixserverlib.PDU) (stateMap, error) {
	prevEvs, err := rs.store.EventsByID(ctx, pdu.PrevEventIDs())
	if err != nil {
		return nil, err
	}
	if missing := missingIDs(pdu.PrevEventIDs(), prevEvs, true); len(missing) > 0 {
		return nil, &api.MissingEventsError{Prev: missing}
	}
	if len(prevEvs) == 0 {
		// Only the create event has none, and this room has one already.
		return nil, &api.BadRequestError{Reason: "an event other than the create event needs prev_events"}
	}
	if len(prevEvs) == 1 && len(r.extremities) == 1 && r.extremities[0] == prevEvs[0].ID {
		// The common case, an event on the room's only extremity: the state
		// before it is the current state, in memory.
		return r.currentState(), nil
	}
	return rs.resolveWithAfter(ctx, r, make([]stateMap, 0, len(prevEvs)), prevEvs)
}

// stateOfIDs is the state made of the given stored events (MissingEventsError
// lists those not stored).
func (rs *Roomserver) stateOfIDs(ctx context.Context, r *room, ids []string) (stateMap, error) {
	evs, err := rs.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	if missing := missingIDs(ids, evs, false); len(missing) > 0 {
		return nil, &api.MissingEventsError{Auth: missing}
	}
	s := make(stateMap, len(evs))
	for _, e := range evs {
		if e.StateKey != nil && e.RoomNID == r.nid {
			s[storage.StateKey{Type: e.Type, StateKey: *e.StateKey}] = e.NID
		}
	}
	return s, nil
}

// storeInput writes an event from another server and, when accepted, the
// room's new head; memory follows once the transaction has committed. The
// caller holds r.mu.
func (rs *Roomserver) storeInput(
	ctx context.Context,
	r *room,
	pdu gomatrixserverlib.PDU,
	before stateMap,
	result api.InputResult,
	flags inputFlags,
) error {
	accepted := result == api.InputAccepted
	// The room's head before the event, from memory, and the forward
	// extremities an accepted event leaves.
	head := inputHead{current: r.currentState()}
	if accepted {
		head.extremities, head.depth = newExtremities(r.extremities, pdu), max(r.depth, pdu.Depth())
	}
	var red *appliedRedaction
	err := rs.store.WithRoomGroupTx(ctx, r.id, func(ctx context.Context) error {
		nid, after, err := rs.storeInputEvent(ctx, r, pdu, before, result)
		if err != nil || !accepted {
			return err
		}
		if err := rs.storeInputHead(ctx, r, &head, after); err != nil {
			return err
		}
		if red, err = rs.applyInboundRedaction(ctx, r, pdu); err != nil {
			return fmt.Errorf("apply the redaction: %w", err)
		}
		return rs.publishInput(ctx, r, pdu, nid, &head, flags, red)
	})
	if err != nil {
		r.stale = true // memory may be behind what a partial failure left
		return err
	}
	rs.log.WithFields(logrus.Fields{"room_id": r.id, "event_id": pdu.EventID(), "result": int(result)}).Debug("remote event stored")
	if accepted {
		rs.followInputHead(ctx, r, &head)
	}
	if red != nil {
		r.followRedaction(red)
	}
	return nil
}

// inputFlags say how an event from another server came: relay, a join or
// leave this server passes on (send_join, send_leave); gap, placed with the
// state another server gave instead of its prev events'.
type inputFlags struct {
	relay, gap bool
}

// inputHead is the room's head an accepted event from another server moves
// it to, and what it was before.
type inputHead struct {
	current     stateMap // the current state before the event (memory)
	extremities []string // the forward extremities after it, the event last
	depth       int64
	// Set in the transaction, each time it runs:
	state    stateMap            // the current state after the event
	snapshot storage.SnapshotNID // the snapshot of state
}

// newExtremities are the room's forward extremities once pdu is accepted:
// those it does not name as prev events, then pdu.
func newExtremities(extremities []string, pdu gomatrixserverlib.PDU) []string {
	prev := map[string]bool{}
	for _, id := range pdu.PrevEventIDs() {
		prev[id] = true
	}
	var out []string
	for _, id := range extremities {
		if !prev[id] {
			out = append(out, id)
		}
	}
	return append(out, pdu.EventID())
}

// storeInputEvent stores pdu with the snapshot of the state before it and,
// for a state event not rejected, the state after it; it returns the
// event's NID and the state after it (before, for other events).
func (rs *Roomserver) storeInputEvent(
	ctx context.Context,
	r *room,
	pdu gomatrixserverlib.PDU,
	before stateMap,
	result api.InputResult,
) (storage.EventNID, stateMap, error) {
	snapBefore, err := rs.snapshotFor(ctx, r, before)
	if err != nil {
		return 0, nil, fmt.Errorf("store the state before the event: %w", err)
	}
	row := eventRow(r.nid, pdu)
	row.SnapshotBefore, row.Rejected = snapBefore, result == api.InputRejected
	nid, stored, err := rs.store.InsertEvent(ctx, row)
	if err != nil {
		return 0, nil, fmt.Errorf("store the event: %w", err)
	}
	if !stored {
		return 0, nil, fmt.Errorf("event %s already stored", pdu.EventID())
	}
	sk := pdu.StateKey()
	if sk == nil || result == api.InputRejected {
		return nid, before, nil
	}
	after := copyState(before)
	after[storage.StateKey{Type: pdu.Type(), StateKey: *sk}] = nid
	snapAfter, err := rs.snapshotFor(ctx, r, after)
	if err != nil {
		return 0, nil, fmt.Errorf("store the state after the event: %w", err)
	}
	if err := rs.store.SetSnapshotAfter(ctx, nid, snapAfter); err != nil {
		return 0, nil, fmt.Errorf("link the event to the state after it: %w", err)
	}
	return nid, after, nil
}

// storeInputHead stores the room's new head for an accepted event: the
// current state (the state after the event if it is the only extremity,
// else resolved across the extremities), the memberships it changed, and
// the head itself.
func (rs *Roomserver) storeInputHead(ctx context.Context, r *room, head *inputHead, after stateMap) error {
	var err error
	if head.state, err = rs.stateAcross(ctx, r, after, head.extremities); err != nil {
		return fmt.Errorf("resolve the current state: %w", err)
	}
	if head.snapshot, err = rs.snapshotFor(ctx, r, head.state); err != nil {
		return fmt.Errorf("store the current state: %w", err)
	}
	if err := rs.updateMemberships(ctx, r, head.current, head.state); err != nil {
		return fmt.Errorf("update memberships: %w", err)
	}
	if err := rs.store.SetRoomHead(ctx, r.nid, head.snapshot, head.extremities, head.depth); err != nil {
		return fmt.Errorf("store the room head: %w", err)
	}
	return nil
}

// stateAcross is the room's current state with the given forward
// extremities, the last being the new event, whose state after is after.
func (rs *Roomserver) stateAcross(ctx context.Context, r *room, after stateMap, extremities []string) (stateMap, error) {
	if len(extremities) <= 1 {
		return after, nil
	}
	others, err := rs.store.EventsByID(ctx, extremities[:len(extremities)-1])
	if err != nil {
		return nil, err
	}
	return rs.resolveWithAfter(ctx, r, []stateMap{after}, others)
}

// resolveWithAfter resolves sets together with the state after each of
// evs, in that order.
func (rs *Roomserver) resolveWithAfter(ctx context.Context, r *room, sets []stateMap, evs []*storage.Event) (stateMap, error) {
	for _, e := range evs {
		s, err := rs.stateAfter(ctx, e)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	return rs.resolve(ctx, r, sets)
}

// publishInput puts an accepted event from another server on the output
// log, with the state it changed (already resolved: sync takes it as it
// is).
func (rs *Roomserver) publishInput(
	ctx context.Context,
	r *room,
	pdu gomatrixserverlib.PDU,
	nid storage.EventNID,
	head *inputHead,
	flags inputFlags,
	red *appliedRedaction,
) error {
	changed, err := rs.changedState(ctx, head.current, head.state, nid, pdu.EventID())
	if err != nil {
		return fmt.Errorf("list the state the event changed: %w", err)
	}
	rs.noteUsers(ctx, pdu)
	oe := api.OutputEvent{
		RoomID:       r.id,
		RoomVersion:  string(r.version.Version()),
		EventID:      pdu.EventID(),
		Event:        pdu.JSON(),
		Resolved:     true,
		StateChanged: changed,
		Relay:        flags.relay,
		Gap:          flags.gap,
	}
	if red != nil {
		oe.RedactedEventID, oe.RedactedEvent = red.target.ID, red.redactedJSON
	}
	err = rs.publish(ctx, oe)
	if err != nil {
		return fmt.Errorf("publish the event: %w", err)
	}
	return nil
}

// followInputHead moves r's memory to the head stored for an accepted
// event, reading the new current state's events; if they cannot be read,
// the room is read again before its next use. The caller holds r.mu.
func (rs *Roomserver) followInputHead(ctx context.Context, r *room, head *inputHead) {
	state, err := rs.stateEvents(ctx, r, head.state)
	if err != nil {
		r.stale = true
		return
	}
	r.state, r.snapshot, r.extremities, r.depth = state, head.snapshot, head.extremities, head.depth
	r.serversOK = false
}

// changedState lists the IDs of the events current in cur but not in old;
// nid and id name the event being stored (not readable yet).
func (rs *Roomserver) changedState(ctx context.Context, old, cur stateMap, nid storage.EventNID, id string) ([]string, error) {
	var out []string
	var nids []storage.EventNID
	for k, n := range cur {
		if old[k] == n {
			continue
		}
		if n == nid {
			out = append(out, id)
		} else {
			nids = append(nids, n)
		}
	}
	if len(nids) == 0 {
		return out, nil
	}
	evs, err := rs.store.EventsByNID(ctx, nids)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out, nil
}

// allowedAt checks pdu against the state map s.
func (rs *Roomserver) allowedAt(ctx context.Context, r *room, pdu gomatrixserverlib.PDU, s stateMap) error {
	pdus, err := rs.statePDUs(ctx, r, s)
	if err != nil {
		return err
	}
	provider, err := gomatrixserverlib.NewAuthEvents(pdus)
	if err != nil {
		return err
	}
	return authAllowed(pdu, provider)
}

// stateAfter is the room state after event e: the state before it, plus e
// itself if it is an accepted state event.
func (rs *Roomserver) stateAfter(ctx context.Context, e *storage.Event) (stateMap, error) {
	entries, err := rs.store.StateAt(ctx, e.SnapshotBefore)
	if err != nil {
		return nil, err
	}
	s := make(stateMap, len(entries)+1)
	for _, en := range entries {
		s[en.StateKey] = en.EventNID
	}
	if e.StateKey != nil && !e.Rejected {
		s[storage.StateKey{Type: e.Type, StateKey: *e.StateKey}] = e.NID
	}
	return s, nil
}

// resolve merges state sets with the room version's state resolution
// algorithm (spec: rooms, "State resolution"). One set is returned as it is.
func (rs *Roomserver) resolve(ctx context.Context, r *room, sets []stateMap) (stateMap, error) {
	if len(sets) == 1 {
		return sets[0], nil
	}
	if allSame(sets) {
		return sets[0], nil
	}
	pduSets := make([][]gomatrixserverlib.PDU, len(sets))
	for i, s := range sets {
		pdus, err := rs.statePDUs(ctx, r, s)
		if err != nil {
			return nil, err
		}
		pduSets[i] = pdus
	}
	chain, rejected, err := rs.authChain(ctx, r, pduSets)
	if err != nil {
		return nil, err
	}
	resolved, err := resolveStates(r.version, pduSets, chain, rejected)
	if err != nil {
		return nil, fmt.Errorf("resolving the state of %s: %w", r.id, err)
	}
	ids := make([]string, 0, len(resolved))
	for _, p := range resolved {
		ids = append(ids, p.EventID())
	}
	evs, err := rs.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(stateMap, len(evs))
	for _, e := range evs {
		if e.StateKey != nil {
			out[storage.StateKey{Type: e.Type, StateKey: *e.StateKey}] = e.NID
		}
	}
	return out, nil
}

// resolveStates applies the room version's state resolution algorithm:
// v2.1 (room version 12, MSC4297) with Myelin's own implementation, as
// the pinned gomatrixserverlib's loses both sides of a simple conflict;
// gomatrixserverlib's ResolveConflicts for earlier versions.
func resolveStates(
	ver gomatrixserverlib.IRoomVersion,
	sets [][]gomatrixserverlib.PDU,
	chain []gomatrixserverlib.PDU,
	rejected map[string]bool,
) ([]gomatrixserverlib.PDU, error) {
	isRejected := func(eventID string) bool { return rejected[eventID] }
	if ver.StateResAlgorithm() == gomatrixserverlib.StateResV2_1 {
		return stateres.ResolveV21(stateres.Input{StateSets: sets, AuthEvents: chain, Rejected: isRejected, Allowed: authAllowed})
	}
	// NOTSPEC: the library's ResolveConflicts counts a key missing from
	// some state sets as unconflicted (docs/decisions.md).
	var flat []gomatrixserverlib.PDU
	for _, ps := range sets {
		flat = append(flat, ps...)
	}
	return gomatrixserverlib.ResolveConflicts(ver.Version(), flat, chain, api.UserIDForSender, isRejected)
}

// authChain returns the given events and every event in their auth chains,
// and which of them are rejected.
func (rs *Roomserver) authChain(
	ctx context.Context,
	r *room,
	sets [][]gomatrixserverlib.PDU,
) ([]gomatrixserverlib.PDU, map[string]bool, error) {
	seen := map[string]bool{}
	rejected := map[string]bool{}
	var out []gomatrixserverlib.PDU
	var queue []string
	// The state events themselves go in too: state resolution v2.1 walks
	// from each conflicted event through this set.
	for _, set := range sets {
		for _, p := range set {
			if !seen[p.EventID()] {
				seen[p.EventID()] = true
				out = append(out, p)
			}
			queue = append(queue, p.AuthEventIDs()...)
		}
	}
	for len(queue) > 0 {
		var batch []string
		for _, id := range queue {
			if !seen[id] {
				seen[id] = true
				batch = append(batch, id)
			}
		}
		queue = queue[:0]
		if len(batch) == 0 {
			break
		}
		evs, err := rs.store.EventsByID(ctx, batch)
		if err != nil {
			return nil, nil, err
		}
		pdus, err := rs.parse(r, evs)
		if err != nil {
			return nil, nil, err
		}
		for i, p := range pdus {
			if evs[i].Rejected {
				rejected[p.EventID()] = true
			}
			out = append(out, p)
			queue = append(queue, p.AuthEventIDs()...)
		}
	}
	return out, rejected, nil
}

// statePDUs reads the events of a state map.
func (rs *Roomserver) statePDUs(ctx context.Context, r *room, s stateMap) ([]gomatrixserverlib.PDU, error) {
	state, err := rs.stateEvents(ctx, r, s)
	if err != nil {
		return nil, err
	}
	out := make([]gomatrixserverlib.PDU, 0, len(state))
	for _, e := range state {
		out = append(out, e.pdu)
	}
	return out, nil
}

// stateEvents reads the events of a state map, from memory where the room's
// current state has them.
func (rs *Roomserver) stateEvents(ctx context.Context, r *room, s stateMap) (map[storage.StateKey]stateEvent, error) {
	out := make(map[storage.StateKey]stateEvent, len(s))
	var need []storage.EventNID
	for k, nid := range s {
		if cur, ok := r.state[k]; ok && cur.nid == nid {
			out[k] = cur
		} else {
			need = append(need, nid)
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	evs, err := rs.store.EventsByNID(ctx, need)
	if err != nil {
		return nil, err
	}
	pdus, err := rs.parse(r, evs)
	if err != nil {
		return nil, err
	}
	for i, e := range evs {
		if e.StateKey != nil {
			out[storage.StateKey{Type: e.Type, StateKey: *e.StateKey}] = stateEvent{nid: e.NID, pdu: pdus[i]}
		}
	}
	if len(out) != len(s) {
		return nil, fmt.Errorf("room %s: %d state events missing", r.id, len(s)-len(out))
	}
	return out, nil
}

// snapshotFor returns a snapshot holding s: the room's current one when
// equal, else a delta on it.
func (rs *Roomserver) snapshotFor(ctx context.Context, r *room, s stateMap) (storage.SnapshotNID, error) {
	var changes []storage.StateEntry
	for k, nid := range s {
		if cur, ok := r.state[k]; !ok || cur.nid != nid {
			changes = append(changes, storage.StateEntry{StateKey: k, EventNID: nid})
		}
	}
	if len(changes) == 0 && len(s) == len(r.state) {
		return r.snapshot, nil
	}
	if len(s) < len(r.state) {
		// Keys the state lacks cannot be expressed as a delta: whole.
		changes = changes[:0]
		for k, nid := range s {
			changes = append(changes, storage.StateEntry{StateKey: k, EventNID: nid})
		}
		return rs.store.CreateSnapshot(ctx, r.nid, 0, changes)
	}
	return rs.store.CreateSnapshot(ctx, r.nid, r.snapshot, changes)
}

// updateMemberships records the membership changes between two current
// states.
func (rs *Roomserver) updateMemberships(ctx context.Context, r *room, old, cur stateMap) error {
	for k, nid := range cur {
		if k.Type != spec.MRoomMember || old[k] == nid {
			continue
		}
		evs, err := rs.store.EventsByNID(ctx, []storage.EventNID{nid})
		if err != nil || len(evs) != 1 {
			return fmt.Errorf("reading member event %d: %w", nid, err)
		}
		var c struct {
			Membership string `json:"membership"`
		}
		var body struct {
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(evs[0].JSON, &body); err != nil || json.Unmarshal(body.Content, &c) != nil {
			return fmt.Errorf("member event %d unreadable", nid)
		}
		if err := rs.store.SetMembership(ctx, r.nid, k.StateKey, c.Membership, nid); err != nil {
			return err
		}
		if err := rs.noteDirectStored(ctx, r.id, evs[0]); err != nil {
			return err
		}
	}
	return nil
}

// parse turns stored events into PDUs of r's version.
func (rs *Roomserver) parse(r *room, evs []*storage.Event) ([]gomatrixserverlib.PDU, error) {
	out := make([]gomatrixserverlib.PDU, len(evs))
	for i, e := range evs {
		p, err := r.version.NewEventFromTrustedJSONWithEventID(e.ID, e.JSON, e.RedactedBy != "")
		if err != nil {
			return nil, fmt.Errorf("stored event %s unreadable: %w", e.ID, err)
		}
		out[i] = p
	}
	return out, nil
}

// missingIDs lists the IDs without a stored event (or, with timeline, with
// only an outlier).
func missingIDs(ids []string, evs []*storage.Event, timeline bool) []string {
	have := map[string]bool{}
	for _, e := range evs {
		if !timeline || !e.Outlier {
			have[e.ID] = true
		}
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

// isLeave reports whether pdu is a leave of its sender (through send_leave,
// accepted even when no local user is left in the room: rejecting an
// invite to an emptied room).
func isLeave(pdu gomatrixserverlib.PDU) bool {
	m, err := pdu.Membership()
	return err == nil && m == spec.Leave && pdu.StateKey() != nil && *pdu.StateKey() == string(pdu.SenderID())
}

func anyRejected(evs []*storage.Event) bool {
	for _, e := range evs {
		if e.Rejected {
			return true
		}
	}
	return false
}

func copyState(s stateMap) stateMap {
	c := make(stateMap, len(s)+1)
	for k, v := range s {
		c[k] = v
	}
	return c
}

func allSame(sets []stateMap) bool {
	for _, s := range sets[1:] {
		if len(s) != len(sets[0]) {
			return false
		}
		for k, v := range s {
			if sets[0][k] != v {
				return false
			}
		}
	}
	return true
}
