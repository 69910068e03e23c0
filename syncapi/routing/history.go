package routing

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// History endpoints: jump to a point in time (timestamp_to_event), read
// around an event (context), and read everything sent in a time window
// (the messages_between extension, docs/api-extensions.md). All of them
// show only what /messages would: events at stream positions in the
// user's visibleRange.

const (
	defaultContextLimit = 10
	defaultBetweenLimit = 100
	maxHistoryLimit     = 1000
)

func (rt *Routes) setupHistory(r *mux.Router) {
	r.Handle("/_matrix/client/v1/rooms/{roomId}/timestamp_to_event", rt.authed(rt.timestampToEvent)).Methods(http.MethodGet)
	r.Handle("/_matrix/client/v3/rooms/{roomId}/context/{eventId}", rt.authed(rt.eventContext)).Methods(http.MethodGet)
	r.Handle("/_matrix/client/v3/rooms/{roomId}/event/{eventId}", rt.authed(rt.getEvent)).Methods(http.MethodGet)
	r.Handle("/_matrix/client/unstable/im.myelin/rooms/{roomId}/messages_between", rt.authed(rt.messagesBetween)).Methods(http.MethodGet)
}

// GET /v1/rooms/{roomId}/timestamp_to_event
func (rt *Routes) timestampToEvent(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	q := r.URL.Query()
	ts, err := timestampParam(q, "ts")
	if err != nil {
		return err
	}
	dir := q.Get("dir")
	switch dir {
	case "f", "b":
	case "":
		return httputil.MissingParam("Missing dir")
	default:
		return httputil.InvalidParam("dir must be f or b")
	}
	e, err := rt.eventNearTS(r.Context(), roomID, dev.UserID, ts, dir == "f")
	if errors.Is(err, storage.ErrNotFound) {
		direction := "forward"
		if dir == "b" {
			direction = "backward"
		}
		return httputil.NotFound("Unable to find event from %d in %s direction", ts, direction)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"event_id": e.ID, "origin_server_ts": e.TS})
	return nil
}

// eventNearTS is the event the user may see nearest ts (ErrNotFound:
// none). When this server lacks the room's history before the time asked
// (its oldest event is not the create event and is newer than ts, or
// nothing was found), the room's other servers are asked too (spec:
// server-server API, timestamp_to_event: "when the server does not have
// all of the room history"); a closer answer from them is backfilled into
// the timeline and used if the user may see it.
func (rt *Routes) eventNearTS(ctx context.Context, roomID, userID string, ts int64, forward bool) (*storage.Event, error) {
	lo, hi, err := rt.visibleRange(ctx, roomID, userID, rt.notifier.Pos())
	if err != nil {
		return nil, err
	}
	local, err := rt.store.VisibleEventNearTS(ctx, roomID, ts, forward, lo, hi)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if !rt.historyMissingAt(ctx, roomID, ts, local) {
		return local, err
	}
	remote, rerr := rt.backfiller.TimestampToEvent(ctx, roomID, ts, forward)
	if rerr != nil || !closerInTime(remote, local, ts, forward) {
		if rerr != nil {
			httputil.Logger(ctx).WithError(rerr).WithField("room_id", roomID).Info("timestamp_to_event: no other server answered")
		}
		return local, err
	}
	if ev := rt.placeRemoteEvent(ctx, roomID, userID, remote.EventID); ev != nil {
		return ev, nil
	}
	return local, err
}

// historyMissingAt reports whether other servers may know an event nearer
// ts than local (nil: none found): this server's timeline of the room does
// not reach back to its creation, and ts is before its oldest event or
// nothing was found.
func (rt *Routes) historyMissingAt(ctx context.Context, roomID string, ts int64, local *storage.Event) bool {
	if rt.backfiller == nil {
		return false
	}
	oldest, err := rt.store.OldestEvent(ctx, roomID)
	if err != nil || oldest.Type == "m.room.create" {
		return false
	}
	return local == nil || ts < oldest.TS
}

// closerInTime reports whether the remote answer is nearer ts than local
// (nil: none) in the direction asked; a tie keeps the local one.
func closerInTime(remote fedapi.EventAt, local *storage.Event, ts int64, forward bool) bool {
	if forward && remote.OriginServerTS < ts || !forward && remote.OriginServerTS > ts {
		return false // not an answer to the question
	}
	if local == nil {
		return true
	}
	if forward {
		return remote.OriginServerTS < local.TS
	}
	return remote.OriginServerTS > local.TS
}

// maxPlaceRounds and placeWait bound the backfills that try to bring
// another server's answer to timestamp_to_event into the timeline.
const (
	maxPlaceRounds = 10
	placeWait      = 30 * time.Second
)

