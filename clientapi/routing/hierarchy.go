package routing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Bounds of GET /v1/rooms/{roomId}/hierarchy (spec: "Servers should apply
// a default value, and impose a maximum value to avoid resource
// exhaustion").
const (
	hierarchyDefaultLimit = 50
	hierarchyMaxLimit     = 100
	hierarchyMaxDepth     = 50 // also the default
	// hierarchySessionTTL is how long a next_batch token stays usable.
	hierarchySessionTTL = 5 * time.Minute
	hierarchyKeyPrefix  = "cs:hierarchy:"
)

// hierarchyQuery is the query of GET /hierarchy. MaxDepth and Suggested
// are nil when not given: a later page keeps the first page's.
type hierarchyQuery struct {
	Limit     int
	MaxDepth  *int
	Suggested *bool
	From      string
}

// hierarchyEntry is a room waiting to be visited.
type hierarchyEntry struct {
	RoomID string   `json:"room_id"`
	Depth  int      `json:"depth"`
	Via    []string `json:"via,omitempty"`
	// Remote is the room as another server described it among its
	// parent's children (used unless it is a space, whose children only
	// its own answer has).
	Remote *roomapi.SpaceRoom `json:"remote,omitempty"`
}

// hierarchySession is the walk between pages, kept in the cache under the
// next_batch token: the rooms still to visit (a stack: depth first, as the
// spec's description of the endpoint says) and those already visited,
// bound to the requester and the first page's parameters.
type hierarchySession struct {
	UserID        string           `json:"user_id"`
	RoomID        string           `json:"room_id"`
	SuggestedOnly bool             `json:"suggested_only"`
	MaxDepth      int              `json:"max_depth"`
	Stack         []hierarchyEntry `json:"stack"`
	Visited       []string         `json:"visited"`
}

// hierarchyAnswer is GET /hierarchy's answer.
type hierarchyAnswer struct {
	Rooms     []roomapi.SpaceRoom `json:"rooms"`
	NextBatch string              `json:"next_batch,omitempty"`
}

// parseHierarchyQuery reads limit, max_depth, suggested_only and from:
// 400 M_INVALID_PARAM for values that are not what the spec allows.
func parseHierarchyQuery(q url.Values) (hierarchyQuery, error) {
	out := hierarchyQuery{Limit: hierarchyDefaultLimit, From: q.Get("from")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return out, httputil.InvalidParam("limit must be an integer greater than zero")
		}
		out.Limit = min(n, hierarchyMaxLimit)
	}
	if s := q.Get("max_depth"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return out, httputil.InvalidParam("max_depth must be a non-negative integer")
		}
		n = min(n, hierarchyMaxDepth)
		out.MaxDepth = &n
	}
	switch q.Get("suggested_only") {
	case "":
	case "true":
		out.Suggested = new(true)
	case "false":
		out.Suggested = new(false)
	default:
		return out, httputil.InvalidParam("suggested_only must be true or false")
	}
	return out, nil
}

// GET /v1/rooms/{roomId}/hierarchy (spec: client-server API, "Spaces"):
// a page of the space tree under the room, depth first, each room once,
// rooms the requester may not see left out and not walked into.
func (rt *Routes) hierarchy(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	q, err := parseHierarchyQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	sess, err := rt.hierarchySession(ctx, dev, roomID, q)
	if err != nil {
		return err
	}
	out := hierarchyAnswer{Rooms: []roomapi.SpaceRoom{}}
	walk := hierarchyWalk{rt: rt, dev: dev, sess: sess, visited: make(map[string]bool, len(sess.Visited))}
	for _, id := range sess.Visited {
		walk.visited[id] = true
	}
	for len(sess.Stack) > 0 && len(out.Rooms) < q.Limit {
		room, ok, err := walk.next(ctx)
		if err != nil {
			return err
		}
		if ok {
			out.Rooms = append(out.Rooms, room)
		}
	}
	if len(sess.Stack) > 0 {
		if out.NextBatch, err = rt.saveHierarchySession(ctx, sess); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// hierarchySession is the walk a request continues: the one its from token
// names (400 M_INVALID_PARAM for an unknown token, another user's or
// room's, or changed parameters), or a new one from the room, which the
// requester must be able to see (403 otherwise, for an unknown room too:
// spec, GET /hierarchy, 403 "The room does not exist").
func (rt *Routes) hierarchySession(ctx context.Context, dev *api.Device, roomID string, q hierarchyQuery) (*hierarchySession, error) {
	if q.From != "" {
		return rt.loadHierarchySession(ctx, dev, roomID, q)
	}
	s, err := rt.rooms.RoomSummary(ctx, roomID)
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		return nil, httputil.Forbidden("You are not allowed to view this room.")
	}
	if err != nil {
		return nil, err
	}
	membership, err := rt.rooms.Membership(ctx, roomID, dev.UserID)
	if err != nil {
		return nil, err
	}
	ok, err := rt.hierarchyVisible(ctx, s, membership, dev)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httputil.Forbidden("You are not allowed to view this room.")
	}
	sess := &hierarchySession{UserID: dev.UserID, RoomID: roomID, MaxDepth: hierarchyMaxDepth,
		Stack: []hierarchyEntry{{RoomID: roomID}}}
	if q.MaxDepth != nil {
		sess.MaxDepth = *q.MaxDepth
	}
	if q.Suggested != nil {
		sess.SuggestedOnly = *q.Suggested
	}
	return sess, nil
}

