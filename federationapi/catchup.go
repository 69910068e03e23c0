package federationapi

import (
	"context"
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib/spec"
)

// maxCatchUpEvents bounds the events one catch-up fetches by ID (the
// resident server's forward extremities: a handful).
const maxCatchUpEvents = 10

// CatchUp implements fedapi.RemoteRooms. A local user's join to a
// restricted room that no local user can authorise would go through
// another server, whose users then authorise it; but this server may only
// be behind, a power-level change that gives a local user invite power
// still on its way (Complement: TestRestrictedRoomsLocalJoinNoCreatorsUses
// PowerLevels). Servers should prefer a local join (spec: client-server
// API, "Restricted rooms"), so before going elsewhere this server asks a
// resident server for a join template (make_join has no effect on the
// room), whose prev_events are that server's latest events, and takes in
// those it lacks as if they had arrived in a transaction: their own gaps
// are filled with get_missing_events as usual.
func (f *FederationAPI) CatchUp(ctx context.Context, roomID, userID string, servers []string) bool {
	if f.opts.Rooms == nil {
		return false
	}
	latest, err := f.opts.Rooms.LatestEventIDs(ctx, roomID)
	if err != nil {
		return false
	}
	have := make(map[string]bool, len(latest))
	for _, id := range latest {
		have[id] = true
	}
	for _, s := range servers {
		if spec.ServerName(s) == f.name {
			continue
		}
		// The resident server judges the template by what it has of the
		// joining user (in an allowed room?): deliver what is queued for
		// it first, as a join through it does.
		f.flushTo(ctx, s)
		res, err := f.Client.MakeJoin(ctx, f.name, spec.ServerName(s), roomID, userID)
		if err != nil {
			continue
		}
		return f.takeIn(ctx, spec.ServerName(s), prevEventIDs(res.JoinEvent.PrevEvents), have)
	}
	return false
}

// takeIn fetches from s the events of ids this server does not have
// among its latest, and inputs them; it reports whether any was accepted.
func (f *FederationAPI) takeIn(ctx context.Context, s spec.ServerName, ids []string, have map[string]bool) bool {
	learned := false
	for i, id := range ids {
		if have[id] || i >= maxCatchUpEvents {
			continue
		}
		txn, err := f.Client.GetEvent(ctx, f.name, s, id)
		if err != nil {
			continue
		}
		for _, raw := range txn.PDUs {
			if _, err := f.inputPDU(ctx, s, raw); err == nil {
				learned = true
			}
		}
	}
	return learned
}

// prevEventIDs reads a template's prev_events: IDs from room version 3
// on, [ID, hashes] pairs before.
func prevEventIDs(v any) []string {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var ids []string
	if json.Unmarshal(raw, &ids) == nil {
		return ids
	}
	var pairs [][]json.RawMessage
	if json.Unmarshal(raw, &pairs) != nil {
		return nil
	}
	var out []string
	for _, p := range pairs {
		var id string
		if len(p) > 0 && json.Unmarshal(p[0], &id) == nil && id != "" {
			out = append(out, id)
		}
	}
	return out
}
