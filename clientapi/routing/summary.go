package routing

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// errNoSummary is every refusal of a room summary: an unknown room and a
// room the requester may not see answer the same (spec: GET
// /v1/room_summary, 404), so private rooms do not leak.
func errNoSummary() error { return httputil.NotFound("Room not found") }

// roomSummaryAnswer is the answer of GET /v1/room_summary: the room's
// summary and, to a signed-in requester, their membership.
type roomSummaryAnswer struct {
	roomapi.RoomSummary
	Membership string `json:"membership,omitempty"`
}

// GET /v1/room_summary/{roomIdOrAlias} (spec: "Room Summaries", MSC3266).
// An access token is optional: without one only rooms anyone may peek at
// or ask to join are described (the spec's conditions for unauthenticated
// access).
func (rt *Routes) roomSummary(w http.ResponseWriter, r *http.Request) error {
	var dev *api.Device
	if tok := httputil.AccessToken(r); tok != "" {
		var err error
		if dev, err = api.Authenticate(r.Context(), rt.users, tok); err != nil {
			return err
		}
	}
	via, err := queryServers(r, "via")
	if err != nil {
		return err
	}
	roomID, err := rt.summaryRoomID(r.Context(), httputil.Vars(r)["roomIdOrAlias"])
	if err != nil {
		return err
	}
	s, err := rt.rooms.RoomSummary(r.Context(), roomID)
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		// A room this server does not know is described by the via servers.
		s, err = rt.remoteSummary(r.Context(), roomID, via)
	}
	if err != nil {
		return err
	}
	out := roomSummaryAnswer{RoomSummary: s}
	if dev != nil {
		out.Membership, err = rt.rooms.Membership(r.Context(), roomID, dev.UserID)
		if errors.Is(err, roomapi.ErrRoomNotFound) {
			err = nil // a room described by another server
		}
		if err != nil {
			return err
		}
	}
	ok, err := rt.summaryVisible(r.Context(), s, out.Membership, dev)
	if err != nil {
		return err
	}
	if !ok {
		return errNoSummary()
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// summaryRoomID resolves the path's room ID or alias: 400 for a malformed
// one, 404 for an alias no one can resolve here.
func (rt *Routes) summaryRoomID(ctx context.Context, idOrAlias string) (string, error) {
	if !strings.HasPrefix(idOrAlias, "#") {
		return idOrAlias, checkRoomID(idOrAlias)
	}
	_, server, err := parseAlias(idOrAlias)
	if err != nil {
		return "", err
	}
	if server != rt.opts.ServerName {
		if rt.opts.RemoteRooms == nil {
			return "", errNoSummary()
		}
		roomID, _, err := rt.opts.RemoteRooms.ResolveRemoteAlias(ctx, idOrAlias)
		if err != nil {
			return "", errNoSummary()
		}
		return roomID, nil
	}
	dir, ok := rt.directory()
	if !ok {
		return "", errNoSummary()
	}
	roomID, err := dir.ResolveAlias(ctx, idOrAlias)
	if errors.Is(err, roomapi.ErrAliasNotFound) {
		return "", errNoSummary()
	}
	return roomID, err
}

// summaryVisible decides whether the requester (nil: unauthenticated) may
// see the summary: anyone for rooms with a public, knock or
// knock_restricted join rule or world_readable history (the spec's
// conditions for unauthenticated access); a signed-in user also for rooms
// they are joined to, invited to or knocking on, and for restricted rooms
// they could join through a room they are joined to.
func (rt *Routes) summaryVisible(ctx context.Context, s roomapi.RoomSummary, membership string, dev *api.Device) (bool, error) {
	switch {
	case s.WorldReadable, s.JoinRule == spec.Public, s.JoinRule == spec.Knock, s.JoinRule == spec.KnockRestricted:
		return true, nil
	case dev == nil:
		return false, nil
	case membership == spec.Join, membership == spec.Invite, membership == spec.Knock:
		return true, nil
	case s.JoinRule != spec.Restricted || len(s.AllowedRoomIDs) == 0:
		return false, nil
	}
	joined, err := rt.rooms.JoinedRooms(ctx, dev.UserID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(s.AllowedRoomIDs, func(id string) bool { return slices.Contains(joined, id) }), nil
}
