package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/syncapi/internal"
	"github.com/myelin-im/myelin/syncapi/storage"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// maxSyncTimeout bounds a long-poll, whatever the client asks.
const maxSyncTimeout = 5 * time.Minute

// Response is a /sync response (spec: GET /sync); the WebSocket stream
// sends the same object.
type Response struct {
	NextBatch   string      `json:"next_batch"`
	Rooms       Rooms       `json:"rooms"`
	AccountData EventList   `json:"account_data"`
	Presence    EventList   `json:"presence"`
	ToDevice    EventList   `json:"to_device"`
	DeviceLists DeviceLists `json:"device_lists"`
	// OneTimeKeysCount and UnusedFallbackKeyTypes are the syncing device's
	// (spec: GET /sync; an empty list says fallback keys are supported).
	OneTimeKeysCount       map[string]int `json:"device_one_time_keys_count"`
	UnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types"`
	// next is NextBatch before it is written.
	next syncToken
}

// DeviceLists are the users whose devices the client must query again, and
// those it no longer needs to track (devicelists.go).
type DeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

// Rooms holds the per-room sections.
type Rooms struct {
	Join   map[string]*JoinedRoom  `json:"join"`
	Invite map[string]*InvitedRoom `json:"invite"`
	Leave  map[string]*LeftRoom    `json:"leave"`
	Knock  map[string]*KnockedRoom `json:"knock"`
}

// EventList is {"events": [...]}.
type EventList struct {
	Events []json.RawMessage `json:"events"`
}

// Timeline is a room's timeline section.
type Timeline struct {
	Events    []json.RawMessage `json:"events"`
	Limited   bool              `json:"limited"`
	PrevBatch string            `json:"prev_batch,omitempty"`
}

// Summary is a joined room's summary (spec: RoomSummary); fields are left
// out when unchanged.
type Summary struct {
	Heroes  []string `json:"m.heroes,omitempty"`
	Joined  *int     `json:"m.joined_member_count,omitempty"`
	Invited *int     `json:"m.invited_member_count,omitempty"`
}

// JoinedRoom is a room the user is in.
type JoinedRoom struct {
	Timeline            Timeline       `json:"timeline"`
	State               EventList      `json:"state"`
	AccountData         EventList      `json:"account_data"`
	Ephemeral           EventList      `json:"ephemeral"`
	Summary             Summary        `json:"summary"`
	UnreadNotifications map[string]int `json:"unread_notifications"`
	// UnreadThreadNotifications: thread root → counts, when the filter
	// asks for counts per thread.
	UnreadThreadNotifications map[string]map[string]int `json:"unread_thread_notifications,omitempty"`
	// timeline holds the timeline's events until bundleTimelines has added
	// their aggregations (for all rooms of the response at once).
	timeline []*storage.Event
}

// InvitedRoom is a room the user is invited to: stripped state.
type InvitedRoom struct {
	InviteState EventList `json:"invite_state"`
	// inviter is the sender of the user's invite.
	inviter string
}

// LeftRoom is a room the user left (or was removed from) since the token.
type LeftRoom struct {
	Timeline    Timeline  `json:"timeline"`
	State       EventList `json:"state"`
	AccountData EventList `json:"account_data"`
}

// GET /v3/sync
func (rt *Routes) sync(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	q := r.URL.Query()
	since, err := sinceParam(q)
	if err != nil {
		return err
	}
	timeout := time.Duration(0)
	if s := q.Get("timeout"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return httputil.InvalidParam("timeout must be a non-negative integer")
		}
		timeout = min(time.Duration(ms)*time.Millisecond, maxSyncTimeout)
	}
	switch q.Get("set_presence") {
	case "", "online", "offline", "unavailable":
	default:
		return httputil.InvalidParam("set_presence must be online, offline or unavailable")
	}
	f, err := rt.loadFilter(r, dev, q.Get("filter"))
	if err != nil {
		return err
	}
	fullState := q.Get("full_state") == "true"
	defer rt.presenceSyncing(r.Context(), dev.UserID, q.Get("set_presence"))()
	rt.catchUpUser(r.Context(), dev.UserID)
	if err := rt.ackToDevice(r.Context(), dev, since); err != nil {
		return err
	}
	resp, err := rt.SyncUntil(r.Context(), dev, since, f, fullState, timeout)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// SyncUntil builds the sync response for dev after since, waiting up to
