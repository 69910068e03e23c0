package admin

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
)

// setupRooms registers Synapse's room administration: the room list and
// details, members, state and messages, blocking, deleting (v1 and v2 with
// its status) and make_room_admin.
func (a *Admin) setupRooms(p prefixed) {
	p.Handle("/v1/rooms", a.admin(a.listRooms)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}", a.admin(a.roomDetails)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}", a.admin(a.deleteRoomV1)).Methods(http.MethodDelete)
	p.Handle("/v1/rooms/{roomId}/members", a.admin(a.roomMembers)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/state", a.admin(a.roomState)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/messages", a.admin(a.roomMessages)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/block", a.admin(a.roomBlock)).Methods(http.MethodGet)
	p.Handle("/v1/rooms/{roomId}/block", a.admin(a.setRoomBlock)).Methods(http.MethodPut)
	p.Handle("/v1/rooms/{roomId}/make_room_admin", a.admin(a.makeRoomAdmin)).Methods(http.MethodPost)
	p.Handle("/v2/rooms/{roomId}", a.admin(a.deleteRoomV2)).Methods(http.MethodDelete)
	p.Handle("/v2/rooms/{roomId}/delete_status", a.admin(a.deleteStatusOfRoom)).Methods(http.MethodGet)
	p.Handle("/v2/rooms/delete_status/{deleteId}", a.admin(a.deleteStatus)).Methods(http.MethodGet)
}

// roomJSON is a room in Synapse's room list; roomDetailsJSON adds the
// details. Absent state is null, as Synapse answers.
type roomJSON struct {
	RoomID             string  `json:"room_id"`
	Name               *string `json:"name"`
	CanonicalAlias     *string `json:"canonical_alias"`
	JoinedMembers      int     `json:"joined_members"`
	JoinedLocalMembers int     `json:"joined_local_members"`
	Version            string  `json:"version"`
	Creator            string  `json:"creator"`
	Encryption         *string `json:"encryption"`
	Federatable        bool    `json:"federatable"`
	Public             bool    `json:"public"`
	JoinRules          *string `json:"join_rules"`
	GuestAccess        *string `json:"guest_access"`
	HistoryVisibility  *string `json:"history_visibility"`
	StateEvents        int     `json:"state_events"`
	RoomType           *string `json:"room_type"`
}

type roomDetailsJSON struct {
	roomJSON
	Topic              *string `json:"topic"`
	Avatar             *string `json:"avatar"`
	JoinedLocalDevices int     `json:"joined_local_devices"`
	Forgotten          bool    `json:"forgotten"`
}

// orNull is s, or null when empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toRoomJSON(r roomapi.AdminRoom) roomJSON {
	return roomJSON{RoomID: r.RoomID, Name: orNull(r.Name), CanonicalAlias: orNull(r.CanonicalAlias),
		JoinedMembers: r.JoinedMembers, JoinedLocalMembers: r.JoinedLocalMembers, Version: r.Version,
		Creator: r.Creator, Encryption: orNull(r.Encryption), Federatable: r.Federatable, Public: r.Public,
		JoinRules: orNull(r.JoinRules), GuestAccess: orNull(r.GuestAccess),
		HistoryVisibility: orNull(r.HistoryVisibility), StateEvents: r.StateEvents, RoomType: orNull(r.RoomType)}
}