func (rt *Routes) loadHierarchySession(ctx context.Context, dev *api.Device, roomID string, q hierarchyQuery) (*hierarchySession, error) {
	b, ok, err := rt.cache.Get(ctx, hierarchyKeyPrefix+q.From)
	if err != nil {
		return nil, err
	}
	var sess hierarchySession
	if !ok || json.Unmarshal(b, &sess) != nil || sess.UserID != dev.UserID || sess.RoomID != roomID {
		return nil, httputil.InvalidParam("Unknown pagination token")
	}
	if (q.MaxDepth != nil && *q.MaxDepth != sess.MaxDepth) || (q.Suggested != nil && *q.Suggested != sess.SuggestedOnly) {
		return nil, httputil.InvalidParam("suggested_only and max_depth cannot change on paginated requests")
	}
	return &sess, nil
}

// saveHierarchySession keeps the walk under a new random token.
func (rt *Routes) saveHierarchySession(ctx context.Context, sess *hierarchySession) (string, error) {
	b, err := json.Marshal(sess)
	if err != nil {
		return "", err
	}
	token := rand.Text()
	if err := rt.cache.Set(ctx, hierarchyKeyPrefix+token, b, hierarchySessionTTL); err != nil {
		return "", err
	}
	return token, nil
}

// hierarchyVisible is summaryVisible for a room this server knows, except
// that a user banned from the room does not see it (spec: GET /hierarchy,
// 403 "The user has been banned from the room").
func (rt *Routes) hierarchyVisible(ctx context.Context, s roomapi.RoomSummary, membership string, dev *api.Device) (bool, error) {
	if membership == spec.Ban {
		return false, nil
	}
	return rt.summaryVisible(ctx, s, membership, dev)
}

// hierarchyWalk visits the rooms of a session for one request.
type hierarchyWalk struct {
	rt   *Routes
	dev  *api.Device
	sess *hierarchySession
	// visited indexes sess.Visited.
	visited map[string]bool
}

// visit marks rooms visited.
func (w *hierarchyWalk) visit(roomIDs ...string) {
	for _, id := range roomIDs {
		if !w.visited[id] {
			w.visited[id] = true
			w.sess.Visited = append(w.sess.Visited, id)
		}
	}
}

// next visits the room on top of the stack: the room and whether the
// requester may see it; a room seen before, or one no server could
// describe, is not.
func (w *hierarchyWalk) next(ctx context.Context) (roomapi.SpaceRoom, bool, error) {
	s := w.sess
	e := s.Stack[len(s.Stack)-1]
	s.Stack = s.Stack[:len(s.Stack)-1]
	if w.visited[e.RoomID] {
		return roomapi.SpaceRoom{}, false, nil
	}
	w.visit(e.RoomID)
	room, children, ok, err := w.room(ctx, e)
	if err != nil || !ok {
		return roomapi.SpaceRoom{}, false, err
	}
	if room.IsSpace() && e.Depth < s.MaxDepth {
		// Pushed last to first, so that the first child is visited next.
		for i := len(room.ChildrenState) - 1; i >= 0; i-- {
			c := room.ChildrenState[i]
			if w.visited[c.StateKey] {
				continue
			}
			s.Stack = append(s.Stack, hierarchyEntry{RoomID: c.StateKey, Depth: e.Depth + 1, Via: c.Via(), Remote: children[c.StateKey]})
		}
	}
	return room, true, nil
}