// placeRemoteEvent backfills the room's history until it holds eventID
// (or no more comes) and returns that event if the user may see it.
func (rt *Routes) placeRemoteEvent(ctx context.Context, roomID, userID, eventID string) *storage.Event {
	ctx, cancel := context.WithTimeout(ctx, placeWait)
	defer cancel()
	for round := 0; ; round++ {
		ev, err := rt.store.EventByID(ctx, eventID)
		if err == nil && ev.RoomID == roomID && !ev.Outlier {
			lo, hi, err := rt.visibleRange(ctx, roomID, userID, rt.notifier.Pos())
			if err != nil || ev.Pos <= lo || ev.Pos > hi {
				return nil
			}
			return ev
		}
		if round == maxPlaceRounds || !rt.backfillHistory(ctx, roomID, backfillBatch) {
			return nil
		}
	}
}

// GET /v3/rooms/{roomId}/event/{eventId}
//
// An event the user may see under the room's history visibility (as
// /messages would show it), with unsigned.transaction_id for the device
// that sent it; 404 for any other (spec: "M_NOT_FOUND if the event was not
// found or you do not have permission to read this event").
func (rt *Routes) getEvent(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	roomID, eventID := v["roomId"], v["eventId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	ev, _, _, err := rt.visibleEvent(r.Context(), roomID, eventID, dev.UserID)
	var me *httputil.MatrixError
	if errors.As(err, &me) && me.Status == http.StatusForbidden {
		return httputil.NotFound("Event not found")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rt.timelineEvents(r.Context(), roomID, []*storage.Event{ev}, dev)[0])
	return nil
}

// visibleEvent returns an event of a room the user may see, with the
// user's visible range (lo, hi]; 403 from visibleRange for a user who may
// see nothing of the room, 404 for an event not there or not visible.
func (rt *Routes) visibleEvent(ctx context.Context, roomID, eventID, userID string) (*storage.Event, int64, int64, error) {
	lo, hi, err := rt.visibleRange(ctx, roomID, userID, rt.notifier.Pos())
	if err != nil {
		return nil, 0, 0, err
	}
	ev, err := rt.store.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (ev.RoomID != roomID || ev.Pos <= lo || ev.Pos > hi)) {
		return nil, 0, 0, httputil.NotFound("Event not found")
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return ev, lo, hi, nil
}

// GET /v3/rooms/{roomId}/context/{eventId}
//
// The tokens follow /messages: start is the position just below the oldest
// event returned (paginate backwards from it), end the position of the
// newest (paginate forwards from it), so a client continuing with /messages
// sees neither gaps nor duplicates. state is the room state at the last
// event returned, as the spec says (the event itself when nothing follows).
func (rt *Routes) eventContext(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	v := httputil.Vars(r)
	roomID, eventID := v["roomId"], v["eventId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	q := r.URL.Query()
	limit, err := limitParam(q, defaultContextLimit, 0)
	if err != nil {
		return err
	}
	f, err := parseRoomEventFilter(q.Get("filter"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	ev, lo, hi, err := rt.visibleEvent(ctx, roomID, eventID, dev.UserID)
	if err != nil {
		return err
	}
	// Synapse's split: the odd one goes after.
	beforeLimit := limit / 2
	afterLimit := limit - beforeLimit
	var before, after []*storage.Event
	if beforeLimit > 0 {
		if before, err = rt.store.RoomEvents(ctx, roomID, lo, ev.Pos-1, beforeLimit, true); err != nil {
			return err
		}
	}
	if afterLimit > 0 {
		if after, err = rt.store.RoomEvents(ctx, roomID, ev.Pos, hi, afterLimit, false); err != nil {
			return err
		}
	}
	start, end := ev.Pos-1, ev.Pos
	if len(before) > 0 {
		start = before[len(before)-1].Pos - 1
	}
	if len(after) > 0 {
		end = after[len(after)-1].Pos
	}
	state, err := rt.store.StateAt(ctx, roomID, end)
	if err != nil {
		return err
	}
	// The event asked for is served as it is (as GET /event); the events
	// around it leave out those of users the user ignores.
	if before, err = rt.withoutIgnored(ctx, dev.UserID, f.apply(before)); err != nil {
		return err
	}
	if after, err = rt.withoutIgnored(ctx, dev.UserID, f.apply(after)); err != nil {
		return err
	}
	state = f.apply(state)
	if f.LazyLoadMembers {
		state = lazyMembers(state, ev, before, after)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"event":         rt.timelineEvents(ctx, roomID, []*storage.Event{ev}, dev)[0],
		"events_before": rt.timelineEvents(ctx, roomID, before, dev),
		"events_after":  rt.timelineEvents(ctx, roomID, after, dev),
		"state":         clientEvents(state, dev),
		"start":         formatToken(start),
		"end":           formatToken(end),
	})
	return nil
}

// GET /unstable/im.myelin/rooms/{roomId}/messages_between
//
// Events whose origin_server_ts is in [from_ts, to_ts], in timeline (stream)
// order, limit at a time; next_batch is the stream token after the last
// event returned, present only when more events match.
func (rt *Routes) messagesBetween(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(roomID, "!") {
		return httputil.InvalidParam("Invalid room ID")
	}
	q := r.URL.Query()
	fromTS, err := timestampParam(q, "from_ts")
	if err != nil {
		return err
	}
	toTS, err := timestampParam(q, "to_ts")
	if err != nil {
		return err
	}
	if fromTS > toTS {
		return httputil.InvalidParam("from_ts must not be after to_ts")
	}
	limit, err := limitParam(q, defaultBetweenLimit, 1)
	if err != nil {
		return err
	}
	after := historyStart
	if s := q.Get("from"); s != "" {
		if after, err = parseToken(s); err != nil {
			return err
		}
	}
	ctx := r.Context()
	lo, hi, err := rt.visibleRange(ctx, roomID, dev.UserID, rt.notifier.Pos())
	if err != nil {
		return err
	}
	// One more than asked tells whether another page exists.
	evs, err := rt.store.RoomEventsInTSWindow(ctx, roomID, fromTS, toTS, max(after, lo), hi, limit+1)
	if err != nil {
		return err
	}
	resp := map[string]any{}
	if len(evs) > limit {
		evs = evs[:limit]
		resp["next_batch"] = formatToken(evs[len(evs)-1].Pos)
	}
	resp["chunk"] = rt.timelineEvents(ctx, roomID, evs, dev)
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// timestampParam reads a required query parameter holding milliseconds
// since the Unix epoch.
func timestampParam(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, httputil.MissingParam("Missing %s", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, httputil.InvalidParam("%s must be a non-negative integer (milliseconds since the Unix epoch)", name)
	}
	return n, nil
}

// limitParam reads the optional limit parameter, clamped to [floor,
// maxHistoryLimit].
func limitParam(q url.Values, def, floor int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, httputil.InvalidParam("limit must be a non-negative integer")
	}
	return min(max(n, floor), maxHistoryLimit), nil
}

// roomEventFilter is the part of a spec RoomEventFilter that /context
// applies to events_before, events_after and state.
type roomEventFilter struct {
	Types           *[]string `json:"types"`
	NotTypes        []string  `json:"not_types"`
	Senders         *[]string `json:"senders"`
	NotSenders      []string  `json:"not_senders"`
	Rooms           *[]string `json:"rooms"`
	NotRooms        []string  `json:"not_rooms"`
	ContainsURL     *bool     `json:"contains_url"`
	LazyLoadMembers bool      `json:"lazy_load_members"`
}

func parseRoomEventFilter(param string) (*roomEventFilter, error) {
	var f roomEventFilter
	if param == "" {
		return &f, nil
	}
	if err := json.Unmarshal([]byte(param), &f); err != nil {
		return nil, httputil.BadJSON("Invalid filter: %v", err)
	}
	return &f, nil
}

func (f *roomEventFilter) matches(e *storage.Event) bool {
	if contains(f.NotRooms, e.RoomID, false) || (f.Rooms != nil && !contains(*f.Rooms, e.RoomID, false)) {
		return false
	}
	if contains(f.NotSenders, e.Sender, false) || (f.Senders != nil && !contains(*f.Senders, e.Sender, false)) {
		return false
	}
	if contains(f.NotTypes, e.Type, true) || (f.Types != nil && !contains(*f.Types, e.Type, true)) {
		return false
	}
	if f.ContainsURL != nil {
		var c struct {
			Content struct {
				URL any `json:"url"`
			} `json:"content"`
		}
		_ = json.Unmarshal(e.JSON, &c)
		_, hasURL := c.Content.URL.(string)
		if hasURL != *f.ContainsURL {
			return false
		}
	}
	return true
}

func (f *roomEventFilter) apply(evs []*storage.Event) []*storage.Event {
	out := evs[:0:0]
	for _, e := range evs {
		if f.matches(e) {
			out = append(out, e)
		}
	}
	return out
}

// contains reports whether list has s; with glob, entries may use '*' for
// any run of characters (spec: filter types).
func contains(list []string, s string, glob bool) bool {
	for _, p := range list {
		if p == s || (glob && strings.Contains(p, "*") && globMatch(p, s)) {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters and everything else for itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	// Each middle part at its leftmost place leaves the longest rest for
	// the last part, which must end s.
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// lazyMembers keeps, of the membership events in state, only those of the
// senders of the events returned (spec: "Lazy-loading room members").
func lazyMembers(state []*storage.Event, ev *storage.Event, lists ...[]*storage.Event) []*storage.Event {
	senders := map[string]bool{ev.Sender: true}
	for _, l := range lists {
		for _, e := range l {
			senders[e.Sender] = true
		}
	}
	out := state[:0:0]
	for _, e := range state {
		if e.Type == "m.room.member" && (e.StateKey == nil || !senders[*e.StateKey]) {
			continue
		}
		out = append(out, e)
	}
	return out
}
