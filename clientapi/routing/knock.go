package routing

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// POST /v3/knock/{roomIdOrAlias} (spec: client-server API, "Knocking on
// rooms"): the room is named by ID or alias; via (and the older
// server_name) name servers to knock through when this server is not in
// the room. Whether the knock is allowed is the room's auth rules' call
// (join rule knock, or knock_restricted from room version 10 on; not when
// joined, invited or banned): a refusal is 403.
func (rt *Routes) knock(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	target := httputil.Vars(r)["roomIdOrAlias"]
	via, err := queryServers(r, "via", "server_name")
	if err != nil {
		return err
	}
	body, err := httputil.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := httputil.DecodeJSONObject(body, &req); err != nil {
			return err
		}
	}
	roomID, servers, err := rt.membershipTarget(r.Context(), target)
	if err != nil {
		return err
	}
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	if err := rt.knockAs(r.Context(), dev, roomID, append(servers, via...), req.Reason); err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

// knockAs knocks dev's user on a room: here when this server is in it,
// else through another server (servers, then the room ID's server).
func (rt *Routes) knockAs(ctx context.Context, dev *api.Device, roomID string, servers []string, reason string) error {
	name, avatar := rt.profileOfDevice(ctx, dev)
	_, err := rt.rooms.PerformMembership(ctx, roomapi.MembershipRequest{RoomID: roomID, Sender: dev.UserID, Target: dev.UserID,
		Membership: "knock", Reason: reason, DisplayName: name, AvatarURL: avatar})
	if (!errors.Is(err, roomapi.ErrRoomNotFound) && !errors.Is(err, roomapi.ErrNotInRoom)) || rt.opts.RemoteRooms == nil {
		return err
	}
	content := map[string]any{}
	for k, v := range map[string]string{"displayname": name, "avatar_url": avatar, "reason": reason} {
		if v != "" {
			content[k] = v
		}
	}
	err = rt.opts.RemoteRooms.KnockRemote(ctx, roomID, dev.UserID, joinServers(roomID, servers), content)
	return remoteMembershipAnswer(ctx, err, "knock on", roomID)
}
