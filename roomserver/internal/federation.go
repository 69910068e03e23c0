package internal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

var _ api.Federation = (*Roomserver)(nil)

// RoomVersion implements api.Federation.
func (rs *Roomserver) RoomVersion(ctx context.Context, roomID string) (gomatrixserverlib.IRoomVersion, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return r.version, nil
}

// JoinedServers implements api.Federation.
func (rs *Roomserver) JoinedServers(ctx context.Context, roomID string) ([]string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.joinedServers()), nil // the caller's own copy
}

// joinedServers are the servers with a joined member in the room's current
// state (memory), cached until a membership changes: every local event
// asks, and a large room's members are many. The slice is shared: callers
// may append to it (it is clipped) but not change it. The caller holds
// r.mu.
func (r *room) joinedServers() []string {
	if !r.serversOK {
		r.servers, r.serversOK = r.computeJoinedServers(), true
	}
	return slices.Clip(r.servers)
}

func (r *room) computeJoinedServers() []string {
	seen := map[string]bool{}
	var out []string
	for k, e := range r.state {
		if k.Type != spec.MRoomMember {
			continue
		}
		if m, err := e.pdu.Membership(); err != nil || m != spec.Join {
			continue
		}
		if _, server, ok := strings.Cut(k.StateKey, ":"); ok && !seen[server] {
			seen[server] = true
			out = append(out, server)
		}
	}
	return out
}

// LatestEventIDs implements api.Federation.
func (rs *Roomserver) LatestEventIDs(ctx context.Context, roomID string) ([]string, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := rs.settle(ctx, r); err != nil {
		return nil, err
	}
	return append([]string(nil), r.extremities...), nil
}

// MakeJoin implements api.Federation (spec: GET /_matrix/federation/v1/make_join).
func (rs *Roomserver) MakeJoin(
	ctx context.Context,
	roomID, userID string,
) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, nil, err
	}
	via, err := rs.restrictedJoin(ctx, r, userID)
	if err != nil {
		return nil, nil, err
	}
	var extra map[string]string
	if via != "" {
		extra = map[string]string{authorisedViaKey: via}
	}
	return rs.makeMembershipWith(ctx, roomID, userID, spec.Join, extra)
}

// MakeLeave implements api.Federation (spec: GET /_matrix/federation/v1/make_leave).
func (rs *Roomserver) MakeLeave(
	ctx context.Context,
	roomID, userID string,
) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error) {
	return rs.makeMembership(ctx, roomID, userID, spec.Leave)
}

// makeMembership is a membership event template for a user of another
// server, checked against the room's current state.
func (rs *Roomserver) makeMembership(
	ctx context.Context,
	roomID, userID, membership string,
) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error) {
	return rs.makeMembershipWith(ctx, roomID, userID, membership, nil)
}

// makeMembershipWith is makeMembership with further content keys (a
// restricted join's authoriser).
func (rs *Roomserver) makeMembershipWith(
	ctx context.Context,
	roomID, userID, membership string, extra map[string]string,
) (gomatrixserverlib.IRoomVersion, *gomatrixserverlib.ProtoEvent, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := rs.settle(ctx, r); err != nil {
		return nil, nil, err
	}
	fields := map[string]string{"membership": membership}
	for k, v := range extra {
		fields[k] = v
	}
	content, _ := json.Marshal(fields)
	proto := gomatrixserverlib.ProtoEvent{SenderID: userID, RoomID: r.id, Type: spec.MRoomMember, StateKey: &userID,
		Content: content, PrevEvents: r.extremities, Depth: r.depth + 1}
	b := r.version.NewEventBuilderFromProtoEvent(&proto)
	if err := b.AddAuthEvents(r); err != nil {
		return nil, nil, &api.BadRequestError{Reason: err.Error()}
	}
	// Check the event as the other server will build it: signed by us for
	// the check only (the auth rules do not look at signatures).
	probe, err := b.Build(rs.now(), rs.opts.ServerName, rs.opts.KeyID, rs.opts.PrivateKey)
	if err != nil {
		return nil, nil, &api.BadRequestError{Reason: err.Error()}
	}
	if err := authAllowed(probe, r); err != nil {
		return nil, nil, api.Forbidden("%s may not %s: %v", userID, membership, err)
	}
	proto.AuthEvents = b.AuthEvents
	return r.version, &proto, nil
}