// timeout for something to arrive when there is nothing yet. It returns
// early when ctx ends (the client went away).
func (rt *Routes) SyncUntil(
	ctx context.Context, dev *userapi.Device, since syncToken, f *Filter, fullState bool, timeout time.Duration,
) (*Response, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		upto := rt.notifier.Pos()
		if upto < since.pos {
			// A token from the future (another server's, or a wiped
			// database): answer as an initial sync rather than wait forever.
			since = initialToken()
		}
		wakes := rt.notifier.Wakes(dev.UserID)
		resp, empty, err := rt.build(ctx, dev, since, upto, f, fullState)
		if err != nil {
			return nil, err
		}
		if !empty || since.pos < 0 || fullState || wctx.Err() != nil {
			return resp, rt.addKeyCounts(ctx, resp, dev)
		}
		// Nothing yet: wait for what comes after the positions this build
		// reached (a to-device message or device-list change wakes it too).
		pos := since.pos
		since = resp.next
		since.pos = pos
		rt.notifier.WaitWoken(wctx, dev.UserID, upto, wakes)
		if wctx.Err() != nil && rt.notifier.Pos() == upto {
			return resp, rt.addKeyCounts(ctx, resp, dev)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// syncWindow is the part of the stream one response covers: (since, upto],
// since < 0 for an initial sync.
type syncWindow struct {
	since, upto int64
	fullState   bool
}

func (w syncWindow) initial() bool { return w.since < 0 }

// build computes the response for (since, upto]. empty reports that nothing
// in it concerns the user.
func (rt *Routes) build(
	ctx context.Context, dev *userapi.Device, tok syncToken, upto int64, f *Filter, fullState bool,
) (*Response, bool, error) {
	win := syncWindow{since: tok.pos, upto: upto, fullState: fullState}
	resp := newResponse()
	// Rooms to look at: every room with a current membership, plus rooms
	// whose membership changed in the window.
	current := rt.notifier.RoomsOf(dev.UserID)
	roomsAdded, err := rt.addRooms(ctx, resp, dev, current, win, f)
	if err != nil {
		return nil, false, fmt.Errorf("rooms: %w", err)
	}
	rt.bundleTimelines(ctx, resp, dev)
	adPos, adAdded, err := rt.addAccountData(ctx, resp, dev, tok, current)
	if err != nil {
		return nil, false, fmt.Errorf("account data: %w", err)
	}
	tdPos, tdAdded, err := rt.addToDevice(ctx, resp, dev, tok)
	if err != nil {
		return nil, false, fmt.Errorf("to-device messages: %w", err)
	}
	dlPos, dlAdded, err := rt.addDeviceLists(ctx, resp, dev, tok, win)
	if err != nil {
		return nil, false, fmt.Errorf("device lists: %w", err)
	}
	tyPos, rcPos, ephAdded, err := rt.addEphemeral(ctx, resp, dev, tok, current)
	if err != nil {
		return nil, false, fmt.Errorf("typing and receipts: %w", err)
	}
	if err := rt.addUnreadCounts(ctx, resp, dev.UserID, f); err != nil {
		return nil, false, fmt.Errorf("unread counts: %w", err)
	}
	prPos, prAdded, err := rt.addPresence(ctx, resp, dev, tok, f)
	if err != nil {
		return nil, false, fmt.Errorf("presence: %w", err)
	}
	resp.next = syncToken{pos: upto, ad: adPos, td: tdPos, dl: dlPos, rc: rcPos, ty: tyPos, pr: prPos}
	resp.NextBatch = resp.next.String()
	return resp, !roomsAdded && !adAdded && !tdAdded && !dlAdded && !ephAdded && !prAdded, nil
}

// bundleTimelines adds the aggregations of the joined rooms' timeline
// events, computed in one batch for the whole response (most syncs find
// no related events and stop after one query). The user is joined to
// every room here, so every child counts.
func (rt *Routes) bundleTimelines(ctx context.Context, resp *Response, dev *userapi.Device) {
	var all []*storage.Event
	for _, jr := range resp.Rooms.Join {
		all = append(all, jr.timeline...)
	}
	rels := rt.bundleRelations(ctx, all, dev, math.MaxInt64)
	if len(rels) == 0 {
		return
	}
	for _, jr := range resp.Rooms.Join {
		for i, e := range jr.timeline {
			jr.Timeline.Events[i] = withRelations(jr.Timeline.Events[i], rels[e.ID])
		}
	}
}

// newResponse is a response with every section present and empty, as
// clients expect them.
func newResponse() *Response {
	return &Response{
		Rooms: Rooms{
			Join:   map[string]*JoinedRoom{},
			Invite: map[string]*InvitedRoom{},
			Leave:  map[string]*LeftRoom{},
			Knock:  map[string]*KnockedRoom{},
		},
		AccountData: EventList{Events: []json.RawMessage{}},
		Presence:    EventList{Events: []json.RawMessage{}},
		ToDevice:    EventList{Events: []json.RawMessage{}},
		DeviceLists: DeviceLists{Changed: []string{}, Left: []string{}},
	}
}

// addRooms puts each of the user's rooms in the section of their
// membership as of the window's end, when the window has something of it
// for them; it reports whether it added any.
func (rt *Routes) addRooms(
	ctx context.Context, resp *Response, dev *userapi.Device, current map[string]internal.Membership, win syncWindow, f *Filter,
) (bool, error) {
	added := false
	for roomID, cur := range current {
		m, mPos := cur.Membership, cur.Pos
		if mPos > win.upto {
			// Changed after this response's position: look back.
			var err error
			if m, mPos, err = rt.store.MembershipAt(ctx, roomID, dev.UserID, win.upto); err != nil {
				return false, fmt.Errorf("membership in %s: %w", roomID, err)
			}
		}
		ok, err := rt.addRoom(ctx, resp, dev, roomID, m, mPos, win, f)
		if err != nil {
			return false, fmt.Errorf("room %s: %w", roomID, err)
		}
		added = added || ok
	}
	return added, nil
}

// addRoom adds one room to the section of membership m (changed at mPos),
// reporting whether it did: joined rooms with something new (or all of
// them when the room is new to the client), invites and leaves that are
// new, and left rooms the filter asks for.
func (rt *Routes) addRoom(
	ctx context.Context, resp *Response, dev *userapi.Device, roomID, m string, mPos int64, win syncWindow, f *Filter,
) (bool, error) {
	changed := mPos > win.since
	switch m {
	case "join":
		// A room joined in the window comes whole, as in an initial sync.
		jr, err := rt.joinedRoom(ctx, dev, roomID, win.since, win.upto, f, win.initial() || changed || win.fullState)
		if err != nil || jr == nil {
			return false, err
		}
		resp.Rooms.Join[roomID] = jr
	case "invite":
		if !win.initial() && !changed && !win.fullState {
			return false, nil
		}
		ir, err := rt.invitedRoom(ctx, roomID, dev.UserID, win.upto)
		if err != nil {
			return false, err
		}
		// Spec ("Ignoring Users"): "Servers must not send room invites
		// from ignored users to clients."
		if ignored, err := rt.ignoredBy(ctx, dev.UserID); err != nil || ignored[ir.inviter] {
			return false, err
		}
		resp.Rooms.Invite[roomID] = ir
	case "knock":
		// Spec (GET /sync, rooms.knock): like an invite, when new.
		if !win.initial() && !changed && !win.fullState {
			return false, nil
		}
		kr, err := rt.knockedRoom(ctx, roomID, dev.UserID, win.upto)
		if err != nil {
			return false, err
		}
		resp.Rooms.Knock[roomID] = kr
	case "leave", "ban":
		if !rt.showLeft(ctx, roomID, dev.UserID, changed, mPos, win, f) {
			return false, nil
		}
		lr, err := rt.leftRoom(ctx, dev, roomID, win.since, mPos, f)
		if err != nil {
			return false, err
		}
		resp.Rooms.Leave[roomID] = lr
	default:
		return false, nil
	}
	return true, nil
}

// showLeft reports whether a room the user left (at leavePos) belongs in
// the leave section: when they left in the window, and (spec: Filtering,
// include_leave) in initial and full-state syncs when the filter asks and
// they have not forgotten it.
func (rt *Routes) showLeft(ctx context.Context, roomID, userID string, changed bool, leavePos int64, win syncWindow, f *Filter) bool {
	if changed && !win.initial() {
		return true
	}
	return (win.initial() || win.fullState) && f.Room.IncludeLeave && leavePos > 0 && !rt.forgotten(ctx, roomID, userID)
}

// addAccountData puts the account data changed since the token in the
// response: global at the top, per room inside the joined room (a joined
// room with nothing else new is added for it). It returns the account-data
// position for the next token and whether it added anything.
func (rt *Routes) addAccountData(
	ctx context.Context, resp *Response, dev *userapi.Device, tok syncToken, current map[string]internal.Membership,
) (int64, bool, error) {
	entries, adPos, err := rt.accountDataSince(ctx, dev, tok)
	if err != nil {
		return 0, false, err
	}
	added := false
	for _, e := range entries {
		obj, err := json.Marshal(map[string]any{"type": e.Type, "content": e.Content})
		if err != nil {
			return 0, false, fmt.Errorf("encode %s: %w", e.Type, err)
		}
		if e.RoomID == "" {
			resp.AccountData.Events = append(resp.AccountData.Events, obj)
			added = true
			continue
		}
		jr, ok := resp.Rooms.Join[e.RoomID]
		if !ok {
			if current[e.RoomID].Membership != "join" {
				continue
			}
			jr = emptyJoinedRoom()
			resp.Rooms.Join[e.RoomID] = jr
		}
		jr.AccountData.Events = append(jr.AccountData.Events, obj)
		added = true
	}
	return adPos, added, nil
}

// accountDataSince reads the user's account data changed after the token
// (all of it for an initial sync) and the position it reaches. The
// notifier's position for the user, when it shows nothing newer, saves the
// read.
func (rt *Routes) accountDataSince(ctx context.Context, dev *userapi.Device, tok syncToken) ([]userapi.AccountDataEntry, int64, error) {
	adSince := tok.ad
	if tok.pos < 0 {
		adSince = -1
	}
	if known, ok := rt.notifier.AccountDataPos(dev.UserID); ok && adSince >= 0 && known <= adSince {
		return nil, adSince, nil
	}
	entries, adPos, err := rt.users.AccountDataSince(ctx, dev.Localpart, adSince)
	if err != nil {
		return nil, 0, err
	}
	rt.notifier.SetAccountDataPos(dev.UserID, adPos)
	return entries, adPos, nil
}

// addUnreadCounts gives each joined room of the response its notification
// counts (the current ones): all threads together, or the main timeline's and each
// thread's apart when the filter asks (unread_thread_notifications).
func (rt *Routes) addUnreadCounts(ctx context.Context, resp *Response, userID string, f *Filter) error {
	for roomID, jr := range resp.Rooms.Join {
		c, err := rt.roomCounts(ctx, userID, roomID)
		if err != nil {
			return fmt.Errorf("room %s: %w", roomID, err)
		}
		if !f.Room.Timeline.UnreadThreadNotifications {
			jr.UnreadNotifications = countsJSON(c.Total())
			continue
		}
		jr.UnreadNotifications = countsJSON(c.Main.Notifications, c.Main.Highlights)
		if len(c.Threads) > 0 {
			jr.UnreadThreadNotifications = make(map[string]map[string]int, len(c.Threads))
			for thread, t := range c.Threads {
				jr.UnreadThreadNotifications[thread] = countsJSON(t.Notifications, t.Highlights)
			}
		}
	}
	return nil
}

func emptyJoinedRoom() *JoinedRoom {
	return &JoinedRoom{
		Timeline:            Timeline{Events: []json.RawMessage{}},
		State:               EventList{Events: []json.RawMessage{}},
		AccountData:         EventList{Events: []json.RawMessage{}},
		Ephemeral:           EventList{Events: []json.RawMessage{}},
		UnreadNotifications: map[string]int{"highlight_count": 0, "notification_count": 0},
	}
}

// clientEvents turns stored events into client JSON, newest last, adding
// unsigned.transaction_id for the device that sent them.
func clientEvents(evs []*storage.Event, dev *userapi.Device) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(evs))
	for _, e := range evs {
		out = append(out, clientJSON(e, dev))
	}
	return out
}