// room describes one room of the walk, from this server's state when it
// knows the room, else from the servers of its m.space.child via (spec:
// "Where a child room is unknown to the local server, federation is used
// to fill in the details"), and says whether the requester may see it.
// children are the room's children as the other server described them.
func (w *hierarchyWalk) room(ctx context.Context, e hierarchyEntry) (roomapi.SpaceRoom, map[string]*roomapi.SpaceRoom, bool, error) {
	s, err := w.rt.rooms.RoomSummary(ctx, e.RoomID)
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		return w.remoteRoom(ctx, e)
	}
	if err != nil {
		return roomapi.SpaceRoom{}, nil, false, err
	}
	membership, err := w.rt.rooms.Membership(ctx, e.RoomID, w.dev.UserID)
	if err != nil {
		return roomapi.SpaceRoom{}, nil, false, err
	}
	ok, err := w.rt.hierarchyVisible(ctx, s, membership, w.dev)
	if err != nil || !ok {
		return roomapi.SpaceRoom{}, nil, false, err
	}
	room := roomapi.SpaceRoom{RoomSummary: s, ChildrenState: []roomapi.SpaceChild{}}
	if room.IsSpace() {
		children, err := w.rt.rooms.SpaceChildren(ctx, e.RoomID)
		if err != nil {
			return roomapi.SpaceRoom{}, nil, false, err
		}
		room.ChildrenState = roomapi.LinkedChildren(children, w.sess.SuggestedOnly)
	}
	return room, nil, true, nil
}

// remoteRoom describes a room this server is not in from another server's
// answer: the entry's own description when its parent's answer gave one
// and it is no space, else the hierarchy of one of its via servers. A
// room no server describes is left out; its inaccessible children are
// never visited (spec: they "should not be re-requested").
func (w *hierarchyWalk) remoteRoom(ctx context.Context, e hierarchyEntry) (roomapi.SpaceRoom, map[string]*roomapi.SpaceRoom, bool, error) {
	if e.Remote != nil && !e.Remote.IsSpace() {
		room := *e.Remote
		room.ChildrenState = []roomapi.SpaceChild{}
		ok, err := w.rt.summaryVisible(ctx, room.RoomSummary, "", w.dev)
		return room, nil, ok, err
	}
	if w.rt.opts.RemoteSpaces == nil || len(e.Via) == 0 {
		return roomapi.SpaceRoom{}, nil, false, nil
	}
	h, err := w.rt.opts.RemoteSpaces.RemoteHierarchy(ctx, e.RoomID, e.Via, w.sess.SuggestedOnly)
	if err != nil {
		httputil.Logger(ctx).WithError(err).WithField(httputil.FieldRoomID, e.RoomID).Debug("hierarchy: no server described the room")
		return roomapi.SpaceRoom{}, nil, false, nil
	}
	var room roomapi.SpaceRoom
	if json.Unmarshal(h.Room, &room) != nil || room.RoomID != e.RoomID {
		return roomapi.SpaceRoom{}, nil, false, nil
	}
	room.ChildrenState = roomapi.LinkedChildren(room.ChildrenState, w.sess.SuggestedOnly)
	if !room.IsSpace() {
		room.ChildrenState = []roomapi.SpaceChild{}
	}
	// NOTSPEC: the requester's invite to a room this server is not in is
	// not known here (the roomserver keeps no state of such rooms), so an
	// invite-only room on another server is shown only if it is open to
	// all or restricted to a room the requester is joined to.
	ok, err := w.rt.summaryVisible(ctx, room.RoomSummary, "", w.dev)
	if err != nil || !ok {
		return roomapi.SpaceRoom{}, nil, false, err
	}
	w.visit(h.InaccessibleChildren...)
	children := make(map[string]*roomapi.SpaceRoom, len(h.Children))
	for _, raw := range h.Children {
		var c roomapi.SpaceRoom
		if json.Unmarshal(raw, &c) == nil && c.RoomID != "" {
			children[c.RoomID] = &c
		}
	}
	return room, children, true, nil
}
