package internal

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

var _ api.AdminRooms = (*Roomserver)(nil)

// ListAdminRooms implements api.AdminRooms. Every room is read into
// memory (rooms stay cached there anyway); a room purged meanwhile is left
// out.
func (rs *Roomserver) ListAdminRooms(ctx context.Context) ([]api.AdminRoom, error) {
	ids, err := rs.store.AllRoomIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.AdminRoom, 0, len(ids))
	for _, id := range ids {
		ar, err := rs.adminRoom(ctx, id, false)
		if errors.Is(err, api.ErrRoomNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ar)
	}
	return out, nil
}

// AdminRoom implements api.AdminRooms.
func (rs *Roomserver) AdminRoom(ctx context.Context, roomID string) (api.AdminRoom, error) {
	return rs.adminRoom(ctx, roomID, true)
}

// adminRoom reads a room's summary; withForgotten also reads whether its
// local users forgot it (one more query, for the details only).
func (rs *Roomserver) adminRoom(ctx context.Context, roomID string, withForgotten bool) (api.AdminRoom, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return api.AdminRoom{}, err
	}
	r.mu.Lock()
	ar := rs.summarise(r)
	r.mu.Unlock()
	if ar.Public, err = rs.store.IsPublished(ctx, roomID); err != nil {
		return ar, err
	}
	if withForgotten {
		rows, err := rs.store.MemberRows(ctx, r.nid)
		if err != nil {
			return ar, err
		}
		ar.Forgotten = rs.allForgot(rows)
	}
	return ar, nil
}

// allForgot reports whether the room's local users all forgot it (and
// there was at least one).
func (rs *Roomserver) allForgot(rows []storage.MemberRow) bool {
	local := 0
	for _, m := range rows {
		if !rs.isLocalUser(m.UserID) {
			continue
		}
		local++
		if !m.Forgotten {
			return false
		}
	}
	return local > 0
}

// summarise reads what the admin API shows from r's current state. The
// caller holds r.mu.
func (rs *Roomserver) summarise(r *room) api.AdminRoom {
	pr := r.publicRoom()
	ar := api.AdminRoom{RoomID: r.id, Name: pr.Name, Topic: pr.Topic, Avatar: pr.AvatarURL,
		CanonicalAlias: pr.CanonicalAlias, JoinedMembers: pr.NumJoinedMembers, Version: string(r.version.Version()),
		JoinRules: pr.JoinRule, RoomType: pr.RoomType, StateEvents: len(r.state), Federatable: true}
	content := func(evType string, v any) {
		if ev, _ := r.get(evType, ""); ev != nil {
			_ = json.Unmarshal(ev.Content(), v)
		}
	}
	if r.version.PrivilegedCreators() {
		ar.PrivilegedCreators = r.creators()
	}
	if create, _ := r.Create(); create != nil {
		ar.Creator = string(create.SenderID())
	}
	var create struct {
		Federate *bool `json:"m.federate"`
	}
	content(spec.MRoomCreate, &create)
	if create.Federate != nil {
		ar.Federatable = *create.Federate
	}
	var enc struct {
		Algorithm string `json:"algorithm"`
	}
	content("m.room.encryption", &enc)
	ar.Encryption = enc.Algorithm
	var ga struct {
		GuestAccess string `json:"guest_access"`
	}
	content("m.room.guest_access", &ga)
	ar.GuestAccess = ga.GuestAccess
	var hv struct {
		HistoryVisibility string `json:"history_visibility"`
	}
	content(spec.MRoomHistoryVisibility, &hv)
	ar.HistoryVisibility = hv.HistoryVisibility
	for k, e := range r.state {
		if k.Type != spec.MRoomMember || !rs.isLocalUser(k.StateKey) {
			continue
		}
		if m, err := e.pdu.Membership(); err == nil && m == spec.Join {
			ar.JoinedLocalMembers++
		}
	}
	return ar
}

// SetRoomBlocked implements api.AdminRooms.
func (rs *Roomserver) SetRoomBlocked(ctx context.Context, roomID, by string, blocked bool) error {
	return rs.store.SetBlocked(ctx, roomID, by, blocked, rs.now().UnixMilli())
}

// RoomBlocked implements api.AdminRooms.
func (rs *Roomserver) RoomBlocked(ctx context.Context, roomID string) (bool, string, error) {
	return rs.store.Blocked(ctx, roomID)
}

// checkNotBlocked refuses a membership that would bring a user into a
// blocked room: a local user's join or knock, any invite (Synapse's
// blocked rooms). Leaving, kicking and banning stay possible.
func (rs *Roomserver) checkNotBlocked(ctx context.Context, roomID, target, membership string) error {
	switch {
	case membership == spec.Invite:
	case (membership == spec.Join || membership == spec.Knock) && rs.isLocalUser(target):
	default:
		return nil
	}
	blocked, _, err := rs.store.Blocked(ctx, roomID)
	if err != nil {
		return err
	}
	if blocked {
		return api.ErrRoomBlocked
	}
	return nil
}

// memberOfBlocked is checkNotBlocked for a membership event from another
// server that concerns a local user (other events pass: this server does
// not decide for other servers' users).
func (rs *Roomserver) memberOfBlocked(ctx context.Context, roomID string, pdu gomatrixserverlib.PDU) error {
	if pdu.Type() != spec.MRoomMember || pdu.StateKey() == nil || !rs.isLocalUser(*pdu.StateKey()) {
		return nil
	}
	m, err := pdu.Membership()
	if err != nil {
		return nil // the auth rules refuse it
	}
	return rs.checkNotBlocked(ctx, roomID, *pdu.StateKey(), m)
}
