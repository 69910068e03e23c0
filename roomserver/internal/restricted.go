package internal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
)

// authorisedViaKey is the join event's content key naming the user whose
// server authorised a join to a restricted room (spec: client-server API,
// "Restricted rooms"; room versions 8+, auth rules for m.room.member).
const authorisedViaKey = "join_authorised_via_users_server"

// restrictedConditions returns the rooms whose joined members may join r
// without an invite, and true, when a join of userID to r is a restricted
// join: the room's version supports restricted join rules, its join rule is
// restricted or knock_restricted (MSC3787, room versions 10+), and the user
// is neither joined nor invited (spec, auth rules for m.room.member, join:
// "If the join_rule is restricted or knock_restricted: if membership state
// is join or invite, allow"). A malformed allow list gives no room, so
// only an invite lets anyone in. The caller holds r.mu.
func (r *room) restrictedConditions(userID string) ([]string, bool) {
	if r.version.CheckRestrictedJoinsAllowed() != nil {
		return nil, false
	}
	ev, _ := r.JoinRules()
	if ev == nil {
		return nil, false
	}
	var jr struct {
		JoinRule string `json:"join_rule"`
	}
	_ = json.Unmarshal(ev.Content(), &jr)
	if jr.JoinRule != spec.Restricted && jr.JoinRule != spec.KnockRestricted {
		return nil, false
	}
	if m := r.membership(userID); m == spec.Join || m == spec.Invite {
		return nil, false
	}
	return r.allowedRoomIDs(), true
}

// meetsConditions reports whether userID is joined to one of rooms as this
// server sees them, and whether this server is resident (has a joined
// user) in any of them, so that it can tell at all. Each room is read
// under its own lock: the caller holds no room's.
func (rs *Roomserver) meetsConditions(ctx context.Context, rooms []string, userID string) (allowed, resident bool) {
	for _, id := range rooms {
		ar, err := rs.loadRoom(ctx, id)
		if err != nil {
			continue
		}
		ar.mu.Lock()
		here, m := rs.hasLocalMember(ar), ar.membership(userID)
		ar.mu.Unlock()
		if !here {
			continue
		}
		resident = true
		if m == spec.Join {
			return true, true
		}
	}
	return false, resident
}

