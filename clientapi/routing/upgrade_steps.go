package routing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// upgradeCopiedState are the state events (state key "") an upgrade carries
// to the new room: the spec's recommended list (server behaviour, step 3)
// plus pinned events and the canonical alias, whose local aliases move with
// the room (step 4). The power levels go as the creation's override.
var upgradeCopiedState = []string{
	"m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.name", "m.room.topic",
	"m.room.avatar", "m.room.encryption", "m.room.server_acl", "m.room.pinned_events", "m.room.canonical_alias",
}

// upgradeCopiedKeyedState are state event types copied with every state
// key: a room's place in spaces (m.space.parent) and, for a space, its
// children (m.space.child) — without them an upgraded space, or a room in
// one, would fall out of the hierarchy.
var upgradeCopiedKeyedState = []string{"m.space.parent", "m.space.child"}

// upgrade is one POST /upgrade in progress.
type upgrade struct {
	rt        *Routes
	dev       *api.Device
	oldRoomID string
	old       *oldRoom
	req       *upgradeRequest

	newRoomID string
	// finalPL, when set, are the new room's power levels to send once the
	// upgrader, raised for the copy, is done (upgrades to versions without
	// privileged creators, when the upgrader's own level is too low).
	finalPL json.RawMessage
	// movedAliases are the local aliases now mapped to the new room.
	movedAliases []string
}

// logger is the request's logger with the rooms named.
func (up *upgrade) logger(ctx context.Context) *logrus.Entry {
	return httputil.Logger(ctx).WithField("room_id", up.oldRoomID).WithField("replacement_room", up.newRoomID)
}

// createReplacement creates the new room (spec: server behaviour, step 2
// and 3): create event with predecessor, type and additional creators, the
// transferable state, the power levels.
func (up *upgrade) createReplacement(ctx context.Context) error {
	creation, err := up.creationContent(ctx)
	if err != nil {
		return err
	}
	creators := append([]string{up.dev.UserID}, up.req.AdditionalCreators...)
	pl, final := upgradedPowerLevels(up.old, up.dev.UserID, creators, up.req.NewVersion)
	up.finalPL = final
	name, avatar := up.rt.profileOfDevice(ctx, up.dev)
	up.newRoomID, err = up.rt.rooms.CreateRoom(ctx, roomapi.CreateRoomRequest{
		Creator: up.dev.UserID, RoomVersion: up.req.NewVersion, Preset: "private_chat", InitialState: up.copiedState(),
		CreationContent: creation, PowerLevelContentOverride: pl,
		CreatorDisplayName: name, CreatorAvatarURL: avatar,
	})
	return err
}

// creationContent is the new create event's content: predecessor (with
// the old room's last event for versions before 12, where the spec still
// asks for it "where possible"; room version 12 omits it), the old room's
// type and m.federate, and the request's additional creators.
func (up *upgrade) creationContent(ctx context.Context) (json.RawMessage, error) {
	predecessor := map[string]string{"room_id": up.oldRoomID}
	if !privilegedCreators(up.req.NewVersion) {
		if s, ok := up.rt.rooms.(roomapi.Sync); ok {
			if last, err := s.LatestEventID(ctx, up.oldRoomID); err == nil && last != "" {
				predecessor["event_id"] = last
			}
		}
	}
	creation := map[string]any{"predecessor": predecessor}
	var oldCreate map[string]json.RawMessage
	if json.Unmarshal(up.old.state["m.room.create|"], &oldCreate) == nil {
		for _, k := range []string{"type", "m.federate"} {
			if oldCreate[k] != nil {
				creation[k] = oldCreate[k]
			}
		}
	}
	if len(up.req.AdditionalCreators) > 0 {
		creation["additional_creators"] = up.req.AdditionalCreators
	}
	return json.Marshal(creation)
}

// copiedState is the old room's transferable state as initial state.
func (up *upgrade) copiedState() []roomapi.StateEvent {
	var initial []roomapi.StateEvent
	for _, t := range upgradeCopiedState {
		if c, ok := up.old.state[t+"|"]; ok {
			initial = append(initial, roomapi.StateEvent{Type: t, Content: c})
		}
	}
	keys := make([]string, 0, len(up.old.state))
	for k := range up.old.state {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t, stateKey, _ := strings.Cut(k, "|")
		if slices.Contains(upgradeCopiedKeyedState, t) && isActiveSpaceLink(up.old.state[k]) {
			initial = append(initial, roomapi.StateEvent{Type: t, StateKey: stateKey, Content: up.old.state[k]})
		}
	}
	return initial
}

// isActiveSpaceLink: a space link whose content has via (spec: m.space.child
// and m.space.parent, without via the link is removed).
func isActiveSpaceLink(content json.RawMessage) bool {
	var c struct {
		Via []string `json:"via"`
	}
	return json.Unmarshal(content, &c) == nil && len(c.Via) > 0
}