// roomOrders are the list's order_by values: each compares two rooms in
// the forward order (Synapse's: names alphabetically, counts largest
// first); alphabetical and size are Synapse's deprecated names.
var roomOrders = map[string]func(a, b roomapi.AdminRoom) int{
	"name":                 func(a, b roomapi.AdminRoom) int { return cmpText(a.Name, b.Name) },
	"alphabetical":         func(a, b roomapi.AdminRoom) int { return cmpText(a.Name, b.Name) },
	"canonical_alias":      func(a, b roomapi.AdminRoom) int { return cmpText(a.CanonicalAlias, b.CanonicalAlias) },
	"joined_members":       func(a, b roomapi.AdminRoom) int { return cmp.Compare(b.JoinedMembers, a.JoinedMembers) },
	"size":                 func(a, b roomapi.AdminRoom) int { return cmp.Compare(b.JoinedMembers, a.JoinedMembers) },
	"joined_local_members": func(a, b roomapi.AdminRoom) int { return cmp.Compare(b.JoinedLocalMembers, a.JoinedLocalMembers) },
	"version":              func(a, b roomapi.AdminRoom) int { return cmpVersion(b.Version, a.Version) },
	"creator":              func(a, b roomapi.AdminRoom) int { return cmpText(a.Creator, b.Creator) },
	"encryption":           func(a, b roomapi.AdminRoom) int { return cmpText(a.Encryption, b.Encryption) },
	"federatable":          func(a, b roomapi.AdminRoom) int { return cmpBool(a.Federatable, b.Federatable) },
	"public":               func(a, b roomapi.AdminRoom) int { return cmpBool(a.Public, b.Public) },
	"join_rules":           func(a, b roomapi.AdminRoom) int { return cmpText(a.JoinRules, b.JoinRules) },
	"guest_access":         func(a, b roomapi.AdminRoom) int { return cmpText(a.GuestAccess, b.GuestAccess) },
	"history_visibility":   func(a, b roomapi.AdminRoom) int { return cmpText(a.HistoryVisibility, b.HistoryVisibility) },
	"state_events":         func(a, b roomapi.AdminRoom) int { return cmp.Compare(b.StateEvents, a.StateEvents) },
}

// cmpText orders text alphabetically, rooms without it last.
func cmpText(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return strings.Compare(a, b)
}

