package internal

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// VisibleToServer implements api.Federation: pdus as server may see them
// (spec: server-server API, "Backfilling and retrieving missing events":
// servers must apply history visibility to the events they return). An
// event the server may not see is given in its redacted form: with
// history visibility "joined", one of its users must have been joined when
// the event was sent; with "invited", joined or invited; "shared" and
// "world_readable" show everything to a server in the room. Events whose
// state this server does not have (outliers) are given as they are.
func (rs *Roomserver) VisibleToServer(
	ctx context.Context,
	roomID, server string,
	pdus []gomatrixserverlib.PDU,
) ([]gomatrixserverlib.PDU, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	out := make([]gomatrixserverlib.PDU, 0, len(pdus))
	for _, p := range pdus {
		visible, err := rs.visibleToServer(ctx, r, server, p)
		if err != nil {
			return nil, err
		}
		if visible {
			out = append(out, p)
			continue
		}
		js, err := r.version.RedactEventJSON(p.JSON())
		if err != nil {
			return nil, err
		}
		red, err := r.version.NewEventFromTrustedJSONWithEventID(p.EventID(), js, true)
		if err != nil {
			return nil, err
		}
		out = append(out, red)
	}
	return out, nil
}

func (rs *Roomserver) visibleToServer(ctx context.Context, r *room, server string, p gomatrixserverlib.PDU) (bool, error) {
	ev, err := rs.store.EventByID(ctx, p.EventID())
	if err != nil || ev.Outlier {
		return true, nil
	}
	entries, err := rs.store.StateAt(ctx, ev.SnapshotBefore)
	if err != nil {
		return false, err
	}
	// Only the keys that decide: history visibility, and the server's
	// users' memberships.
	s := stateMap{}
	for _, e := range entries {
		k := e.StateKey
		switch {
		case k.Type == spec.MRoomHistoryVisibility && k.StateKey == "":
		case k.Type == spec.MRoomMember && strings.HasSuffix(k.StateKey, ":"+server):
		default:
			continue
		}
		s[k] = e.EventNID
	}
	r.mu.Lock()
	state, err := rs.statePDUs(ctx, r, s)
	r.mu.Unlock()
	if err != nil {
		return false, err
	}
	hv := "shared"
	joined, invited := false, false
	for _, e := range state {
		switch e.Type() {
		case spec.MRoomHistoryVisibility:
			var c struct {
				HistoryVisibility string `json:"history_visibility"`
			}
			if json.Unmarshal(e.Content(), &c) == nil && c.HistoryVisibility != "" {
				hv = c.HistoryVisibility
			}
		case spec.MRoomMember:
			m, _ := e.Membership()
			joined = joined || m == spec.Join
			invited = invited || m == spec.Invite
		}
	}
	// The server's own membership event shows in full.
	if p.Type() == spec.MRoomMember && p.StateKey() != nil && strings.HasSuffix(*p.StateKey(), ":"+server) {
		return true, nil
	}
	switch hv {
	case "joined":
		return joined, nil
	case "invited":
		return joined || invited, nil
	}
	return true, nil
}
