package routing

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// remoteSummary describes a room this server does not know from another
// server's answer to GET /_matrix/federation/v1/hierarchy (spec: GET
// /v1/room_summary, via: "servers to attempt to request the summary
// from when the local server cannot generate it"): the via servers first,
// then the server of the room ID (rooms before version 12 name it). No
// answer is 404, as for an unknown room.
func (rt *Routes) remoteSummary(ctx context.Context, roomID string, via []string) (roomapi.RoomSummary, error) {
	if rt.opts.RemoteSpaces == nil {
		return roomapi.RoomSummary{}, errNoSummary()
	}
	servers := slices.Clone(via)
	// Room IDs of version 12 have no server part (spec: rooms v12).
	if _, server, ok := strings.Cut(roomID, ":"); ok && server != "" {
		servers = append(servers, server)
	}
	h, err := rt.opts.RemoteSpaces.RemoteHierarchy(ctx, roomID, servers, false)
	if err != nil {
		httputil.Logger(ctx).WithError(err).WithField(httputil.FieldRoomID, roomID).Debug("room summary: no server described the room")
		return roomapi.RoomSummary{}, errNoSummary()
	}
	var room roomapi.SpaceRoom
	if json.Unmarshal(h.Room, &room) != nil || room.RoomID != roomID {
		return roomapi.RoomSummary{}, errNoSummary()
	}
	return room.RoomSummary, nil
}