// cmpVersion orders room versions numerically where they are numbers.
func cmpVersion(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// cmpBool puts true first.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// roomQuery is the room list's parameters.
type roomQuery struct {
	from, limit   int
	order         func(a, b roomapi.AdminRoom) int
	backwards     bool
	term          string
	public, empty *bool // nil: either
	orderBy       string
}

func parseRoomQuery(r *http.Request) (roomQuery, error) {
	v := r.URL.Query()
	var q roomQuery
	var err error
	if q.from, q.limit, err = paging(v); err != nil {
		return q, err
	}
	q.orderBy = cmp.Or(v.Get("order_by"), "name")
	if q.order = roomOrders[q.orderBy]; q.order == nil {
		return q, httputil.InvalidParam("Unknown value for order_by: %q", q.orderBy)
	}
	switch v.Get("dir") {
	case "", "f":
	case "b":
		q.backwards = true
	default:
		return q, httputil.InvalidParam("Unknown direction: %q", v.Get("dir"))
	}
	q.term = v.Get("search_term")
	if q.public, err = boolParam(v, "public_rooms"); err != nil {
		return q, err
	}
	q.empty, err = boolParam(v, "empty_rooms")
	return q, err
}

// matches reports whether a room passes the list's filters: search_term
// in its name or its canonical alias's localpart (ignoring case) or in its
// room ID (exactly), as Synapse searches.
func (q roomQuery) matches(r roomapi.AdminRoom) bool {
	if q.public != nil && r.Public != *q.public {
		return false
	}
	if q.empty != nil && (r.JoinedMembers == 0) != *q.empty {
		return false
	}
	if q.term == "" {
		return true
	}
	term := strings.ToLower(q.term)
	aliasLocal, _, _ := strings.Cut(strings.TrimPrefix(r.CanonicalAlias, "#"), ":")
	return strings.Contains(strings.ToLower(r.Name), term) || strings.Contains(strings.ToLower(aliasLocal), term) ||
		strings.Contains(r.RoomID, q.term)
}

// GET /_synapse/admin/v1/rooms
func (a *Admin) listRooms(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	q, err := parseRoomQuery(r)
	if err != nil {
		return err
	}
	all, err := a.d.Rooms.ListAdminRooms(r.Context())
	if err != nil {
		return err
	}
	rooms := slices.DeleteFunc(all, func(r roomapi.AdminRoom) bool { return !q.matches(r) })
	slices.SortStableFunc(rooms, func(x, y roomapi.AdminRoom) int {
		return cmp.Or(q.order(x, y), strings.Compare(x.RoomID, y.RoomID))
	})
	if q.backwards {
		slices.Reverse(rooms)
	}
	total := len(rooms)
	page := rooms[min(q.from, total):min(q.from+q.limit, total)]
	out := make([]roomJSON, len(page))
	for i, rm := range page {
		out[i] = toRoomJSON(rm)
	}
	resp := map[string]any{"rooms": out, "offset": q.from, "total_rooms": total}
	if q.from+len(page) < total {
		resp["next_batch"] = q.from + len(page)
	}
	if q.from > 0 {
		resp["prev_batch"] = max(0, q.from-q.limit)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// roomParam is the path's room ID, checked for its form.
func roomParam(r *http.Request) (string, error) {
	id := httputil.Vars(r)["roomId"]
	if !strings.HasPrefix(id, "!") || len(id) < 2 {
		return "", httputil.InvalidParam("%s is not a legal room ID", id)
	}
	return id, nil
}

// notFoundRoom turns the roomserver's unknown room into Synapse's 404.
func notFoundRoom(err error) error {
	if errors.Is(err, roomapi.ErrRoomNotFound) {
		return httputil.NotFound("Room not found")
	}
	return err
}

// GET /_synapse/admin/v1/rooms/{roomId}
func (a *Admin) roomDetails(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	room, err := a.d.Rooms.AdminRoom(r.Context(), roomID)
	if err != nil {
		return notFoundRoom(err)
	}
	devices, err := a.localDevices(r, roomID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, roomDetailsJSON{roomJSON: toRoomJSON(room), Topic: orNull(room.Topic),
		Avatar: orNull(room.Avatar), JoinedLocalDevices: devices, Forgotten: room.Forgotten})
	return nil
}

// localDevices counts the devices of the room's joined local users.
func (a *Admin) localDevices(r *http.Request, roomID string) (int, error) {
	members, err := a.d.Rooms.Members(r.Context(), roomID, "join")
	if err != nil {
		return 0, notFoundRoom(err)
	}
	n := 0
	for _, m := range members {
		lp, ok := a.isLocal(m)
		if !ok {
			continue
		}
		devs, err := a.d.Users.Devices(r.Context(), lp)
		if err != nil {
			return 0, err
		}
		n += len(devs)
	}
	return n, nil
}

// GET /_synapse/admin/v1/rooms/{roomId}/members: the joined members.
func (a *Admin) roomMembers(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	members, err := a.d.Rooms.Members(r.Context(), roomID, "join")
	if err != nil {
		return notFoundRoom(err)
	}
	if members == nil {
		members = []string{}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"members": members, "total": len(members)})
	return nil
}

// GET /_synapse/admin/v1/rooms/{roomId}/state?type=: the current state in
// client format, sorted by type and state key.
func (a *Admin) roomState(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	evs, err := a.d.Rooms.CurrentState(r.Context(), roomID)
	if err != nil {
		return notFoundRoom(err)
	}
	want := r.URL.Query().Get("type")
	out := make([]roomapi.ClientEvent, 0, len(evs))
	for _, e := range evs {
		ce, err := e.Client()
		if err != nil {
			return err
		}
		if want == "" || ce.Type == want {
			out = append(out, ce)
		}
	}
	slices.SortFunc(out, func(x, y roomapi.ClientEvent) int {
		return cmp.Or(strings.Compare(x.Type, y.Type), strings.Compare(*x.StateKey, *y.StateKey))
	})
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"state": out})
	return nil
}

// GET /_synapse/admin/v1/rooms/{roomId}/block
func (a *Admin) roomBlock(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	blocked, by, err := a.d.Rooms.RoomBlocked(r.Context(), roomID)
	if err != nil {
		return err
	}
	resp := map[string]any{"block": blocked}
	if blocked {
		resp["user_id"] = by
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// PUT /_synapse/admin/v1/rooms/{roomId}/block {"block": bool}: a room may
// be blocked before this server knows it.
func (a *Admin) setRoomBlock(w http.ResponseWriter, r *http.Request, c *Caller) error {
	roomID, err := roomParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Block *bool `json:"block"`
	}
	if err := httputil.ReadJSON(r, &body); err != nil {
		return err
	}
	if body.Block == nil {
		return httputil.MissingParam("Missing params: ['block']")
	}
	if err := a.d.Rooms.SetRoomBlocked(r.Context(), roomID, c.Device.UserID, *body.Block); err != nil {
		return err
	}
	c.Note(map[bool]string{true: "blocked", false: "unblocked"}[*body.Block])
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"block": *body.Block})
	return nil
}