// restrictedJoin decides a join of userID to a restricted room (spec:
// server-server API, "Restricted rooms"): "" when the join is not a
// restricted one (any other join rule, or the user is joined or invited),
// else the local user who authorises it. The refusals: 403 M_FORBIDDEN when
// the user is in none of the allowed rooms this server is in (or, a local
// user, in none at all; or the allow list has no valid condition);
// ErrUnableToAuthoriseJoin when this server is in
// none of them and cannot tell; ErrUnableToGrantJoin when the user may join
// but no local user has the power to invite. The caller holds no room's
// lock.
func (rs *Roomserver) restrictedJoin(ctx context.Context, r *room, userID string) (string, error) {
	r.mu.Lock()
	rooms, restricted := r.restrictedConditions(userID)
	r.mu.Unlock()
	if !restricted {
		return "", nil
	}
	allowed, resident := rs.meetsConditions(ctx, rooms, userID)
	switch {
	case allowed:
	case resident || rs.isLocalUser(userID) || len(rooms) == 0:
		// Spec: "If no conditions are available, or none match the
		// required schema, then the joining server is considered to have
		// failed all conditions."
		// A local user joined to an allowed room makes this server
		// resident in it: it knows the user is in none.
		return "", api.Forbidden("%s is not joined to any of the rooms whose members may join %s", userID, r.id)
	default:
		return "", api.ErrUnableToAuthoriseJoin
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if via := rs.localAuthoriser(r); via != "" {
		return via, nil
	}
	return "", api.ErrUnableToGrantJoin
}

// localRestrictedJoin is restrictedJoin for a local user joining a room
// this server is in: when no local user can authorise the join, it goes
// through the room's other servers (JoinElsewhereError), whose users may.
func (rs *Roomserver) localRestrictedJoin(ctx context.Context, r *room, userID string) (string, error) {
	via, err := rs.restrictedJoin(ctx, r, userID)
	if !errors.Is(err, api.ErrUnableToGrantJoin) {
		return via, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var others []string
	for _, s := range r.joinedServers() {
		if s != string(rs.opts.ServerName) {
			others = append(others, s)
		}
	}
	return "", &api.JoinElsewhereError{Servers: others}
}

// localAuthoriser picks the user of this server who authorises a
// restricted join: a joined member with the power to invite (spec, auth
// rules for m.room.member, join, restricted: the user named by
// join_authorised_via_users_server must be joined and have "a power level
// greater than or equal to the invite level"). Room version 12 creators
// (MSC4289) have unlimited power and are not in the power levels. The most
// powerful is chosen, ties broken by user ID so the choice is stable; ""
// when none may invite. The caller holds r.mu.
func (rs *Roomserver) localAuthoriser(r *room) string {
	create, _ := r.Create()
	creator := ""
	var creators []string
	if create != nil {
		creator = string(create.SenderID())
		if r.version.PrivilegedCreators() {
			creators = gomatrixserverlib.CreatorsFromCreateEvent(create)
		}
	}
	pl, err := gomatrixserverlib.NewPowerLevelContentFromAuthEvents(r, creator)
	if err != nil {
		return ""
	}
	best, bestLevel := "", int64(0)
	for k, e := range r.state {
		if k.Type != spec.MRoomMember || !rs.isLocalUser(k.StateKey) {
			continue
		}
		if m, err := e.pdu.Membership(); err != nil || m != spec.Join {
			continue
		}
		level := pl.UserLevel(spec.SenderID(k.StateKey))
		if slices.Contains(creators, k.StateKey) {
			level = gomatrixserverlib.CreatorPowerLevel
		}
		if level < pl.Invite {
			continue
		}
		if best == "" || level > bestLevel || (level == bestLevel && k.StateKey < best) {
			best, bestLevel = k.StateKey, level
		}
	}
	return best
}

// checkAuthorisedJoin checks, for send_join, a join that names a user of
// this server as its authoriser: the joining user must meet the join
// rules' conditions as this server sees them (spec: server-server API,
// "Restricted rooms": the resident server "must ensure that the joining
// server satisfies at least one of the conditions"), with make_join's
// refusals. Whether that user is joined and may invite is the auth rules'
// part. Joins naming another server's user (which that server signed) or
// none pass.
func (rs *Roomserver) checkAuthorisedJoin(ctx context.Context, pdu gomatrixserverlib.PDU) error {
	var c struct {
		Via string `json:"join_authorised_via_users_server"`
	}
	if err := json.Unmarshal(pdu.Content(), &c); err != nil || c.Via == "" || !rs.isLocalUser(c.Via) {
		return nil
	}
	r, err := rs.loadRoom(ctx, pdu.RoomID().String())
	if err != nil {
		return err
	}
	r.mu.Lock()
	rooms, restricted := r.restrictedConditions(string(pdu.SenderID()))
	r.mu.Unlock()
	if !restricted {
		return nil // joined or invited: the key is ignored (auth rules)
	}
	allowed, resident := rs.meetsConditions(ctx, rooms, string(pdu.SenderID()))
	switch {
	case allowed:
		return nil
	case resident || len(rooms) == 0:
		return api.Forbidden("%s is not joined to any of the rooms whose members may join %s", pdu.SenderID(), r.id)
	default:
		return api.ErrUnableToAuthoriseJoin
	}
}

// withoutAuthorisedVia drops join_authorised_via_users_server from the
// content of a local user's own member event: only this server names the
// authoriser of its users' joins (restrictedJoin), so that a client cannot
// name a powerful user to pass the join rules' conditions, and a key with
// no meaning (a join after a join, which the auth rules allow without it)
// does not make other servers look for a signature of a server named by
// a value that is not a user ID.
func withoutAuthorisedVia(content json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(content, &m); err != nil {
		return content
	}
	if _, ok := m[authorisedViaKey]; !ok {
		return content
	}
	delete(m, authorisedViaKey)
	out, err := json.Marshal(m)
	if err != nil {
		return content
	}
	return out
}