// SendLeave implements api.Federation (spec: PUT /_matrix/federation/v2/send_leave).
func (rs *Roomserver) SendLeave(ctx context.Context, pdu gomatrixserverlib.PDU) error {
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil || *pdu.StateKey() != string(pdu.SenderID()) {
		return &api.BadRequestError{Reason: "not a leave of its sender"}
	}
	if m, err := pdu.Membership(); err != nil || m != spec.Leave {
		return &api.BadRequestError{Reason: "not a leave"}
	}
	res, err := rs.input(ctx, pdu, nil, true)
	if err != nil {
		return err
	}
	if res != api.InputAccepted && res != api.InputKnown {
		return api.Forbidden("the leave is %s", res)
	}
	return nil
}

// RejectInvite implements api.Federation: the leave that rejected an
// invite to a room this server is not in goes to the user's sync.
func (rs *Roomserver) RejectInvite(ctx context.Context, leave gomatrixserverlib.PDU) error {
	if r, err := rs.loadRoom(ctx, leave.RoomID().String()); err == nil {
		if rs.hasLocalMemberNow(r) {
			_, err := rs.InputEvent(ctx, leave)
			return err
		}
	}
	if sk := leave.StateKey(); sk != nil {
		if err := rs.store.SetOutsideMembership(ctx, leave.RoomID().String(), *sk, spec.Leave); err != nil {
			return err
		}
	}
	return rs.publish(ctx, api.OutputEvent{RoomID: leave.RoomID().String(), RoomVersion: string(leave.Version()),
		EventID: leave.EventID(), Event: leave.JSON()})
}

// RejectInviteLocally implements api.Federation: the user's sync shows a
// leave made by this server alone. NOTSPEC: when the inviting server cannot
// be reached to reject an invite (make_leave/send_leave), the invite would
// otherwise stay forever; like Synapse, this server then records an
// "out-of-band" leave that goes to no other server.
func (rs *Roomserver) RejectInviteLocally(ctx context.Context, roomID, userID string) error {
	id := make([]byte, 18)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	eventID := "$" + base64.RawURLEncoding.EncodeToString(id)
	ev, err := json.Marshal(map[string]any{"type": spec.MRoomMember, "state_key": userID, "sender": userID, "room_id": roomID,
		"origin_server_ts": rs.now().UnixMilli(), "content": map[string]string{"membership": spec.Leave},
		"unsigned": map[string]bool{"out_of_band_membership": true}})
	if err != nil {
		return err
	}
	if err := rs.store.SetOutsideMembership(ctx, roomID, userID, spec.Leave); err != nil {
		return err
	}
	return rs.publish(ctx, api.OutputEvent{RoomID: roomID, EventID: eventID, Event: ev, Delivered: true})
}

// SendJoin implements api.Federation (spec: PUT /_matrix/federation/v2/send_join).
func (rs *Roomserver) SendJoin(ctx context.Context, pdu gomatrixserverlib.PDU) (state, authChain []gomatrixserverlib.PDU, err error) {
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil || *pdu.StateKey() != string(pdu.SenderID()) {
		return nil, nil, &api.BadRequestError{Reason: "not a join of its sender"}
	}
	if m, err := pdu.Membership(); err != nil || m != spec.Join {
		return nil, nil, &api.BadRequestError{Reason: "not a join"}
	}
	if err := rs.checkAuthorisedJoin(ctx, pdu); err != nil {
		return nil, nil, err
	}
	res, err := rs.input(ctx, pdu, nil, true)
	if err != nil {
		return nil, nil, err
	}
	if res != api.InputAccepted && res != api.InputKnown {
		return nil, nil, api.Forbidden("the join is %s", res)
	}
	r, err := rs.loadRoom(ctx, pdu.RoomID().String())
	if err != nil {
		return nil, nil, err
	}
	stored, err := rs.store.EventByID(ctx, pdu.EventID())
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := rs.store.StateAt(ctx, stored.SnapshotBefore)
	if err != nil {
		return nil, nil, err
	}
	s := make(stateMap, len(entries))
	for _, e := range entries {
		s[e.StateKey] = e.EventNID
	}
	if state, err = rs.statePDUs(ctx, r, s); err != nil {
		return nil, nil, err
	}
	chain, _, err := rs.authChain(ctx, r, [][]gomatrixserverlib.PDU{append(append([]gomatrixserverlib.PDU(nil), state...), pdu)})
	if err != nil {
		return nil, nil, err
	}
	// The auth chain without the state events and the join themselves,
	// except the create event: from room version 12 on no event lists it in
	// auth_events, and joining servers look for it in the auth chain.
	inState := map[string]bool{pdu.EventID(): true}
	for _, p := range state {
		if p.Type() != spec.MRoomCreate {
			inState[p.EventID()] = true
		}
	}
	for _, p := range chain {
		if !inState[p.EventID()] {
			authChain = append(authChain, p)
		}
	}
	return state, authChain, nil
}

