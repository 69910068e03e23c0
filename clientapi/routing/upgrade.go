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

// upgradeRequest is POST /rooms/{roomId}/upgrade's body (spec:
// room_upgrades.yaml).
type upgradeRequest struct {
	NewVersion string `json:"new_version"`
	// AdditionalCreators count only when the new version has creators
	// (room version 12 and later); otherwise they are ignored (spec).
	AdditionalCreators []string `json:"additional_creators"`
}

// POST /v3/rooms/{roomId}/upgrade (spec: "Room Upgrades", server
// behaviour): a new room of new_version with the old one's transferable
// state, power levels and bans; the old room's local aliases, canonical
// alias and directory listing move to it; a tombstone in the old room points
// to it and the old room's power levels leave only moderators able to speak
// or invite. Each local user's settings for the old room (push rules, tags,
// m.direct) follow them when they join the new room (carryRoomSettings; the
// upgrader at once). The spec names no invitations: Myelin invites nobody
// (docs/decisions.md, "Room upgrades in full").
func (rt *Routes) upgradeRoom(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	req, err := readUpgradeRequest(r, dev.UserID)
	if err != nil {
		return err
	}
	// A client that repeats its request while the first runs (a retry after
	// a timeout) gets the same new room, not a second one (as Synapse).
	key := roomID + "|" + req.NewVersion + "|" + dev.UserID
	newRoomID, err, _ := rt.upgrades.Do(key, func() (any, error) { return rt.performUpgrade(r.Context(), dev, roomID, req) })
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"replacement_room": newRoomID.(string)})
	return nil
}

// performUpgrade upgrades the room (spec: server behaviour, steps 1 to 6)
// and returns the new room's ID.
func (rt *Routes) performUpgrade(ctx context.Context, dev *api.Device, roomID string, req *upgradeRequest) (string, error) {
	old, err := rt.upgradableState(ctx, roomID, dev.UserID)
	if err != nil {
		return "", err
	}
	up := &upgrade{rt: rt, dev: dev, oldRoomID: roomID, old: old, req: req}
	if err := up.createReplacement(ctx); err != nil {
		return "", err
	}
	up.copyBans(ctx)
	up.settlePowerLevels(ctx)
	up.moveDirectory(ctx)
	if err := up.tombstone(ctx); err != nil {
		return "", err
	}
	up.dropOldCanonicalAlias(ctx)
	up.restrictOldRoom(ctx)
	rt.carryRoomSettings(ctx, dev, up.newRoomID)
	return up.newRoomID, nil
}

// readUpgradeRequest reads and checks the body: a known, stable new_version
// (else 400 M_UNSUPPORTED_ROOM_VERSION) and additional_creators that are
// user IDs (deduplicated, without the upgrader, who is the creator).
func readUpgradeRequest(r *http.Request, upgrader string) (*upgradeRequest, error) {
	var req upgradeRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return nil, err
	}
	if req.NewVersion == "" {
		return nil, httputil.MissingParam("Missing new_version")
	}
	if !gomatrixserverlib.StableRoomVersion(gomatrixserverlib.RoomVersion(req.NewVersion)) {
		return nil, roomapi.ErrUnsupportedRoomVersion
	}
	if !privilegedCreators(req.NewVersion) {
		req.AdditionalCreators = nil // spec: ignored for versions without additional creators
	}
	var creators []string
	for _, u := range req.AdditionalCreators {
		if _, err := spec.NewUserID(u, true); err != nil {
			return nil, httputil.BadJSON("additional_creators: %q is not a user ID", u)
		}
		if u != upgrader && !slices.Contains(creators, u) {
			creators = append(creators, u)
		}
	}
	req.AdditionalCreators = creators
	return &req, nil
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
// joined and may send the tombstone (spec: server behaviour, step 1).
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

// creators are the room's creators when its version privileges them (room
// version 12: the create event's sender and additional_creators), else nil.
func (o *oldRoom) creators() []string {
	if !o.version.PrivilegedCreators() {
		return nil
	}
	var create struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	_ = json.Unmarshal(o.state["m.room.create|"], &create)
	return append([]string{o.creator}, create.AdditionalCreators...)
}

// mayUpgrade: the user is a privileged creator, or their power level
// reaches the tombstone's (spec: authorization rules, with the room
// version's power-level parsing).
func (o *oldRoom) mayUpgrade(userID string) bool {
	if slices.Contains(o.creators(), userID) {
		return true
	}
	pl, ok := o.state["m.room.power_levels|"]
	if !ok {
		return userID == o.creator
	}
	p, ok := parsePowerLevels(o.version, pl)
	if !ok {
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

// carryRoomSettings gives the user, on joining (or creating) a room that
// replaces another, their settings for the old room: push rules, tags and
// m.direct (spec: "Room Upgrades": "When a user joins the new room, the
// server should automatically transfer/replicate some of the user's
// personalized settings"). Best effort: a failure is logged, the join
// stands.
func (rt *Routes) carryRoomSettings(ctx context.Context, dev *api.Device, roomID string) {
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
	if err := rt.users.CarryRoomSettings(ctx, dev.Localpart, create.Content.Predecessor.RoomID, roomID); err != nil {
		httputil.Logger(ctx).WithError(err).WithField("room_id", roomID).Warn("could not carry settings to an upgraded room")
	}
}
