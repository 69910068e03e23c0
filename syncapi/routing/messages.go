package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// catchUpWait bounds how long a read waits for the sync stream to reach a
// membership the roomserver already has.
const catchUpWait = 2 * time.Second

// catchUp waits (up to catchUpWait) until the sync stream holds the room's
// newest event as the roomserver knows it, so that a read right after a
// write sees the write (read your writes across components).
func (rt *Routes) catchUp(ctx context.Context, roomID string) {
	if rt.rooms == nil {
		return
	}
	latest, err := rt.rooms.LatestEventID(ctx, roomID)
	if err != nil || latest == "" {
		return
	}
	rt.waitForEvent(ctx, latest)
}

// waitForEvent waits, up to catchUpWait, until the sync stream has stored
// eventID and the notifier has taken it in. Stored is not enough: the
// consumer commits a batch before it tells the notifier, and a sync built
// in between would miss the memberships the event changed. A room's events
// reach the notifier in stream order, so the room's last position tells.
func (rt *Routes) waitForEvent(ctx context.Context, eventID string) {
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	for wctx.Err() == nil {
		pos := rt.notifier.Pos()
		if ev, err := rt.store.EventByID(ctx, eventID); err == nil && rt.notifier.RoomLast(ev.RoomID) >= ev.Pos {
			return
		}
		rt.notifier.WaitAdvance(wctx, pos)
	}
}

// historyStart is below every stream position: the lower bound of a room's
// whole history, backfilled events (negative positions) included.
const historyStart int64 = -1 << 62

// catchUpUser waits (up to catchUpWait) until the sync stream holds the
// newest event the user sent or that changed their membership, as the
// roomserver knows it: a sync right after creating a room or being invited
// shows it (read your writes across components).
func (rt *Routes) catchUpUser(ctx context.Context, userID string) {
	if rt.rooms == nil {
		return
	}
	latest := rt.rooms.LastEventOf(userID)
	if latest == "" || rt.notifier.HasUserEvent(userID, latest) {
		return
	}
	rt.waitForEvent(ctx, latest)
}

// visibleRange returns the stream positions (lo, hi] of a room's history the
// user may read (spec: "History visibility"): up to now while joined, up to
// their leave otherwise; from the room's start when history is shared or
// world readable, from their join when it is "joined" or "invited".
func (rt *Routes) visibleRange(ctx context.Context, roomID, userID string, upto int64) (int64, int64, error) {
	rt.catchUp(ctx, roomID)
	if now := rt.notifier.Pos(); now > upto {
		upto = now
	}
	return rt.visibleRangeAt(ctx, roomID, userID, upto)
}

// visibleRangeAt is visibleRange as of upto, without waiting for the stream
// to catch up with the roomserver (/sync, which is eventually consistent by
// design: the next sync carries what this one missed).
func (rt *Routes) visibleRangeAt(ctx context.Context, roomID, userID string, upto int64) (int64, int64, error) {
	m, mPos, upto, err := rt.readableMembership(ctx, roomID, userID, upto)
	if err != nil {
		return 0, 0, fmt.Errorf("membership: %w", err)
	}
	hi := upto
	switch m {
	case "join":
	case "leave", "ban":
		if mPos == 0 {
			return rt.peek(ctx, roomID, upto)
		}
		if rt.forgotten(ctx, roomID, userID) {
			// Spec (/forget): the room's history is no longer the user's.
			return 0, 0, httputil.Forbidden("You have forgotten this room")
		}
		hi = mPos
	default:
		return rt.peek(ctx, roomID, upto)
	}
	hv, err := rt.historyVisibility(ctx, roomID, hi)
	if err != nil {
		return 0, 0, fmt.Errorf("history visibility: %w", err)
	}
	if hv != "joined" && hv != "invited" {
		return historyStart, hi, nil
	}
	// The latest join at or before hi starts what this user may see;
	// with "invited", the invite that led to it.
	joined, jPos, err := rt.lastJoin(ctx, roomID, userID, hi, hv == "invited")
	if err != nil {
		return 0, 0, fmt.Errorf("latest join: %w", err)
	}
	if !joined {
		return historyStart, hi, nil
	}
	return jPos - 1, hi, nil
}