func clientJSON(e *storage.Event, dev *userapi.Device) json.RawMessage {
	if e.TxnID == "" || dev == nil || e.DeviceID != string(dev.ID) || e.Sender != dev.UserID {
		return e.JSON
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.JSON, &m); err != nil {
		return e.JSON
	}
	unsigned := map[string]any{}
	if raw, ok := m["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	unsigned["transaction_id"] = e.TxnID
	m["unsigned"], _ = json.Marshal(unsigned)
	b, err := json.Marshal(m)
	if err != nil {
		return e.JSON
	}
	return b
}

func reverse(evs []*storage.Event) {
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
}

// timeline returns up to limit events in (from, to], oldest first, and
// whether more were left out.
func (rt *Routes) timeline(ctx context.Context, roomID string, from, to int64, limit int) ([]*storage.Event, bool, error) {
	evs, inMemory := rt.recent.Events(roomID, from, to, limit+1)
	if !inMemory {
		var err error
		if evs, err = rt.store.RoomEvents(ctx, roomID, from, to, limit+1, true); err != nil {
			return nil, false, err
		}
	}
	limited := len(evs) > limit
	if limited {
		evs = evs[:limit]
	}
	reverse(evs)
	return rt.afterGap(ctx, roomID, evs, limited, inMemory)
}

// afterGap starts a timeline (oldest first) at its newest event placed
// after a gap in the room's history, if it holds one, and marks it
// limited: the events before the gap are not all known here, and
// prev_batch lets the client page back across it (spec: /sync, Timeline:
// "limited: True if the number of events returned was limited by the limit
// on the filter" — and, as Synapse does, when there is a gap).
//
// Events read from memory carry the mark themselves (they came through
// this process's consumer); those read from the database are checked
// against syncapi_timeline_gaps.
func (rt *Routes) afterGap(
	ctx context.Context, roomID string, evs []*storage.Event, limited, inMemory bool,
) ([]*storage.Event, bool, error) {
	if len(evs) == 0 {
		return evs, limited, nil
	}
	if inMemory {
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Gap {
				return evs[i:], true, nil
			}
		}
		return evs, limited, nil
	}
	gap, ok, err := rt.store.LastGap(ctx, roomID, evs[0].Pos-1, evs[len(evs)-1].Pos)
	if err != nil || !ok {
		return evs, limited, err
	}
	i := slices.IndexFunc(evs, func(e *storage.Event) bool { return e.Pos >= gap })
	return evs[i:], true, nil
}

