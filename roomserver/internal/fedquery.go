package internal

import (
	"context"
	"errors"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Reads other servers make of a room's DAG (spec: server-server API,
// "Backfilling and retrieving missing events", "Retrieving events").

// ServerInRoom implements api.Federation: a server may read a room's events
// while one of its users is joined or invited.
func (rs *Roomserver) ServerInRoom(ctx context.Context, roomID, server string) (bool, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.state {
		if k.Type != spec.MRoomMember || !strings.HasSuffix(k.StateKey, ":"+server) {
			continue
		}
		if m, err := e.pdu.Membership(); err == nil && (m == spec.Join || m == spec.Invite) {
			return true, nil
		}
	}
	return false, nil
}

// EventRoom implements api.Federation.
func (rs *Roomserver) EventRoom(ctx context.Context, eventID string) (string, error) {
	ev, err := rs.store.EventByID(ctx, eventID)
	if err != nil {
		return "", api.ErrEventNotFound
	}
	row, err := rs.store.RoomByNID(ctx, ev.RoomNID)
	if err != nil {
		return "", err
	}
	return row.ID, nil
}

// EventNearTS implements api.Federation (spec: GET
// /_matrix/federation/v1/timestamp_to_event): the room's timeline event
// nearest ts in the direction asked, ErrEventNotFound when there is none.
func (rs *Roomserver) EventNearTS(ctx context.Context, roomID string, ts int64, forward bool) (string, int64, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return "", 0, err
	}
	ev, err := rs.store.EventNearTS(ctx, r.nid, ts, forward)
	if errors.Is(err, storage.ErrNotFound) {
		return "", 0, api.ErrEventNotFound
	}
	if err != nil {
		return "", 0, err
	}
	return ev.ID, ev.OriginServerTS, nil
}

// RoomEvents implements api.Federation: the stored events of roomID with
// these IDs (unknown or other rooms' IDs are left out).
func (rs *Roomserver) RoomEvents(ctx context.Context, roomID string, ids []string) ([]gomatrixserverlib.PDU, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	evs, err := rs.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	mine := evs[:0]
	for _, e := range evs {
		if e.RoomNID == r.nid {
			mine = append(mine, e)
		}
	}
	return rs.parse(r, mine)
}

// StateBefore implements api.Federation: the room state before an event
// and the auth chain of that state.
func (rs *Roomserver) StateBefore(ctx context.Context, roomID, eventID string) (state, authChain []gomatrixserverlib.PDU, err error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, nil, err
	}
	ev, err := rs.store.EventByID(ctx, eventID)
	if err != nil || ev.RoomNID != r.nid || ev.Outlier {
		return nil, nil, api.ErrEventNotFound
	}
	entries, err := rs.store.StateAt(ctx, ev.SnapshotBefore)
	if err != nil {
		return nil, nil, err
	}
	s := make(stateMap, len(entries))
	for _, e := range entries {
		s[e.StateKey] = e.EventNID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if state, err = rs.statePDUs(ctx, r, s); err != nil {
		return nil, nil, err
	}
	chain, _, err := rs.authChain(ctx, r, [][]gomatrixserverlib.PDU{state})
	if err != nil {
		return nil, nil, err
	}
	inState := map[string]bool{}
	for _, p := range state {
		inState[p.EventID()] = true
	}
	for _, p := range chain {
		if !inState[p.EventID()] {
			authChain = append(authChain, p)
		}
	}
	return state, authChain, nil
}

// AuthChain implements api.Federation: the auth chain of an event.
func (rs *Roomserver) AuthChain(ctx context.Context, roomID, eventID string) ([]gomatrixserverlib.PDU, error) {
	evs, err := rs.RoomEvents(ctx, roomID, []string{eventID})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, api.ErrEventNotFound
	}
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	chain, _, err := rs.authChain(ctx, r, [][]gomatrixserverlib.PDU{evs})
	if err != nil {
		return nil, err
	}
	out := chain[:0]
	for _, p := range chain {
		if p.EventID() != eventID {
			out = append(out, p)
		}
	}
	return out, nil
}

// WalkBack implements api.Federation: events reached from the given ones
// through prev_events, newest first by depth, up to limit, stopping at the
// stop events (not included) and below minDepth. The start events are
// included when includeStart (backfill) and not otherwise
// (get_missing_events).
func (rs *Roomserver) WalkBack(
	ctx context.Context,
	roomID string,
	from, stop []string,
	limit int,
	minDepth int64,
	includeStart bool,
) ([]gomatrixserverlib.PDU, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	stopSet := map[string]bool{}
	for _, id := range stop {
		stopSet[id] = true
	}
	seen := map[string]bool{}
	var out []gomatrixserverlib.PDU
	frontier := from
	first := true
	for len(frontier) > 0 && len(out) < limit {
		var ids []string
		for _, id := range frontier {
			if !seen[id] && !stopSet[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			break
		}
		evs, err := rs.store.EventsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		var keep []*storage.Event
		for _, e := range evs {
			if e.RoomNID == r.nid && !e.Outlier {
				keep = append(keep, e)
			}
		}
		pdus, err := rs.parse(r, keep)
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0:0]
		for _, p := range pdus {
			if p.Depth() < minDepth {
				continue
			}
			if !first || includeStart {
				if len(out) >= limit {
					break
				}
				out = append(out, p)
			}
			frontier = append(frontier, p.PrevEventIDs()...)
		}
		first = false
	}
	return out, nil
}
