package internal

import (
	"encoding/json"
	"fmt"
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

// authAllowed applies the room version's authorisation rules: gomatrixserverlib's
// Allowed, corrected where the pinned version refuses what the spec allows.
// Every auth check of the roomserver goes through it: local events, events
// from other servers (against their auth events, the state before them and
// the current state), history, and state resolution's iterative auth checks.
func authAllowed(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) error {
	if err := checkKnockRestrictedDefined(ev, auth); err != nil {
		return err
	}
	err := gomatrixserverlib.Allowed(ev, auth, api.UserIDForSender)
	if err == nil {
		return nil
	}
	retry, nerr := withCurrentNotifications(ev, auth)
	if nerr != nil {
		return nerr
	}
	if retry == nil {
		return err // the library's refusal is not about notification levels
	}
	return gomatrixserverlib.Allowed(retry, auth, api.UserIDForSender)
}

// withCurrentNotifications applies the power levels rule on notification
// levels (spec: room versions 6 and later, auth rules, m.room.power_levels:
// "For each entry being changed in, or removed from, the notifications
// property: if the current value is greater than the sender's current power
// level, reject", and likewise for added or changed values above it). The
// pinned gomatrixserverlib also refuses a current value equal to the
// sender's level, and in room version 12 reads a creator's level from the
// users map (0) instead of counting it infinite.
//
// When the event's notification changes pass, it returns the event with
// the current notification levels in place of its own, for the library to
// check the rest; nil when the event changes no notification level (or is
// no power levels event of such a room version).
func withCurrentNotifications(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) (gomatrixserverlib.PDU, error) {
	if ev.Type() != spec.MRoomPowerLevels || !ev.StateKeyEquals("") || !hasNotificationsRule(ev.Version()) {
		return nil, nil
	}
	newPL, err := gomatrixserverlib.NewPowerLevelContentFromEvent(ev)
	if err != nil {
		return nil, nil
	}
	var oldPL gomatrixserverlib.PowerLevelContent
	oldPL.Defaults()
	oldEv, _ := auth.PowerLevels()
	if oldEv != nil {
		if oldPL, err = gomatrixserverlib.NewPowerLevelContentFromEvent(oldEv); err != nil {
			return nil, nil
		}
	}
	level := senderLevel(ev, auth)
	changed := false
	for _, k := range notificationKeys(oldPL, newPL) {
		o, n := oldPL.NotificationLevel(k), newPL.NotificationLevel(k)
		if o == n {
			continue
		}
		changed = true
		if o > level || n > level {
			return nil, &gomatrixserverlib.NotAllowed{Message: fmt.Sprintf(
				"changing the %q notification level from %d to %d needs both at or below your power level (%d)", k, o, n, level)}
		}
	}
	if !changed {
		return nil, nil
	}
	content, err := replaceNotifications(ev.Content(), oldEv)
	if err != nil {
		return nil, nil
	}
	return contentOverride{PDU: ev, content: content}, nil
}

// hasNotificationsRule reports whether a room version checks changes of
// notification levels (versions 6 and later): its power levels check
// refuses raising a level above the sender's.
func hasNotificationsRule(v gomatrixserverlib.RoomVersion) bool {
	impl, err := gomatrixserverlib.GetRoomVersion(v)
	if err != nil {
		return false
	}
	raise := gomatrixserverlib.PowerLevelContent{Notifications: map[string]int64{"room": 1}}
	return impl.CheckPowerLevelEvent("", nil, gomatrixserverlib.PowerLevelContent{}, raise) != nil
}

// senderLevel is the power level of ev's sender in auth, room version 12
// creators counting as infinitely powerful.
func senderLevel(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) int64 {
	create, _ := auth.Create()
	creator := ""
	if create != nil {
		creator = string(create.SenderID())
		ver, err := gomatrixserverlib.GetRoomVersion(create.Version())
		if err == nil && ver.PrivilegedCreators() &&
			slices.Contains(gomatrixserverlib.CreatorsFromCreateEvent(create), string(ev.SenderID())) {
			return gomatrixserverlib.CreatorPowerLevel
		}
	}
	pl, err := gomatrixserverlib.NewPowerLevelContentFromAuthEvents(auth, creator)
	if err != nil {
		return 0
	}
	return pl.UserLevel(ev.SenderID())
}

func notificationKeys(a, b gomatrixserverlib.PowerLevelContent) []string {
	keys := make([]string, 0, len(a.Notifications)+len(b.Notifications))
	for k := range a.Notifications {
		keys = append(keys, k)
	}
	for k := range b.Notifications {
		if _, ok := a.Notifications[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// replaceNotifications returns content with the notifications of the
// current power levels event (none when there is none).
func replaceNotifications(content []byte, current gomatrixserverlib.PDU) ([]byte, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(content, &c); err != nil {
		return nil, fmt.Errorf("power levels content: %w", err)
	}
	delete(c, "notifications")
	if current != nil {
		var old map[string]json.RawMessage
		if err := json.Unmarshal(current.Content(), &old); err != nil {
			return nil, fmt.Errorf("current power levels content: %w", err)
		}
		if n, ok := old["notifications"]; ok {
			c["notifications"] = n
		}
	}
	return json.Marshal(c)
}

// contentOverride is an event seen with other content, for an auth check.
type contentOverride struct {
	gomatrixserverlib.PDU
	content []byte
}

func (c contentOverride) Content() []byte { return c.content }

// knockRestrictedUndefined are the room versions with knocking or
// restricted joins but no knock_restricted join rule (spec: it comes with
// room version 10). The pinned gomatrixserverlib takes knock_restricted as
// knock and as restricted in them too.
var knockRestrictedUndefined = map[gomatrixserverlib.RoomVersion]bool{"7": true, "8": true, "9": true}

// checkKnockRestrictedDefined refuses, in those versions, a knock or an
// uninvited join under a knock_restricted join rule: the spec's rules know
// no such join rule there, and an unknown one lets nobody knock or join
// without an invite (spec: room versions 7–9, authorization rules,
// m.room.member).
func checkKnockRestrictedDefined(ev gomatrixserverlib.PDU, auth gomatrixserverlib.AuthEventProvider) error {
	if ev.Type() != spec.MRoomMember || !knockRestrictedUndefined[ev.Version()] {
		return nil
	}
	membership, err := ev.Membership()
	if err != nil || (membership != spec.Knock && membership != spec.Join) {
		return nil
	}
	rules, _ := auth.JoinRules()
	if rules == nil {
		return nil
	}
	var jr struct {
		JoinRule string `json:"join_rule"`
	}
	if json.Unmarshal(rules.Content(), &jr) != nil || jr.JoinRule != spec.KnockRestricted {
		return nil
	}
	if membership == spec.Join && ev.StateKey() != nil {
		if prev, _ := auth.Member(spec.SenderID(*ev.StateKey())); prev != nil {
			if m, _ := prev.Membership(); m == spec.Join || m == spec.Invite {
				return nil
			}
		}
	}
	return &gomatrixserverlib.NotAllowed{Message: fmt.Sprintf(
		"room version %s has no knock_restricted join rule: %s needs an invite", ev.Version(), membership)}
}