// readableMembership is the user's membership of the room as of upto and
// the position of the event that set it. Read your writes: when the stream
// does not have the user's join yet and the roomserver (authoritative)
// does, it waits up to catchUpWait for the stream, and upto moves on with
// it (the upto returned).
func (rt *Routes) readableMembership(ctx context.Context, roomID, userID string, upto int64) (string, int64, int64, error) {
	m, mPos, err := rt.store.MembershipAt(ctx, roomID, userID, upto)
	if err != nil || m == "join" || rt.rooms == nil {
		return m, mPos, upto, err
	}
	if rm, err := rt.rooms.Membership(ctx, roomID, userID); err != nil || rm != "join" {
		return m, mPos, upto, nil
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	for m != "join" && wctx.Err() == nil {
		rt.notifier.Wait(wctx, userID, upto)
		upto = rt.notifier.Pos()
		if m, mPos, err = rt.store.MembershipAt(ctx, roomID, userID, upto); err != nil {
			return "", 0, 0, err
		}
	}
	return m, mPos, upto, nil
}

// historyVisibility is the room's history visibility in its state at pos:
// "shared" when the state has none (spec: "History visibility").
func (rt *Routes) historyVisibility(ctx context.Context, roomID string, pos int64) (string, error) {
	e, err := rt.store.StateEventAt(ctx, roomID, "m.room.history_visibility", "", pos)
	if errors.Is(err, storage.ErrNotFound) {
		return "shared", nil
	}
	if err != nil {
		return "", err
	}
	var c struct {
		Content struct {
			HistoryVisibility string `json:"history_visibility"`
		} `json:"content"`
	}
	_ = json.Unmarshal(e.JSON, &c)
	return c.Content.HistoryVisibility, nil
}

// forgotten reports whether the user forgot the room (false when the
// roomserver cannot say).
func (rt *Routes) forgotten(ctx context.Context, roomID, userID string) bool {
	if rt.rooms == nil {
		return false
	}
	f, err := rt.rooms.Forgotten(ctx, roomID, userID)
	return err == nil && f
}

// peek is the visible range of a user who is not and was never in a room:
// all of it when the room is world readable now (spec: "History
// visibility", world_readable: "any participant can read"), else nothing.
func (rt *Routes) peek(ctx context.Context, roomID string, upto int64) (int64, int64, error) {
	e, err := rt.store.CurrentStateEvent(ctx, roomID, "m.room.history_visibility", "")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, 0, err
	}
	if e != nil {
		var c struct {
			Content struct {
				HistoryVisibility string `json:"history_visibility"`
			} `json:"content"`
		}
		if json.Unmarshal(e.JSON, &c) == nil && c.Content.HistoryVisibility == "world_readable" {
			return historyStart, upto, nil
		}
	}
	return 0, 0, httputil.Forbidden("You are not a member of this room")
}

// lastJoin finds the position of the user's latest join at or before at,
// walking back over consecutive joins (profile changes) to the first and,
// withInvite, over the invite just before it.
func (rt *Routes) lastJoin(ctx context.Context, roomID, userID string, at int64, withInvite bool) (bool, int64, error) {
	for pos := at; pos > 0; {
		m, p, err := rt.store.MembershipAt(ctx, roomID, userID, pos)
		if err != nil || p == 0 {
			return false, 0, err
		}
		if m == "join" || (withInvite && m == "invite") {
			for {
				prev, pp, err := rt.store.MembershipAt(ctx, roomID, userID, p-1)
				if err != nil {
					return false, 0, err
				}
				if pp > 0 && (prev == "join" || (withInvite && prev == "invite")) {
					p = pp
					continue
				}
				return true, p, nil
			}
		}
		pos = p - 1
	}
	return false, 0, nil
}

// roomRange reads the {roomId} of a room's endpoint and the stream range
// its user may see there. Access comes first: a non-member learns nothing,
// not even which parameters are wrong.
func (rt *Routes) roomRange(r *http.Request, dev *userapi.Device) (roomID string, lo, hi int64, err error) {
	roomID = httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return "", 0, 0, httputil.InvalidParam("Invalid room ID")
	}
	lo, hi, err = rt.visibleRange(r.Context(), roomID, dev.UserID, rt.notifier.Pos())
	if err != nil {
		return "", 0, 0, fmt.Errorf("visible range: %w", err)
	}
	return roomID, lo, hi, nil
}