func (rt *Routes) joinedRoom(
	ctx context.Context, dev *userapi.Device, roomID string, since, upto int64, f *Filter, full bool,
) (*JoinedRoom, error) {
	from := since
	if full {
		// The whole room, as far back as history visibility lets this user
		// see (spec: "History visibility" — "joined" rooms show nothing
		// from before the join).
		lo, _, err := rt.visibleRangeAt(ctx, roomID, dev.UserID, upto)
		if err != nil {
			return nil, err
		}
		// History backfilled from other servers (negative positions) is
		// for /messages: the timeline of /sync starts at the stream's.
		from = max(lo, 0)
	} else if rt.notifier.RoomLast(roomID) <= since {
		return nil, nil // nothing new in this room
	}
	evs, limited, err := rt.timeline(ctx, roomID, from, upto, f.timelineLimit())
	if err != nil {
		return nil, err
	}
	shown, err := rt.shownTimeline(ctx, dev.UserID, evs, f)
	if err != nil {
		return nil, fmt.Errorf("timeline filter: %w", err)
	}
	// Nothing to show and no gap (whose state would be needed): the room
	// has nothing new for this user.
	if len(shown) == 0 && !full && !limited {
		return nil, nil
	}
	jr := emptyJoinedRoom()
	// The aggregations come later, for every room at once (bundleTimelines).
	jr.Timeline = Timeline{Events: rt.timelineEventsWith(ctx, roomID, shown, dev, bundles{}), Limited: limited}
	jr.timeline = shown
	start := upto
	if len(evs) > 0 {
		start = evs[0].Pos - 1
	}
	if len(evs) > 0 || limited {
		jr.Timeline.PrevBatch = formatToken(start)
	}
	// State: the state at the start of the timeline — all of it for a full
	// room, else what changed between the token and the timeline's start.
	if full || limited {
		if jr.State.Events, err = rt.stateAtStart(ctx, roomID, start, since, full, f, lazySenders(f, dev.UserID, shown)); err != nil {
			return nil, fmt.Errorf("state at the timeline's start: %w", err)
		}
	}
	// The summary changes only with memberships: send it with the whole
	// room or when the timeline holds a membership change (spec: the server
	// may omit unchanged summary fields).
	if full || hasMembership(evs) {
		if jr.Summary, err = rt.summary(ctx, roomID, dev.UserID); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
	}
	return jr, nil
}

