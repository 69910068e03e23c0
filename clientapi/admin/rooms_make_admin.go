package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// POST /_synapse/admin/v1/rooms/{roomIdOrAlias}/make_room_admin
// {"user_id": ...}: gives a local user (the caller by default) the
// highest power level a local member of the room has, sent as that
// member; a user not in a room that is not public is invited too.
func (a *Admin) makeRoomAdmin(w http.ResponseWriter, r *http.Request, c *Caller) error {
	var body struct {
		UserID string `json:"user_id"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	target := body.UserID
	if target == "" {
		target = c.Device.UserID
	}
	if _, ok := a.isLocal(target); !ok {
		return httputil.BadRequestUnknown("Only local users can be admins of rooms")
	}
	roomID, err := a.roomOrAlias(r)
	if err != nil {
		return err
	}
	pl, err := a.powerLevels(r, roomID)
	if err != nil {
		return err
	}
	granter, level, err := a.strongestLocalMember(r, roomID, pl)
	if err != nil {
		return err
	}
	if err := a.grant(r, roomID, granter, target, level, pl); err != nil {
		return err
	}
	c.Note("room " + roomID + ": " + target + " made admin by " + granter)
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// roomOrAlias is the path's room, a room ID or a local alias resolved.
func (a *Admin) roomOrAlias(r *http.Request) (string, error) {
	id := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(id, "#") {
		return roomParam(r)
	}
	roomID, err := a.d.Rooms.ResolveAlias(r.Context(), id)
	if errors.Is(err, roomapi.ErrAliasNotFound) {
		return "", httputil.NotFound("Room alias %s not found", id)
	}
	return roomID, err
}

// powerLevels is the room's m.room.power_levels content, with the
// room's creators (room version 12: above every level) as creators.
type powerLevels struct {
	content  map[string]json.RawMessage
	users    map[string]int64
	creators []string // only for rooms whose creators are privileged
}

func (a *Admin) powerLevels(r *http.Request, roomID string) (*powerLevels, error) {
	ev, err := a.d.Rooms.StateEvent(r.Context(), roomID, "m.room.power_levels", "")
	if err != nil {
		return nil, notFoundRoom(err)
	}
	ce, err := ev.Client()
	if err != nil {
		return nil, err
	}
	pl := &powerLevels{content: map[string]json.RawMessage{}, users: map[string]int64{}}
	_ = json.Unmarshal(ce.Content, &pl.content)
	_ = json.Unmarshal(pl.content["users"], &pl.users)
	room, err := a.d.Rooms.AdminRoom(r.Context(), roomID)
	if err != nil {
		return nil, notFoundRoom(err)
	}
	pl.creators = room.PrivilegedCreators
	return pl, nil
}

// strongestLocalMember is the joined local member with the highest power
// level (a creator first) and the level to give: theirs, or for a
// creator the highest level in the room's users.
func (a *Admin) strongestLocalMember(r *http.Request, roomID string, pl *powerLevels) (string, int64, error) {
	members, err := a.d.Rooms.Members(r.Context(), roomID, "join")
	if err != nil {
		return "", 0, notFoundRoom(err)
	}
	best, bestLevel, creator := "", int64(-1<<62), false
	for _, m := range members {
		if _, ok := a.isLocal(m); !ok {
			continue
		}
		isCreator := slices.Contains(pl.creators, m)
		if lvl := pl.level(m); !creator && (isCreator || lvl > bestLevel) {
			best, bestLevel, creator = m, lvl, isCreator
		}
	}
	if best == "" {
		return "", 0, httputil.BadRequestUnknown("No local admin user in room")
	}
	if creator {
		bestLevel = 100
		for _, l := range pl.users {
			bestLevel = max(bestLevel, l)
		}
	}
	return best, bestLevel, nil
}

// level is a user's power level (users_default when unlisted).
func (pl *powerLevels) level(userID string) int64 {
	if l, ok := pl.users[userID]; ok {
		return l
	}
	var def int64
	_ = json.Unmarshal(pl.content["users_default"], &def)
	return def
}

// grant sends the power levels with target at level, as granter, and
// invites target when they are not in a room that is not public.
func (a *Admin) grant(r *http.Request, roomID, granter, target string, level int64, pl *powerLevels) error {
	ctx := r.Context()
	if !slices.Contains(pl.creators, target) && pl.level(target) < level {
		pl.users[target] = level
		users, err := json.Marshal(pl.users)
		if err != nil {
			return err
		}
		pl.content["users"] = users
		content, err := json.Marshal(pl.content)
		if err != nil {
			return err
		}
		empty := ""
		if _, err := a.d.Rooms.SendEvent(ctx, roomapi.SendEventRequest{RoomID: roomID, Sender: granter,
			Type: "m.room.power_levels", StateKey: &empty, Content: content}); err != nil {
			return err
		}
	}
	m, err := a.d.Rooms.Membership(ctx, roomID, target)
	if err != nil || m == "join" || m == "invite" {
		return err
	}
	room, err := a.d.Rooms.AdminRoom(ctx, roomID)
	if err != nil || room.JoinRules == "public" {
		return err
	}
	_, err = a.d.Rooms.PerformMembership(ctx, roomapi.MembershipRequest{RoomID: roomID, Sender: granter, Target: target,
		Membership: "invite"})
	return err
}
