package federationapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/matrix-org/gomatrixserverlib/spec"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// hierarchyAnswer is this server's answer to GET
// /_matrix/federation/v1/hierarchy/{roomId} (spec: server-server API,
// "Spaces").
type hierarchyAnswer struct {
	Room                 roomapi.SpaceRoom   `json:"room"`
	Children             []roomapi.SpaceRoom `json:"children"`
	InaccessibleChildren []string            `json:"inaccessible_children"`
}

// errNoHierarchy answers for a room this server does not know and for one
// the requesting server may not see alike (spec: 404 "The room is not known
// to the server or the requesting server is unable to peek/join it").
func errNoHierarchy() error { return httputil.NotFound("Room not found") }

// GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only=: the room
// and all of its children the requesting server could peek at or join; no
// pagination (spec: server-server API, "Spaces").
func (f *FederationAPI) hierarchy(w http.ResponseWriter, r *http.Request, origin spec.ServerName, _ []byte) error {
	suggestedOnly, err := queryBool(r.URL.Query(), "suggested_only")
	if err != nil {
		return err
	}
	if f.opts.Spaces == nil || f.opts.Rooms == nil {
		return errNoHierarchy()
	}
	ctx := r.Context()
	room, ok, err := f.spaceRoomFor(ctx, origin, httputil.Vars(r)["roomId"], suggestedOnly)
	if err != nil {
		return err
	}
	if !ok {
		return errNoHierarchy()
	}
	out := hierarchyAnswer{Room: room, Children: []roomapi.SpaceRoom{}, InaccessibleChildren: []string{}}
	for _, c := range room.ChildrenState {
		child, ok, err := f.spaceRoomFor(ctx, origin, c.StateKey, suggestedOnly)
		switch {
		case errors.Is(err, roomapi.ErrRoomNotFound):
			// "Rooms which the responding server cannot provide details
			// on will be outright excluded from the response."
		case err != nil:
			return err
		case ok:
			out.Children = append(out.Children, child)
		default:
			out.InaccessibleChildren = append(out.InaccessibleChildren, c.StateKey)
		}
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// queryBool reads an optional boolean query parameter ("true" or "false").
func queryBool(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, httputil.InvalidParam("%s must be true or false", name)
}

// spaceRoomFor is a room this server is in with its linked children (a
// space's; none for other rooms), and whether origin may see it;
// ErrRoomNotFound when this server cannot describe the room.
func (f *FederationAPI) spaceRoomFor(
	ctx context.Context, origin spec.ServerName, roomID string, suggestedOnly bool,
) (roomapi.SpaceRoom, bool, error) {
	// A room this server has left is one it cannot describe: its state
	// here is no longer kept current.
	servers, err := f.opts.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return roomapi.SpaceRoom{}, false, err
	}
	if !slices.Contains(servers, string(f.name)) {
		return roomapi.SpaceRoom{}, false, roomapi.ErrRoomNotFound
	}
	s, err := f.opts.Spaces.RoomSummary(ctx, roomID)
	if err != nil {
		return roomapi.SpaceRoom{}, false, err
	}
	ok, err := f.serverMaySee(ctx, origin, s)
	if err != nil || !ok {
		return roomapi.SpaceRoom{}, false, err
	}
	room := roomapi.SpaceRoom{RoomSummary: s, ChildrenState: []roomapi.SpaceChild{}}
	if room.IsSpace() {
		children, err := f.opts.Spaces.SpaceChildren(ctx, roomID)
		if err != nil {
			return roomapi.SpaceRoom{}, false, err
		}
		room.ChildrenState = roomapi.LinkedChildren(children, suggestedOnly)
	}
	return room, true, nil
}

// serverMaySee reports whether origin could peek at or join the room
// (spec: server-server API, "Spaces", and the client-server conditions of
// GET /hierarchy seen from a server): anyone may see a public, knockable or
// world-readable room; a server with a member joined or invited may see
// its room; a restricted room is shown to a server with a member joined to
// one of the rooms it allows. The room's server ACL comes first.
func (f *FederationAPI) serverMaySee(ctx context.Context, origin spec.ServerName, s roomapi.RoomSummary) (bool, error) {
	if !f.opts.Rooms.ServerAllowed(ctx, s.RoomID, string(origin)) {
		return false, nil
	}
	if s.OpenToAll() {
		return true, nil
	}
	in, err := f.opts.Rooms.ServerInRoom(ctx, s.RoomID, string(origin))
	if err != nil || in {
		return in, err
	}
	if s.JoinRule != spec.Restricted {
		return false, nil
	}
	for _, allowed := range s.AllowedRoomIDs {
		servers, err := f.opts.Rooms.JoinedServers(ctx, allowed)
		if errors.Is(err, roomapi.ErrRoomNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if slices.Contains(servers, string(origin)) {
			return true, nil
		}
	}
	return false, nil
}

// RemoteHierarchy implements fedapi.RemoteSpaces.
func (f *FederationAPI) RemoteHierarchy(
	ctx context.Context, roomID string, servers []string, suggestedOnly bool,
) (fedapi.SpaceHierarchy, error) {
	key := "fed:hierarchy:" + strconv.FormatBool(suggestedOnly) + ":" + roomID
	if c := f.opts.Cache; c != nil {
		if b, ok, err := c.Get(ctx, key); err == nil && ok {
			var h fedapi.SpaceHierarchy
			if json.Unmarshal(b, &h) == nil {
				return h, nil
			}
		}
	}
	path := "/_matrix/federation/v1/hierarchy/" + url.PathEscape(roomID) + "?suggested_only=" + strconv.FormatBool(suggestedOnly)
	lastErr := fedapi.ErrNoServers
	for _, s := range servers {
		if s == string(f.name) {
			continue
		}
		var h fedapi.SpaceHierarchy
		err := f.ask(ctx, http.MethodGet, spec.ServerName(s), path, nil, &h)
		if err == nil && len(h.Room) == 0 {
			err = badAnswer(spec.ServerName(s), "hierarchy", errors.New("an answer without room"))
		}
		if err != nil {
			lastErr = fmt.Errorf("federationapi: hierarchy of %s from %s: %w", roomID, s, err)
			continue
		}
		if b, err := json.Marshal(h); err == nil && f.opts.Cache != nil {
			_ = f.opts.Cache.Set(ctx, key, b, fedapi.HierarchyCacheTTL)
		}
		return h, nil
	}
	return fedapi.SpaceHierarchy{}, lastErr
}