// ImportRoom implements api.Federation: the room's state and auth chain are
// stored as outliers, a snapshot of the state is made, and the join event
// becomes the room's newest timeline event and only extremity. The state
// events go on the output log as outliers, then the events of gap (checked
// against their auth events), then the join, so that the sync stream has
// the room's current state before the join; history before that is
// backfilled when a client pages back to it.
//
// A room this server has left (a rejoin) is imported again over what it
// had: the state from send_join replaces the state it knew, and gap bridges
// its old timeline and the join.
func (rs *Roomserver) ImportRoom(
	ctx context.Context,
	version gomatrixserverlib.IRoomVersion,
	state, authChain, gap []gomatrixserverlib.PDU,
	join gomatrixserverlib.PDU,
) error {
	roomID := join.RoomID().String()
	if err := rs.memberOfBlocked(ctx, roomID, join); err != nil {
		return err
	}
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil && !errors.Is(err, api.ErrRoomNotFound) {
		return err
	}
	known := err == nil
	if known && rs.hasLocalMemberNow(r) {
		// Another local user is in the room: the join is an ordinary event.
		res, err := rs.InputEvent(ctx, join)
		if err == nil && res != api.InputAccepted && res != api.InputKnown {
			return api.Forbidden("the join is %s", res)
		}
		return err
	}
	if !known {
		r = &room{id: roomID, version: version}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if known {
		if err := rs.settle(ctx, r); err != nil {
			return err
		}
		if r.version.Version() != version.Version() {
			return api.Forbidden("the room's version changed")
		}
	}
	r.state, r.serversOK = map[storage.StateKey]stateEvent{}, false
	err = rs.store.WithTx(ctx, func(ctx context.Context) error {
		if !known {
			var err error
			if r.nid, err = rs.store.InsertRoom(ctx, roomID, string(version.Version())); err != nil {
				return fmt.Errorf("store the room: %w", err)
			}
		}
		return rs.importJoined(ctx, r, state, authChain, gap, join)
	})
	if err != nil {
		if known {
			r.stale = true // memory was changed: read the room again
		}
		return fmt.Errorf("importing room %s: %w", roomID, err)
	}
	if !known {
		rs.rooms.add(r)
	}
	return nil
}

// hasLocalMemberNow is hasLocalMember for a caller that does not hold r.mu.
func (rs *Roomserver) hasLocalMemberNow(r *room) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rs.hasLocalMember(r)
}

// importJoined stores, in the caller's transaction, what joining r through
// another server brought: the state before the join, the events between
// this server's old timeline and the join (a rejoin), and the join itself
// as r's new head, each on the output log in the order sync needs them.
// The caller holds r.mu and has emptied r.state.
func (rs *Roomserver) importJoined(
	ctx context.Context,
	r *room,
	state, authChain, gap []gomatrixserverlib.PDU,
	join gomatrixserverlib.PDU,
) error {
	before, err := rs.importState(ctx, r, state, authChain)
	if err != nil {
		return err
	}
	if err := authAllowed(join, r); err != nil {
		return api.Forbidden("the join does not pass the room's state: %v", err)
	}
	// The state goes on the output log first, oldest first, so that the
	// sync stream has it before the join (write publishes the join).
	sorted := slices.Clone(state)
	slices.SortStableFunc(sorted, func(a, b gomatrixserverlib.PDU) int { return cmp.Compare(a.Depth(), b.Depth()) })
	seen := map[string]bool{join.EventID(): true}
	if err := rs.publishImported(ctx, r, sorted, true, seen); err != nil {
		return fmt.Errorf("publish the state: %w", err)
	}
	// The events between this server's old timeline and the join (a
	// rejoin) go in the timeline before the join.
	bridged, err := rs.storeHistory(ctx, r, gap)
	if err != nil {
		return fmt.Errorf("store the events before the join: %w", err)
	}
	if err := rs.publishImported(ctx, r, bridged, false, seen); err != nil {
		return fmt.Errorf("publish the events before the join: %w", err)
	}
	if err := rs.importJoin(ctx, r, before, join); err != nil {
		return fmt.Errorf("store the join: %w", err)
	}
	if err := rs.recordMemberships(ctx, r); err != nil {
		return fmt.Errorf("record the memberships: %w", err)
	}
	return nil
}

