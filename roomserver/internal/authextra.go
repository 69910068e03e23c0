package internal

import (
	"encoding/json"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
)

// userLevel returns a user's power level in r's current state, counting
// room version 12 creators as infinitely powerful. The caller holds r.mu.
func (r *room) userLevel(userID string) (int64, gomatrixserverlib.PowerLevelContent, error) {
	create, _ := r.Create()
	if create != nil && r.version.PrivilegedCreators() && slices.Contains(gomatrixserverlib.CreatorsFromCreateEvent(create), userID) {
		pl, err := gomatrixserverlib.NewPowerLevelContentFromAuthEvents(r, string(create.SenderID()))
		return gomatrixserverlib.CreatorPowerLevel, pl, err
	}
	creator := ""
	if create != nil {
		creator = string(create.SenderID())
	}
	pl, err := gomatrixserverlib.NewPowerLevelContentFromAuthEvents(r, creator)
	if err != nil {
		return 0, pl, err
	}
	return pl.UserLevel(spec.SenderID(userID)), pl, nil
}

// checkUnban applies the part of the membership rules that
// gomatrixserverlib's Allowed skips for unbans. Spec (room versions, auth
// rules, m.room.member, membership leave): "If the target user's current
// membership state is ban, and the sender's power level is less than the ban
// level, reject" and then, as for any removal of another user, the sender
// needs at least the kick level and more power than the target.
func (r *room) checkUnban(ev gomatrixserverlib.PDU) error {
	if ev.Type() != spec.MRoomMember || ev.StateKey() == nil || *ev.StateKey() == string(ev.SenderID()) {
		return nil
	}
	var c struct {
		Membership string `json:"membership"`
	}
	if err := json.Unmarshal(ev.Content(), &c); err != nil || c.Membership != spec.Leave {
		return nil
	}
	target := *ev.StateKey()
	if r.membership(target) != spec.Ban {
		return nil
	}
	senderLevel, pl, err := r.userLevel(string(ev.SenderID()))
	if err != nil {
		return api.Forbidden("cannot read the room's power levels: %v", err)
	}
	targetLevel, _, err := r.userLevel(target)
	if err != nil {
		return api.Forbidden("cannot read the room's power levels: %v", err)
	}
	if senderLevel < pl.Kick {
		return api.Forbidden("unbanning needs the kick level (%d); you have %d", pl.Kick, senderLevel)
	}
	if targetLevel >= senderLevel {
		return api.Forbidden("you cannot unban a user with a power level (%d) at or above yours (%d)", targetLevel, senderLevel)
	}
	return nil
}
