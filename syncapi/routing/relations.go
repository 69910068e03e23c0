package routing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

const (
	defaultRelationsLimit = 50
	// maxRelationDepth is how deep a recursive /relations goes (spec: "at
	// least 3 levels").
	maxRelationDepth    = 3
	defaultThreadsLimit = 50
)

func (rt *Routes) setupRelations(r *mux.Router) {
	const p = "/_matrix/client/v1/rooms/{roomId}/relations/{eventId}"
	r.Handle(p, rt.authed(rt.relations)).Methods(http.MethodGet)
	r.Handle(p+"/{relType}", rt.authed(rt.relations)).Methods(http.MethodGet)
	r.Handle(p+"/{relType}/{eventType}", rt.authed(rt.relations)).Methods(http.MethodGet)
	r.Handle("/_matrix/client/v1/rooms/{roomId}/threads", rt.authed(rt.threads)).Methods(http.MethodGet)
}

// relationsQuery is a /relations request's parameters, checked.
type relationsQuery struct {
	storage.RelationsQuery
	recurse bool
	hasFrom bool
	from    string
}

// parseRelationsQuery reads dir, from, to, limit and recurse (spec: GET
// /_matrix/client/v1/rooms/{roomId}/relations/{eventId}); tokens are those
// of /messages and /sync.
func parseRelationsQuery(v url.Values) (*relationsQuery, error) {
	q := &relationsQuery{}
	switch v.Get("dir") {
	case "", "b":
		q.Backwards = true
	case "f":
	default:
		return nil, httputil.InvalidParam("dir must be b or f")
	}
	var err error
	if q.Limit, err = limitParam(v, defaultRelationsLimit, 1); err != nil {
		return nil, err
	}
	if s := v.Get("from"); s != "" {
		q.hasFrom, q.from = true, s
		if q.From, err = parseToken(s); err != nil {
			return nil, err
		}
	}
	if s := v.Get("to"); s != "" {
		q.HasTo = true
		if q.To, err = parseToken(s); err != nil {
			return nil, err
		}
	}
	switch v.Get("recurse") {
	case "", "false":
	case "true":
		q.recurse = true
	default:
		return nil, httputil.InvalidParam("recurse must be true or false")
	}
	return q, nil
}

// GET /v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
//
// The children of a visible event that the user may see, newest first by
// default; 404 when the parent is not there or not visible to the user.
func (rt *Routes) relations(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	roomID, eventID := v["roomId"], v["eventId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	ctx := r.Context()
	parent, lo, hi, err := rt.visibleEvent(ctx, roomID, eventID, dev.UserID)
	var me *httputil.MatrixError
	if errors.As(err, &me) && me.Status == http.StatusForbidden {
		return httputil.NotFound("Event not found")
	}
	if err != nil {
		return err
	}
	q, err := parseRelationsQuery(r.URL.Query())
	if err != nil {
		return err
	}
	q.RoomID, q.RelType, q.EventType, q.Lo, q.Hi = roomID, v["relType"], v["eventType"], lo, hi
	if !q.hasFrom {
		q.From = hi
		if !q.Backwards {
			q.From = lo
		}
	}
	q.Parents = []string{parent.ID}
	depth := 1
	if q.recurse {
		if q.Parents, depth, err = rt.relationTree(ctx, roomID, parent.ID); err != nil {
			return err
		}
	}
	page := q.RelationsQuery
	page.Limit = q.Limit + 1
	evs, err := rt.store.RelatedEvents(ctx, page)
	if err != nil {
		return fmt.Errorf("relations of %s: %w", eventID, err)
	}
	resp := map[string]any{}
	if len(evs) > q.Limit {
		evs = evs[:q.Limit]
		last := evs[len(evs)-1].Pos
		if q.Backwards {
			last--
		}
		resp["next_batch"] = formatToken(last)
	}
	if q.hasFrom {
		resp["prev_batch"] = q.from
	}
	if q.recurse {
		resp["recursion_depth"] = depth
	}
	resp["chunk"] = rt.timelineEvents(ctx, roomID, evs, dev)
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// relationTree lists root and the events related to it directly or through
// fewer than maxRelationDepth relationships (the parents whose children a
// recursive /relations returns), and the depth of the deepest child (at
// least 1).
func (rt *Routes) relationTree(ctx context.Context, roomID, root string) ([]string, int, error) {
	seen := map[string]bool{root: true}
	parents, frontier := []string{root}, []string{root}
	depth := 1
	for level := 1; level <= maxRelationDepth && len(frontier) > 0; level++ {
		children, err := rt.store.RelationChildren(ctx, roomID, frontier)
		if err != nil {
			return nil, 0, fmt.Errorf("relation tree of %s: %w", root, err)
		}
		frontier = frontier[:0:0]
		for _, c := range children {
			if !seen[c] {
				seen[c] = true
				frontier = append(frontier, c)
			}
		}
		if len(frontier) > 0 {
			depth = level
		}
		if level < maxRelationDepth {
			parents = append(parents, frontier...)
		}
	}
	return parents, depth, nil
}

// GET /v1/rooms/{roomId}/threads
//
// The room's thread roots the user may see, the thread with the latest
// reply first, each with its m.thread aggregation. next_batch is the
// position just below the last thread's latest reply.
func (rt *Routes) threads(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID, lo, hi, err := rt.roomRange(r, dev)
	if err != nil {
		return err
	}
	ctx := r.Context()
	v := r.URL.Query()
	q := storage.ThreadsQuery{RoomID: roomID, Lo: lo, Hi: hi, Before: hi}
	switch v.Get("include") {
	case "", "all":
	case "participated":
		q.Participant = dev.UserID
	default:
		return httputil.InvalidParam("include must be all or participated")
	}
	limit, err := limitParam(v, defaultThreadsLimit, 1)
	if err != nil {
		return err
	}
	if s := v.Get("from"); s != "" {
		if q.Before, err = parseToken(s); err != nil {
			return err
		}
	}
	q.Limit = limit + 1
	ts, err := rt.store.Threads(ctx, q)
	if err != nil {
		return err
	}
	resp := map[string]any{}
	if len(ts) > limit {
		ts = ts[:limit]
		resp["next_batch"] = formatToken(ts[len(ts)-1].LatestPos - 1)
	}
	roots, err := rt.threadRoots(ctx, roomID, ts, lo, hi)
	if err != nil {
		return err
	}
	resp["chunk"] = rt.timelineEvents(ctx, roomID, roots, dev)
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// threadRoots reads the roots of threads, in order, keeping those of the
// room in the visible range (lo, hi].
func (rt *Routes) threadRoots(ctx context.Context, roomID string, ts []storage.Thread, lo, hi int64) ([]*storage.Event, error) {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.RootID)
	}
	evs, err := rt.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("thread roots: %w", err)
	}
	byID := make(map[string]*storage.Event, len(evs))
	for _, e := range evs {
		byID[e.ID] = e
	}
	roots := make([]*storage.Event, 0, len(ts))
	for _, t := range ts {
		if e := byID[t.RootID]; e != nil && e.RoomID == roomID && e.Pos > lo && e.Pos <= hi {
			roots = append(roots, e)
		}
	}
	return roots, nil
}