// importState stores the state and auth chain that send_join gave as
// outliers, and makes the state r's current state, in memory and as a
// snapshot; it returns that snapshot, the state before the join. The caller
// holds r.mu.
func (rs *Roomserver) importState(ctx context.Context, r *room, state, authChain []gomatrixserverlib.PDU) (storage.SnapshotNID, error) {
	nids, err := rs.storeOutliers(ctx, r, append(append([]gomatrixserverlib.PDU(nil), authChain...), state...))
	if err != nil {
		return 0, fmt.Errorf("store the state and auth chain: %w", err)
	}
	var entries []storage.StateEntry
	for _, p := range state {
		if p.StateKey() == nil {
			continue
		}
		k := storage.StateKey{Type: p.Type(), StateKey: *p.StateKey()}
		entries = append(entries, storage.StateEntry{StateKey: k, EventNID: nids[p.EventID()]})
		r.setState(k, stateEvent{nid: nids[p.EventID()], pdu: p})
	}
	before, err := rs.store.CreateSnapshot(ctx, r.nid, 0, entries)
	if err != nil {
		return 0, fmt.Errorf("store the state snapshot: %w", err)
	}
	r.snapshot = before
	return before, nil
}

// storeOutliers stores the events of r among pdus as outliers, each once,
// and returns their NIDs by event ID.
func (rs *Roomserver) storeOutliers(ctx context.Context, r *room, pdus []gomatrixserverlib.PDU) (map[string]storage.EventNID, error) {
	nids := map[string]storage.EventNID{}
	for _, p := range pdus {
		if _, ok := nids[p.EventID()]; ok || p.RoomID().String() != r.id {
			continue
		}
		row := eventRow(r.nid, p)
		row.Outlier = true
		nid, _, err := rs.store.InsertEvent(ctx, row)
		if err != nil {
			return nil, err
		}
		nids[p.EventID()] = nid
	}
	return nids, nil
}

// publishImported puts the events of r among pdus on the output log in
// the order given, leaving out those in seen and adding the others to it,
// so that no event goes on the log twice.
func (rs *Roomserver) publishImported(
	ctx context.Context,
	r *room,
	pdus []gomatrixserverlib.PDU,
	outlier bool,
	seen map[string]bool,
) error {
	for _, p := range pdus {
		if seen[p.EventID()] || p.RoomID().String() != r.id {
			continue
		}
		seen[p.EventID()] = true
		if err := rs.publish(ctx, api.OutputEvent{
			RoomID:      r.id,
			RoomVersion: string(r.version.Version()),
			EventID:     p.EventID(),
			Event:       p.JSON(),
			Outlier:     outlier,
		}); err != nil {
			return err
		}
	}
	return nil
}

// importJoin stores the join on the imported state and makes it r's newest
// timeline event and only extremity. The join reached the room's servers
// through send_join, so it is not sent again. The caller holds r.mu.
func (rs *Roomserver) importJoin(ctx context.Context, r *room, before storage.SnapshotNID, join gomatrixserverlib.PDU) error {
	w, err := rs.write(ctx, r, before, join, newEvent{delivered: true})
	if err != nil {
		return err
	}
	r.snapshot, r.extremities, r.depth = w.snapshot, []string{join.EventID()}, join.Depth()
	r.setState(storage.StateKey{Type: spec.MRoomMember, StateKey: *join.StateKey()}, stateEvent{nid: w.nid, pdu: join})
	return nil
}

// recordMemberships stores the membership of every member in r's current
// state: after an import they are those send_join gave, whatever this
// server knew before. The caller holds r.mu.
func (rs *Roomserver) recordMemberships(ctx context.Context, r *room) error {
	for k, e := range r.state {
		if k.Type != spec.MRoomMember {
			continue
		}
		m, err := e.pdu.Membership()
		if err != nil {
			continue
		}
		if err := rs.store.SetMembership(ctx, r.nid, k.StateKey, m, e.nid); err != nil {
			return err
		}
		if err := rs.noteDirectInvite(ctx, e.pdu, ""); err != nil {
			return err
		}
	}
	return nil
}