// stateAtStart is a room's state at stream position start, all of it when
// full, else what changed after since, as far as the filter's state part
// selects; with senders, of the membership events only those of senders.
func (rt *Routes) stateAtStart(
	ctx context.Context, roomID string, start, since int64, full bool, f *Filter, senders map[string]bool,
) ([]json.RawMessage, error) {
	state, err := rt.store.StateAt(ctx, roomID, start)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, e := range state {
		if senders != nil && e.Type == "m.room.member" && e.StateKey != nil && !senders[*e.StateKey] {
			continue
		}
		if !f.Room.State.matches(e) {
			continue
		}
		if full || e.Pos > since {
			out = append(out, e.JSON)
		}
	}
	return out, nil
}

// lazySenders is, when the filter lazy-loads members (spec: "Lazy-loading
// room members"), whose membership events the state needs: the members who
// sent something in the timeline, and the user; nil for all members.
func lazySenders(f *Filter, userID string, evs []*storage.Event) map[string]bool {
	if !f.Room.State.LazyLoadMembers {
		return nil
	}
	senders := map[string]bool{userID: true}
	for _, e := range evs {
		senders[e.Sender] = true
	}
	return senders
}

// hasMembership reports whether evs hold a membership change.
func hasMembership(evs []*storage.Event) bool {
	for _, e := range evs {
		if e.Type == "m.room.member" {
			return true
		}
	}
	return false
}

