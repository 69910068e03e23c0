package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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
// eventID.
func (rt *Routes) waitForEvent(ctx context.Context, eventID string) {
	wctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	for wctx.Err() == nil {
		pos := rt.notifier.Pos()
		if _, err := rt.store.EventByID(ctx, eventID); err == nil {
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
	m, mPos, err := rt.store.MembershipAt(ctx, roomID, userID, upto)
	if err != nil {
		return 0, 0, err
	}
	if m != "join" && rt.rooms != nil {
		// Read your writes: the stream may not have the user's join yet
		// when the roomserver (authoritative) already has it.
		if rm, err := rt.rooms.Membership(ctx, roomID, userID); err == nil && rm == "join" {
			wctx, cancel := context.WithTimeout(ctx, catchUpWait)
			for m != "join" && wctx.Err() == nil {
				rt.notifier.Wait(wctx, userID, upto)
				upto = rt.notifier.Pos()
				if m, mPos, err = rt.store.MembershipAt(ctx, roomID, userID, upto); err != nil {
					cancel()
					return 0, 0, err
				}
			}
			cancel()
		}
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
	hv := "shared"
	state, err := rt.store.StateAt(ctx, roomID, hi)
	if err != nil {
		return 0, 0, err
	}
	joinedPos := historyStart
	for _, e := range state {
		if e.Type == "m.room.history_visibility" {
			var c struct {
				Content struct {
					HistoryVisibility string `json:"history_visibility"`
				} `json:"content"`
			}
			_ = json.Unmarshal(e.JSON, &c)
			hv = c.Content.HistoryVisibility
		}
	}
	if hv == "joined" || hv == "invited" {
		// The latest join at or before hi starts what this user may see;
		// with "invited", the invite that led to it.
		if jm, jPos, err := rt.lastJoin(ctx, roomID, userID, hi, hv == "invited"); err != nil {
			return 0, 0, err
		} else if jm {
			joinedPos = jPos - 1
		}
	}
	return joinedPos, hi, nil
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

// GET /v3/rooms/{roomId}/messages
func (rt *Routes) messages(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	q := r.URL.Query()
	// Access first: a non-member learns nothing, not even which
	// parameters are wrong.
	upto := rt.notifier.Pos()
	lo, hi, err := rt.visibleRange(r.Context(), roomID, dev.UserID, upto)
	if err != nil {
		return err
	}
	dir := q.Get("dir")
	if dir != "b" && dir != "f" {
		return httputil.InvalidParam("dir must be b or f")
	}
	filter, err := parseRoomEventFilter(q.Get("filter"))
	if err != nil {
		return err
	}
	limit := 10
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return httputil.InvalidParam("limit must be a non-negative integer")
		}
		limit = min(max(n, 1), 1000)
	}
	from := hi
	if dir == "f" {
		from = lo
	}
	if s := q.Get("from"); s != "" {
		if from, err = parseToken(s); err != nil {
			return err
		}
	}
	var to int64
	s := q.Get("to")
	hasTo := s != ""
	if hasTo {
		if to, err = parseToken(s); err != nil {
			return err
		}
	}
	var evs []*storage.Event
	if dir == "b" {
		upper := min(from, hi)
		lower := lo
		if hasTo {
			lower = max(lower, to)
		}
		evs, err = rt.store.RoomEvents(r.Context(), roomID, lower, upper, limit, true)
		// A short page that reached the oldest event this server has, where
		// history before it is visible: other servers may have more.
		if err == nil && len(evs) < limit && lower == historyStart &&
			rt.backfillHistory(r.Context(), roomID, limit-len(evs)) {
			evs, err = rt.store.RoomEvents(r.Context(), roomID, lower, upper, limit, true)
		}
	} else {
		lower := max(from, lo)
		upper := hi
		if hasTo {
			upper = min(upper, to)
		}
		evs, err = rt.store.RoomEvents(r.Context(), roomID, lower, upper, limit, false)
	}
	if err != nil {
		return err
	}
	resp := map[string]any{"start": formatToken(from), "state": []json.RawMessage{}}
	if len(evs) == limit {
		last := evs[len(evs)-1].Pos
		if dir == "b" {
			resp["end"] = formatToken(last - 1)
		} else {
			resp["end"] = formatToken(last)
		}
	}
	// The filter applies to the page read (the tokens stay those of the
	// whole page, so nothing is skipped).
	evs = filter.apply(evs)
	resp["chunk"] = rt.timelineEvents(r.Context(), roomID, evs, dev)
	if filter.LazyLoadMembers && len(evs) > 0 {
		// Spec: "Lazy-loading room members": the membership events of the
		// chunk's senders, as of the chunk's start.
		at := evs[0].Pos - 1
		if dir == "b" {
			at = evs[0].Pos
		}
		state, err := rt.store.StateAt(r.Context(), roomID, at)
		if err != nil {
			return err
		}
		members := lazyMembers(state, evs[0], evs)
		var out []*storage.Event
		for _, e := range members {
			if e.Type == "m.room.member" {
				out = append(out, e)
			}
		}
		resp["state"] = clientEvents(out, dev)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}