// hasLocalMember reports whether a user of this server is joined to r. The
// caller holds r.mu.
func (rs *Roomserver) hasLocalMember(r *room) bool {
	for k, e := range r.state {
		if k.Type != spec.MRoomMember || !rs.isLocalUser(k.StateKey) {
			continue
		}
		if m, err := e.pdu.Membership(); err == nil && m == spec.Join {
			return true
		}
	}
	return false
}

// remoteInvite has an invite of a user of another server signed by that
// server before it is stored (spec: "Inviting to a room"); other events
// are returned as they are. That server's refusal is returned wrapped, as
// the federation component gave it. The caller holds r.mu.
func (rs *Roomserver) remoteInvite(ctx context.Context, r *room, ev gomatrixserverlib.PDU) (gomatrixserverlib.PDU, error) {
	if ev.Type() != spec.MRoomMember || ev.StateKey() == nil || rs.isLocalUser(*ev.StateKey()) {
		return ev, nil
	}
	if m, err := ev.Membership(); err != nil || m != spec.Invite {
		return ev, nil
	}
	if rs.opts.Inviter == nil {
		return nil, api.Forbidden("this server does not federate: users of other servers cannot be invited")
	}
	signed, err := rs.opts.Inviter.SendInvite(ctx, ev, rs.strippedState(r))
	if err != nil {
		// The invitee's server's own answer (fedapi.RemoteError), which the
		// client gets as that server gave it (spec: PUT
		// /_matrix/federation/v2/invite, "passed through to clients").
		return nil, fmt.Errorf("the invitee's server did not sign the invite: %w", err)
	}
	if signed.EventID() != ev.EventID() {
		return nil, api.Forbidden("the invitee's server changed the invite")
	}
	return signed, nil
}

// strippedState is the room's state an invitee or knocker sees before
// joining (spec: "Stripped state"), for invite_room_state and
// knock_room_state. Since v1.16 these "MUST contain the m.room.create
// event" and every entry "MUST additionally be formatted according to the
// room version specification": the events go whole, signed, and the
// receiving server strips all but the create event for its clients
// (MSC4311).
func (rs *Roomserver) strippedState(r *room) []json.RawMessage {
	var out []json.RawMessage
	for k, e := range r.state {
		switch k.Type {
		case spec.MRoomCreate, spec.MRoomJoinRules, spec.MRoomName, "m.room.avatar", "m.room.canonical_alias",
			"m.room.encryption", spec.MRoomTopic:
			out = append(out, json.RawMessage(e.pdu.JSON()))
		}
	}
	return out
}

// ReceiveInvite implements api.Federation.
func (rs *Roomserver) ReceiveInvite(ctx context.Context, invite gomatrixserverlib.PDU, inviteRoomState []json.RawMessage) error {
	if err := rs.memberOfBlocked(ctx, invite.RoomID().String(), invite); err != nil {
		return err
	}
	if r, err := rs.loadRoom(ctx, invite.RoomID().String()); err == nil {
		if rs.hasLocalMemberNow(r) {
			// This server is in the room: the invite is an ordinary event.
			// One whose prev or auth events this server lacks (it will
			// hear of them through the room) is delivered as if it were not.
			res, err := rs.InputEvent(ctx, invite)
			var missing *api.MissingEventsError
			if !errors.As(err, &missing) {
				if err == nil && res != api.InputAccepted && res != api.InputKnown {
					return api.Forbidden("the invite is %s", res)
				}
				return err
			}
		}
	} else if !errors.Is(err, api.ErrRoomNotFound) {
		return err
	}
	// A room this server is not in (or no longer in): the invite goes to
	// the invitee's sync only, with the stripped state in
	// unsigned.invite_room_state.
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(invite.JSON(), &ev); err != nil {
		return err
	}
	unsigned := map[string]any{}
	if raw, ok := ev["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned["invite_room_state"] = inviteRoomState
	b, err := json.Marshal(unsigned)
	if err != nil {
		return err
	}
	ev["unsigned"] = b
	js, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	rs.noteUsers(ctx, invite)
	if err := rs.noteDirectInvite(ctx, invite, spec.Invite); err != nil {
		return err
	}
	return rs.publish(ctx, api.OutputEvent{RoomID: invite.RoomID().String(), RoomVersion: string(invite.Version()),
		EventID: invite.EventID(), Event: js})
}
