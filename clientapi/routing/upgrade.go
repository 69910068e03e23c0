package routing

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// upgradeCopiedState are the state events an upgrade carries to the new
// room (spec: "Room Upgrades", server behaviour: "Copies transferable state
// events to the new room"); the power levels go as the creation's override.
var upgradeCopiedState = []string{
	"m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.name", "m.room.topic",
	"m.room.avatar", "m.room.encryption", "m.room.server_acl", "m.room.pinned_events",
}

// POST /v3/rooms/{roomId}/upgrade (spec: "Room Upgrades"): a new room of
// new_version with the old one's transferable state and power levels, a
// tombstone in the old room pointing to it, and the old room's power levels
// raised so that only moderators speak there; each local user's push rules
// for the old room follow them to the new one (carryPushRules). NOTSPEC
// (for now): local aliases stay with the old room and additional creators
// are not carried; the room upgrades issue completes both.
func (rt *Routes) upgradeRoom(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	var req struct {
		NewVersion string `json:"new_version"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.NewVersion == "" {
		return httputil.MissingParam("Missing new_version")
	}
	ctx := r.Context()
	old, err := rt.upgradableState(ctx, roomID, dev.UserID)
	if err != nil {
		return err
	}
	newRoom, err := rt.createReplacement(ctx, dev, roomID, req.NewVersion, old)
	if err != nil {
		return err
	}
	if err := rt.tombstone(ctx, roomID, newRoom, dev, old.state); err != nil {
		return err
	}
	rt.carryPushRules(ctx, dev, newRoom)
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"replacement_room": newRoom})
	return nil
}

// roomState is a room's current state contents by "type|state_key".
type roomState map[string]json.RawMessage

// oldRoom is the room being upgraded, as the upgrade reads it.
type oldRoom struct {
	state   roomState
	creator string // the create event's sender
	version gomatrixserverlib.IRoomVersion
}

// upgradableState reads the old room's state and checks that the user is
// joined and may send the tombstone.
func (rt *Routes) upgradableState(ctx context.Context, roomID, userID string) (*oldRoom, error) {
	m, err := rt.rooms.Membership(ctx, roomID, userID)
	if err != nil {
		return nil, err
	}
	if m != "join" {
		return nil, httputil.Forbidden("You are not joined to this room")
	}
	events, err := rt.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	old := &oldRoom{state: roomState{}}
	for _, e := range events {
		var pdu struct {
			Type     string          `json:"type"`
			StateKey string          `json:"state_key"`
			Sender   string          `json:"sender"`
			Content  json.RawMessage `json:"content"`
		}
		if json.Unmarshal(e.PDU, &pdu) == nil {
			old.state[pdu.Type+"|"+pdu.StateKey] = pdu.Content
			if pdu.Type == "m.room.create" {
				old.creator = pdu.Sender
			}
		}
	}
	var create struct {
		RoomVersion string `json:"room_version"`
	}
	_ = json.Unmarshal(old.state["m.room.create|"], &create)
	if create.RoomVersion == "" {
		create.RoomVersion = "1" // spec: m.room.create, room_version defaults to "1"
	}
	if old.version, err = gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(create.RoomVersion)); err != nil {
		return nil, err
	}
	if !old.mayUpgrade(userID) {
		return nil, httputil.Forbidden("You may not upgrade this room: it needs the power to send m.room.tombstone")
	}
	return old, nil
}

// privilegedCreator: the room's version puts its creators above every
// power level (room version 12: the create event's sender and
// additional_creators), and the user is one of them.
func (o *oldRoom) privilegedCreator(userID string) bool {
	if !o.version.PrivilegedCreators() {
		return false
	}
	var create struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	_ = json.Unmarshal(o.state["m.room.create|"], &create)
	return userID == o.creator || slices.Contains(create.AdditionalCreators, userID)
}

// mayUpgrade: the user's power level reaches the tombstone's (spec:
// authorization rules, with the room version's power-level parsing).
func (o *oldRoom) mayUpgrade(userID string) bool {
	if o.privilegedCreator(userID) {
		return true
	}
	pl, ok := o.state["m.room.power_levels|"]
	if !ok {
		return userID == o.creator
	}
	var p gomatrixserverlib.PowerLevelContent
	if o.version.ParsePowerLevels(pl, &p) != nil {
		return false
	}
	return p.UserLevel(spec.SenderID(userID)) >= p.EventLevel("m.room.tombstone", true)
}

// privilegedCreators reports whether a room version gives its creators
// unlimited power (spec: room version 12).
func privilegedCreators(version string) bool {
	v, err := gomatrixserverlib.GetRoomVersion(gomatrixserverlib.RoomVersion(version))
	return err == nil && v.PrivilegedCreators()
}

// createReplacement creates the new room with the old one's state.
func (rt *Routes) createReplacement(ctx context.Context, dev *api.Device, oldRoomID, version string, old *oldRoom) (string, error) {
	st := old.state
	var initial []roomapi.StateEvent
	for _, t := range upgradeCopiedState {
		if c, ok := st[t+"|"]; ok {
			initial = append(initial, roomapi.StateEvent{Type: t, Content: c})
		}
	}
	creation := map[string]any{"predecessor": map[string]string{"room_id": oldRoomID}}
	var oldCreate map[string]json.RawMessage
	if json.Unmarshal(st["m.room.create|"], &oldCreate) == nil && oldCreate["m.federate"] != nil {
		creation["m.federate"] = oldCreate["m.federate"]
	}
	creationJSON, err := json.Marshal(creation)
	if err != nil {
		return "", err
	}
	name, avatar := rt.profileOfDevice(ctx, dev)
	pl := upgradedPowerLevels(st, dev.UserID, version, old.privilegedCreator(dev.UserID))
	return rt.rooms.CreateRoom(ctx, roomapi.CreateRoomRequest{
		Creator: dev.UserID, RoomVersion: version, Preset: "private_chat", InitialState: initial,
		CreationContent: creationJSON, PowerLevelContentOverride: pl,
		CreatorDisplayName: name, CreatorAvatarURL: avatar,
	})
}

// upgradedPowerLevels are the old room's power levels for the new one. A
// version 12 room's creators may not be listed (spec: room version 12);
// going the other way, the upgrading creator, unlisted in the old room,
// gets 100 in the new one, as a creator has in the versions before 12.
func upgradedPowerLevels(st roomState, creator, version string, wasPrivileged bool) json.RawMessage {
	pl, ok := st["m.room.power_levels|"]
	if !ok {
		return nil
	}
	nowPrivileged := privilegedCreators(version)
	if !nowPrivileged && !wasPrivileged {
		return pl
	}
	var p map[string]json.RawMessage
	users := map[string]int64{}
	if json.Unmarshal(pl, &p) != nil || (p["users"] != nil && json.Unmarshal(p["users"], &users) != nil) {
		return pl
	}
	if nowPrivileged {
		delete(users, creator)
	} else {
		users[creator] = max(users[creator], 100)
	}
	p["users"], _ = json.Marshal(users)
	out, _ := json.Marshal(p)
	return out
}

// tombstone points the old room to the new one and leaves only moderators
// able to speak or invite there (spec: "Room Upgrades").
func (rt *Routes) tombstone(ctx context.Context, oldRoomID, newRoom string, dev *api.Device, st roomState) error {
	content, _ := json.Marshal(map[string]string{"body": "This room has been replaced", "replacement_room": newRoom})
	empty := ""
	if _, err := rt.rooms.SendEvent(ctx, roomapi.SendEventRequest{
		RoomID: oldRoomID, Sender: dev.UserID, DeviceID: string(dev.ID), Type: "m.room.tombstone", StateKey: &empty, Content: content,
	}); err != nil {
		return err
	}
	var p map[string]any
	if json.Unmarshal(st["m.room.power_levels|"], &p) != nil || p == nil {
		return nil
	}
	usersDefault, _ := p["users_default"].(float64)
	restricted := max(50, usersDefault+1)
	p["events_default"], p["invite"] = restricted, restricted
	pl, _ := json.Marshal(p)
	if _, err := rt.rooms.SendEvent(ctx, roomapi.SendEventRequest{
		RoomID: oldRoomID, Sender: dev.UserID, DeviceID: string(dev.ID), Type: "m.room.power_levels", StateKey: &empty, Content: pl,
	}); err != nil {
		httputil.Logger(ctx).WithError(err).Info("room upgrade: could not restrict the old room's power levels")
	}
	return nil
}

// carryPushRules gives the user, on joining (or creating) a room that
// replaces another, copies of their push rules for the old room (spec:
// "Room Upgrades": clients and servers carry room-specific settings over).
// Best effort: a failure is logged, the join stands.
func (rt *Routes) carryPushRules(ctx context.Context, dev *api.Device, roomID string) {
	ev, err := rt.rooms.StateEvent(ctx, roomID, "m.room.create", "")
	if err != nil {
		return
	}
	var create struct {
		Content struct {
			Predecessor struct {
				RoomID string `json:"room_id"`
			} `json:"predecessor"`
		} `json:"content"`
	}
	if json.Unmarshal(ev.PDU, &create) != nil || create.Content.Predecessor.RoomID == "" {
		return
	}
	if err := rt.users.CopyRoomPushRules(ctx, dev.Localpart, create.Content.Predecessor.RoomID, roomID); err != nil {
		httputil.Logger(ctx).WithError(err).WithField("room_id", roomID).Warn("could not carry push rules to an upgraded room")
	}
}