// GET /v3/rooms/{roomId}/messages
func (rt *Routes) messages(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID, lo, hi, err := rt.roomRange(r, dev)
	if err != nil {
		return err
	}
	ctx := r.Context()
	q, err := parseMessagesQuery(r.URL.Query(), lo, hi)
	if err != nil {
		return err
	}
	evs, err := rt.messagesPage(ctx, roomID, q, lo, hi)
	if err != nil {
		return fmt.Errorf("read page: %w", err)
	}
	resp, err := rt.messagesResponse(ctx, roomID, q, evs, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// messagesQuery is a /messages request's parameters, checked.
type messagesQuery struct {
	backwards bool
	filter    *roomEventFilter
	limit     int
	// from is where the page starts: the from token, else the end of the
	// visible range the page reads away from.
	from int64
	// to, when hasTo, is where the page must stop.
	to    int64
	hasTo bool
}

// parseMessagesQuery checks the query parameters, reporting the first
// wrong one; lo and hi are the user's visible range, whose end a page
// without a from token starts at.
func parseMessagesQuery(v url.Values, lo, hi int64) (*messagesQuery, error) {
	dir := v.Get("dir")
	if dir != "b" && dir != "f" {
		return nil, httputil.InvalidParam("dir must be b or f")
	}
	q := &messagesQuery{backwards: dir == "b", from: hi}
	if !q.backwards {
		q.from = lo
	}
	var err error
	if q.filter, err = parseRoomEventFilter(v.Get("filter")); err != nil {
		return nil, err
	}
	if q.limit, err = limitParam(v, 10, 1); err != nil {
		return nil, err
	}
	if s := v.Get("from"); s != "" {
		if q.from, err = parseToken(s); err != nil {
			return nil, err
		}
	}
	if s := v.Get("to"); s != "" {
		q.hasTo = true
		if q.to, err = parseToken(s); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// messagesPage reads up to limit events from the query's from token
// towards its to token, within the visible range (lo, hi]: newest first
// going backwards, oldest first going forwards.
func (rt *Routes) messagesPage(ctx context.Context, roomID string, q *messagesQuery, lo, hi int64) ([]*storage.Event, error) {
	if !q.backwards {
		upper := hi
		if q.hasTo {
			upper = min(upper, q.to)
		}
		return rt.store.RoomEvents(ctx, roomID, max(q.from, lo), upper, q.limit, false)
	}
	upper := min(q.from, hi)
	lower := lo
	if q.hasTo {
		lower = max(lower, q.to)
	}
	evs, err := rt.store.RoomEvents(ctx, roomID, lower, upper, q.limit, true)
	if err != nil {
		return nil, err
	}
	// A short page that reached the oldest event this server has, where
	// history before it is visible: other servers may have more.
	if len(evs) < q.limit && lower == historyStart && rt.backfillHistory(ctx, roomID, q.limit-len(evs)) {
		return rt.store.RoomEvents(ctx, roomID, lower, upper, q.limit, true)
	}
	return evs, nil
}

// messagesResponse is the /messages body for a page read: its tokens, the
// events the filter keeps, and with lazy loading their senders' members.
func (rt *Routes) messagesResponse(
	ctx context.Context, roomID string, q *messagesQuery, evs []*storage.Event, dev *userapi.Device,
) (map[string]any, error) {
	resp := map[string]any{"start": formatToken(q.from), "state": []json.RawMessage{}}
	full := len(evs) == q.limit
	var last int64
	if len(evs) > 0 {
		last = evs[len(evs)-1].Pos
	}
	// The filter applies to the page read (the tokens stay those of the
	// whole page, so nothing is skipped).
	evs, err := rt.withoutIgnored(ctx, dev.UserID, q.filter.apply(evs))
	if err != nil {
		return nil, fmt.Errorf("ignored users: %w", err)
	}
	// A full page: more may follow, from just past its last event.
	// NOTSPEC: a short page that still has events gets an end too, as
	// Synapse's does; the spec omits it when no further events are
	// available, but clients and Complement (TestRoomImageRoundtrip) expect
	// one with every non-empty chunk. The next page is then empty, without
	// an end.
	if full || len(evs) > 0 {
		if q.backwards {
			resp["end"] = formatToken(last - 1)
		} else {
			resp["end"] = formatToken(last)
		}
	}
	resp["chunk"] = rt.timelineEvents(ctx, roomID, evs, dev)
	if q.filter.LazyLoadMembers && len(evs) > 0 {
		members, err := rt.chunkMembers(ctx, roomID, q.backwards, evs)
		if err != nil {
			return nil, fmt.Errorf("lazy-loaded members: %w", err)
		}
		resp["state"] = clientEvents(members, dev)
	}
	return resp, nil
}

// chunkMembers returns the membership events of the chunk's senders as of
// the chunk's start (spec: "Lazy-loading room members").
func (rt *Routes) chunkMembers(ctx context.Context, roomID string, backwards bool, evs []*storage.Event) ([]*storage.Event, error) {
	at := evs[0].Pos - 1
	if backwards {
		at = evs[0].Pos
	}
	state, err := rt.store.StateAt(ctx, roomID, at)
	if err != nil {
		return nil, err
	}
	var out []*storage.Event
	for _, e := range lazyMembers(state, evs[0], evs) {
		if e.Type == "m.room.member" {
			out = append(out, e)
		}
	}
	return out, nil
}