// copyBans bans in the new room whoever is banned in the old one, so an
// upgrade is no way around a ban. Membership events are otherwise not
// transferred (spec: step 3): these are the upgrader's own.
func (up *upgrade) copyBans(ctx context.Context) {
	for k, c := range up.old.state {
		target, ok := strings.CutPrefix(k, "m.room.member|")
		if !ok || target == up.dev.UserID {
			continue
		}
		var m struct {
			Membership string `json:"membership"`
			Reason     string `json:"reason"`
		}
		if json.Unmarshal(c, &m) != nil || m.Membership != spec.Ban {
			continue
		}
		if _, err := up.rt.rooms.PerformMembership(ctx, roomapi.MembershipRequest{
			RoomID: up.newRoomID, Sender: up.dev.UserID, Target: target, Membership: spec.Ban, Reason: m.Reason,
		}); err != nil {
			up.logger(ctx).WithError(err).WithField("user_id", target).Warn("room upgrade: could not copy a ban")
		}
	}
}

// settlePowerLevels sends the new room's final power levels when the room
// was created with the upgrader raised for the copy.
func (up *upgrade) settlePowerLevels(ctx context.Context) {
	if up.finalPL == nil {
		return
	}
	if err := up.send(ctx, up.newRoomID, "m.room.power_levels", up.finalPL); err != nil {
		up.logger(ctx).WithError(err).Warn("room upgrade: could not set the new room's final power levels")
	}
}

// send sends a state event (state key "") as the upgrader.
func (up *upgrade) send(ctx context.Context, roomID, evType string, content json.RawMessage) error {
	empty := ""
	_, err := up.rt.rooms.SendEvent(ctx, roomapi.SendEventRequest{
		RoomID: roomID, Sender: up.dev.UserID, DeviceID: string(up.dev.ID), Type: evType, StateKey: &empty, Content: content,
	})
	return err
}

// moveDirectory moves the old room's local aliases to the new room (spec:
// step 4) and its place in the published room directory. Best effort: an
// alias the upgrader may not move stays (logged).
func (up *upgrade) moveDirectory(ctx context.Context) {
	dir, ok := up.rt.directory()
	if !ok {
		return
	}
	aliases, err := dir.AliasesOf(ctx, up.oldRoomID)
	if err != nil {
		up.logger(ctx).WithError(err).Warn("room upgrade: could not read the old room's aliases")
	}
	for _, alias := range aliases {
		if err := dir.DeleteAlias(ctx, alias, up.dev.UserID); err != nil {
			up.logger(ctx).WithError(err).WithField("alias", alias).Warn("room upgrade: could not move an alias")
			continue
		}
		if err := dir.CreateAlias(ctx, alias, up.newRoomID, up.dev.UserID); err != nil {
			up.logger(ctx).WithError(err).WithField("alias", alias).
				Error("room upgrade: an alias was removed from the old room but not given to the new one")
			continue
		}
		up.movedAliases = append(up.movedAliases, alias)
	}
	if published, err := dir.IsPublished(ctx, up.oldRoomID); err != nil || !published {
		return
	}
	if err := dir.SetPublished(ctx, up.newRoomID, up.dev.UserID, true); err != nil {
		up.logger(ctx).WithError(err).Warn("room upgrade: could not publish the new room")
		return
	}
	if err := dir.SetPublished(ctx, up.oldRoomID, up.dev.UserID, false); err != nil {
		up.logger(ctx).WithError(err).Warn("room upgrade: could not withdraw the old room from the directory")
	}
}

// tombstone points the old room to the new one (spec: step 5).
func (up *upgrade) tombstone(ctx context.Context) error {
	content, err := json.Marshal(map[string]string{"body": "This room has been replaced", "replacement_room": up.newRoomID})
	if err != nil {
		return err
	}
	return up.send(ctx, up.oldRoomID, "m.room.tombstone", content)
}

// dropOldCanonicalAlias removes the moved aliases from the old room's
// m.room.canonical_alias: they no longer point to it.
func (up *upgrade) dropOldCanonicalAlias(ctx context.Context) {
	raw, ok := up.old.state["m.room.canonical_alias|"]
	if !ok || len(up.movedAliases) == 0 {
		return
	}
	var c map[string]any
	if json.Unmarshal(raw, &c) != nil || c == nil {
		return
	}
	changed := false
	if a, _ := c["alias"].(string); slices.Contains(up.movedAliases, a) {
		delete(c, "alias")
		changed = true
	}
	if alts, ok := c["alt_aliases"].([]any); ok {
		kept := slices.DeleteFunc(slices.Clone(alts), func(a any) bool { s, _ := a.(string); return slices.Contains(up.movedAliases, s) })
		changed = changed || len(kept) != len(alts)
		c["alt_aliases"] = kept
	}
	if !changed {
		return
	}
	content, _ := json.Marshal(c)
	if err := up.send(ctx, up.oldRoomID, "m.room.canonical_alias", content); err != nil {
		up.logger(ctx).WithError(err).Info("room upgrade: could not update the old room's canonical alias")
	}
}

// restrictOldRoom leaves only moderators able to speak or invite in the old
// room (spec: step 6: events_default and invite at the greater of 50 and
// users_default + 1).
func (up *upgrade) restrictOldRoom(ctx context.Context) {
	var p map[string]any
	if json.Unmarshal(up.old.state["m.room.power_levels|"], &p) != nil || p == nil {
		return
	}
	usersDefault, _ := p["users_default"].(float64)
	restricted := max(50, usersDefault+1)
	p["events_default"], p["invite"] = restricted, restricted
	pl, _ := json.Marshal(p)
	if err := up.send(ctx, up.oldRoomID, "m.room.power_levels", pl); err != nil {
		up.logger(ctx).WithError(err).Info("room upgrade: could not restrict the old room's power levels")
	}
}