// summary computes a room's member counts and heroes (spec: "m.heroes").
func (rt *Routes) summary(ctx context.Context, roomID, userID string) (Summary, error) {
	state, err := rt.store.CurrentState(ctx, roomID)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	joined, invited := 0, 0
	s.Joined, s.Invited = &joined, &invited
	for _, e := range state {
		if e.Type != "m.room.member" || e.StateKey == nil {
			continue
		}
		switch e.Membership {
		case "join":
			joined++
		case "invite":
			invited++
		default:
			continue
		}
		if *e.StateKey != userID && len(s.Heroes) < 5 {
			s.Heroes = append(s.Heroes, *e.StateKey)
		}
	}
	return s, nil
}

// strippedTypes are the state events an invitee sees (spec: "Stripped state").
var strippedTypes = map[string]bool{
	"m.room.create":          true,
	"m.room.join_rules":      true,
	"m.room.name":            true,
	"m.room.avatar":          true,
	"m.room.canonical_alias": true,
	"m.room.encryption":      true,
	"m.room.topic":           true,
}

func (rt *Routes) invitedRoom(ctx context.Context, roomID, userID string, upto int64) (*InvitedRoom, error) {
	events, inviter, err := rt.roomStripped(ctx, roomID, userID, upto, "invite_room_state", func(e *storage.Event) bool {
		return e.Membership == "invite" || e.Membership == "join"
	})
	if err != nil {
		return nil, err
	}
	return &InvitedRoom{InviteState: EventList{Events: events}, inviter: inviter}, nil
}

func (rt *Routes) leftRoom(ctx context.Context, dev *userapi.Device, roomID string, since, leavePos int64, f *Filter) (*LeftRoom, error) {
	evs, limited, err := rt.timeline(ctx, roomID, since, leavePos, f.timelineLimit())
	if err != nil {
		return nil, err
	}
	shown, err := rt.shownTimeline(ctx, dev.UserID, evs, f)
	if err != nil {
		return nil, fmt.Errorf("timeline filter: %w", err)
	}
	lr := &LeftRoom{
		Timeline:    Timeline{Events: rt.timelineEvents(ctx, roomID, shown, dev), Limited: limited},
		State:       EventList{Events: []json.RawMessage{}},
		AccountData: EventList{Events: []json.RawMessage{}},
	}
	start := leavePos
	if len(evs) > 0 {
		start = evs[0].Pos - 1
	}
	if len(evs) > 0 || limited {
		lr.Timeline.PrevBatch = formatToken(start)
	}
	// As for a joined room, the state at the timeline's start (spec: "state"
	// of a left room: updates up to the start of the timeline); nothing of
	// the room after the leave.
	if full := since < 0; full || limited {
		if lr.State.Events, err = rt.stateAtStart(ctx, roomID, start, since, full, f, lazySenders(f, dev.UserID, shown)); err != nil {
			return nil, fmt.Errorf("state at the timeline's start: %w", err)
		}
	}
	return lr, nil
}
