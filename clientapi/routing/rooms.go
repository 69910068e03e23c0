package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

func (rt *Routes) setupRooms(v3 prefixed) {
	// What a suspended account may not do is routed through unlessSuspended
	// (suspended.go).
	v3.Handle("/createRoom", rt.unlessSuspended(rt.createRoom)).Methods(http.MethodPost)
	v3.Handle("/join/{roomIdOrAlias}", rt.unlessSuspended(rt.joinRoomIDOrAlias)).Methods(http.MethodPost)
	v3.Handle("/knock/{roomIdOrAlias}", rt.unlessSuspended(rt.knock)).Methods(http.MethodPost)
	v3.Handle("/joined_rooms", rt.authed(rt.joinedRooms)).Methods(http.MethodGet)
	room := prefixed{v3.r, v3.prefix + "/rooms/{roomId}"}
	room.Handle("/join", rt.unlessSuspended(rt.joinRoom)).Methods(http.MethodPost)
	room.Handle("/invite", rt.unlessSuspended(rt.membershipHandler("invite"))).Methods(http.MethodPost)
	for _, m := range []string{"leave", "kick", "ban", "unban"} {
		room.Handle("/"+m, rt.authed(rt.membershipHandler(m))).Methods(http.MethodPost)
	}
	room.Handle("/forget", rt.authed(rt.forget)).Methods(http.MethodPost)
	room.Handle("/upgrade", rt.unlessSuspended(rt.upgradeRoom)).Methods(http.MethodPost)
	room.Handle("/redact/{eventId}/{txnId}", rt.ownRedactionIfSuspended(rt.redact)).Methods(http.MethodPut)
	room.Handle("/send/{eventType}/{txnId}", rt.unlessSuspended(rt.sendEvent)).Methods(http.MethodPut)
	// The empty state key may come as /state/{type}, /state/{type}/ or
	// /state/{type}/{stateKey}.
	for _, p := range []string{"/state/{eventType}", "/state/{eventType}/", "/state/{eventType}/{stateKey}"} {
		room.Handle(p, rt.unlessSuspended(rt.putState)).Methods(http.MethodPut)
		room.Handle(p, rt.authed(rt.getStateEvent)).Methods(http.MethodGet)
	}
	room.Handle("/state", rt.authed(rt.getState)).Methods(http.MethodGet)
	room.Handle("/joined_members", rt.authed(rt.joinedMembers)).Methods(http.MethodGet)
}

// profileOfDevice returns the requester's display name and avatar, for
// membership events.
func (rt *Routes) profileOfDevice(ctx context.Context, dev *api.Device) (string, string) {
	p, err := rt.users.Profile(ctx, dev.Localpart)
	if err != nil {
		return "", ""
	}
	var name, avatar string
	_ = json.Unmarshal(p["displayname"], &name)
	_ = json.Unmarshal(p["avatar_url"], &avatar)
	return name, avatar
}

type createRoomRequest struct {
	Visibility                string               `json:"visibility"`
	RoomAliasName             string               `json:"room_alias_name"`
	Name                      *string              `json:"name"`
	Topic                     *string              `json:"topic"`
	Invite                    []string             `json:"invite"`
	RoomVersion               string               `json:"room_version"`
	CreationContent           json.RawMessage      `json:"creation_content"`
	InitialState              []roomapi.StateEvent `json:"initial_state"`
	Preset                    string               `json:"preset"`
	IsDirect                  bool                 `json:"is_direct"`
	PowerLevelContentOverride json.RawMessage      `json:"power_level_content_override"`
}

// POST /v3/createRoom
func (rt *Routes) createRoom(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req createRoomRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	switch req.Visibility {
	case "", "private", "public":
	default:
		return httputil.InvalidParam("visibility must be public or private")
	}
	if req.Preset == "" {
		req.Preset = "private_chat"
		if req.Visibility == "public" {
			req.Preset = "public_chat"
		}
	}
	for _, u := range req.Invite {
		if err := checkUserID(u); err != nil {
			return err
		}
		rt.ensureAppServiceUser(r.Context(), u)
	}
	for _, s := range req.InitialState {
		if s.Type == "" {
			return httputil.BadJSON("initial_state events need a type")
		}
		// PostgreSQL cannot store NUL in the text columns these land in.
		if strings.ContainsRune(s.Type, 0) || strings.ContainsRune(s.StateKey, 0) {
			return httputil.InvalidParam("initial_state type and state_key may not contain NUL")
		}
	}
	alias, err := rt.checkRoomAliasName(r.Context(), req.RoomAliasName)
	if err != nil {
		return err
	}
	if alias != "" {
		if err := rt.exclusiveAlias(alias, dev); err != nil {
			return err
		}
	}
	for _, raw := range []json.RawMessage{req.CreationContent, req.PowerLevelContentOverride} {
		if len(raw) > 0 && string(raw) != "null" && raw[0] != '{' {
			return httputil.BadJSON("creation_content and power_level_content_override must be objects")
		}
	}
	name, avatar := rt.profileOfDevice(r.Context(), dev)
	roomID, err := rt.rooms.CreateRoom(r.Context(), roomapi.CreateRoomRequest{
		Creator: dev.UserID, RoomVersion: req.RoomVersion, Preset: req.Preset, Name: req.Name, Topic: req.Topic,
		Invite: req.Invite, IsDirect: req.IsDirect, InitialState: req.InitialState,
		CreationContent: req.CreationContent, PowerLevelContentOverride: req.PowerLevelContentOverride,
		CreatorDisplayName: name, CreatorAvatarURL: avatar, CanonicalAlias: alias,
	})
	if err != nil {
		return err
	}
	rt.afterCreateRoom(r.Context(), roomID, dev.UserID, alias, req.Visibility == "public")
	rt.carryRoomSettings(r.Context(), dev, roomID)
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

// POST /v3/join/{roomIdOrAlias}
func (rt *Routes) joinRoomIDOrAlias(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	target := httputil.Vars(r)["roomIdOrAlias"]
	via, err := queryServers(r, "via", "server_name")
	if err != nil {
		return err
	}
	roomID, servers, err := rt.membershipTarget(r.Context(), target)
	if err != nil {
		return err
	}
	return rt.join(w, r, dev, roomID, append(servers, via...))
}

// POST /v3/rooms/{roomId}/join
func (rt *Routes) joinRoom(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	via, err := queryServers(r, "via", "server_name")
	if err != nil {
		return err
	}
	return rt.join(w, r, dev, httputil.Vars(r)["roomId"], via)
}

// membershipTarget resolves the room joined or knocked on: a room ID as it
// is, an alias here or through its server (which also gives servers in the
// room).
func (rt *Routes) membershipTarget(ctx context.Context, target string) (string, []string, error) {
	remote, err := rt.isRemoteAlias(target)
	if err != nil {
		return "", nil, err
	}
	if !remote {
		roomID, err := rt.roomIDForJoin(ctx, target)
		return roomID, nil, err
	}
	roomID, servers, err := rt.opts.RemoteRooms.ResolveRemoteAlias(ctx, target)
	if err != nil {
		return "", nil, httputil.NotFound("Room alias %s not found", target)
	}
	return roomID, servers, nil
}

// isRemoteAlias reports whether target is a well-formed alias of another
// server that federation can resolve; a malformed alias is refused.
func (rt *Routes) isRemoteAlias(target string) (bool, error) {
	if !strings.HasPrefix(target, "#") {
		return false, nil
	}
	_, server, err := parseAlias(target)
	if err != nil {
		return false, err
	}
	return rt.opts.RemoteRooms != nil && server != rt.opts.ServerName, nil
}

// joinServers are the servers to join a remote room through: those given
// (an alias's servers, then the via and server_name query parameters), each
// once, or, when none is given, the room ID's own server (room versions
// before 12 name one). A server the client did not name is not tried when
// it named some: a restricted room's join must fail when the servers named
// cannot authorise it (spec: "Restricted rooms"; Complement's
// TestRestrictedRoomsRemoteJoinFailOver).
func joinServers(roomID string, given []string) []string {
	out := append([]string(nil), given...)
	if _, server, ok := strings.Cut(roomID, ":"); ok && len(given) == 0 {
		out = append(out, server)
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, s := range out {
		if s != "" && !seen[s] {
			seen[s] = true
			uniq = append(uniq, s)
		}
	}
	return uniq
}

func (rt *Routes) join(w http.ResponseWriter, r *http.Request, dev *api.Device, roomID string, servers []string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	body, err := httputil.ReadBody(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	extra := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := httputil.DecodeJSONObject(body, &req); err != nil {
			return err
		}
		_ = json.Unmarshal(body, &extra)
		// Keys with a meaning of their own are not content; a restricted
		// join's authoriser is named by the server that authorises it.
		for _, k := range []string{"membership", "reason", "third_party_signed", "displayname", "avatar_url",
			"join_authorised_via_users_server"} {
			delete(extra, k)
		}
	}
	if err := rt.joinAs(r.Context(), dev, roomID, servers, req.Reason, extra); err != nil {
		return err
	}
	rt.carryRoomSettings(r.Context(), dev, roomID)
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"room_id": roomID})
	return nil
}

// joinAs joins dev's user to a room: here when this server is in it, else
// through another server (servers, and the server of a pending invite,
// which the federation component adds). extra are further content keys.
func (rt *Routes) joinAs(
	ctx context.Context, dev *api.Device, roomID string, servers []string, reason string, extra map[string]json.RawMessage,
) error {
	name, avatar := rt.profileOfDevice(ctx, dev)
	req := roomapi.MembershipRequest{RoomID: roomID, Sender: dev.UserID, Target: dev.UserID,
		Membership: "join", Reason: reason, DisplayName: name, AvatarURL: avatar, Extra: extra}
	_, err := rt.rooms.PerformMembership(ctx, req)
	var elsewhere *roomapi.JoinElsewhereError
	if errors.As(err, &elsewhere) && rt.opts.RemoteRooms != nil &&
		rt.opts.RemoteRooms.CatchUp(ctx, roomID, dev.UserID, elsewhere.Servers) {
		// This server was behind: a local user may authorise the join now,
		// and servers should prefer a local join.
		_, err = rt.rooms.PerformMembership(ctx, req)
	}
	if err == nil {
		return nil
	}
	if errors.As(err, &elsewhere) {
		// A restricted room no local user can authorise the join to:
		// one of its other servers' users may (spec: "Restricted rooms").
		servers = append(slices.Clone(servers), elsewhere.Servers...)
	} else if !errors.Is(err, roomapi.ErrRoomNotFound) && !errors.Is(err, roomapi.ErrNotInRoom) {
		return err
	}
	if rt.opts.RemoteRooms == nil {
		return err
	}
	content := map[string]any{}
	for k, v := range extra {
		content[k] = v
	}
	content["membership"] = "join"
	if name != "" {
		content["displayname"] = name
	}
	if avatar != "" {
		content["avatar_url"] = avatar
	}
	if reason != "" {
		content["reason"] = reason
	}
	_, err = rt.opts.RemoteRooms.JoinRemote(ctx, roomID, dev.UserID, joinServers(roomID, servers), content)
	return remoteMembershipAnswer(ctx, err, "join", roomID)
}

// remoteMembershipAnswer is the client's answer to a join or knock
// (verb) made through other servers: the resident server's refusal is
// passed through (spec: server-server API, make_join and make_knock: "
// should be passed through to clients" — a refusal, an incompatible room
// version); no server that could be reached is 404.
func remoteMembershipAnswer(ctx context.Context, err error, verb, roomID string) error {
	var refused *fedapi.RemoteError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused) && refused.PassedThrough():
		return err
	default:
		httputil.Logger(ctx).WithError(err).Info("remote " + verb + " failed")
		return httputil.NotFound("Could not %s %s through any known server", verb, roomID)
	}
}

// membershipHandler serves /invite, /leave, /kick, /ban and /unban.
func (rt *Routes) membershipHandler(action string) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
		roomID := httputil.Vars(r)["roomId"]
		if err := checkRoomID(roomID); err != nil {
			return err
		}
		var req struct {
			UserID string `json:"user_id"`
			Reason string `json:"reason"`
		}
		if err := httputil.ReadJSON(r, &req); err != nil {
			return err
		}
		target, membership := req.UserID, ""
		switch action {
		case "leave":
			target, membership = dev.UserID, "leave"
		case "invite":
			membership = "invite"
		case "kick", "unban":
			membership = "leave"
		case "ban":
			membership = "ban"
		}
		if action != "leave" {
			if target == "" {
				return httputil.MissingParam("Missing user_id")
			}
			if err := checkUserID(target); err != nil {
				return err
			}
		}
		if err := rt.checkMembershipTarget(r.Context(), action, roomID, target); err != nil {
			return err
		}
		_, err := rt.rooms.PerformMembership(r.Context(), roomapi.MembershipRequest{
			RoomID:     roomID,
			Sender:     dev.UserID,
			Target:     target,
			Membership: membership,
			Reason:     req.Reason,
		})
		notHere := errors.Is(err, roomapi.ErrRoomNotFound) || errors.Is(err, roomapi.ErrNotInRoom)
		if action == "leave" && notHere && rt.opts.RemoteRooms != nil {
			// Rejecting an invite to a room this server is not in.
			if rerr := rt.opts.RemoteRooms.LeaveRemote(r.Context(), roomID, dev.UserID); rerr != nil {
				httputil.Logger(r.Context()).WithError(rerr).Info("rejecting a remote invite failed")
				return httputil.NotFound("Unknown room")
			}
			err = nil
		}
		if err != nil {
			return err
		}
		httputil.WriteJSON(w, http.StatusOK, struct{}{})
		return nil
	}
}

// checkMembershipTarget refuses what the target's membership rules out:
// leaving a server-notices room one is only invited to, unbanning a user
// who is not banned, kicking one who is not in the room.
func (rt *Routes) checkMembershipTarget(ctx context.Context, action, roomID, target string) error {
	switch action {
	case "invite":
		rt.ensureAppServiceUser(ctx, target)
	case "leave":
		return rt.checkNoticesLeave(ctx, roomID, target)
	case "unban":
		if m, err := rt.rooms.Membership(ctx, roomID, target); err != nil {
			return err
		} else if m != "ban" {
			return httputil.Forbidden("%s is not banned", target)
		}
	case "kick":
		if m, err := rt.rooms.Membership(ctx, roomID, target); err != nil {
			return err
		} else if m != "join" && m != "invite" && m != "knock" {
			return httputil.Forbidden("%s is not in the room", target)
		}
	}
	return nil
}

// POST /v3/rooms/{roomId}/forget
func (rt *Routes) forget(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	roomID := httputil.Vars(r)["roomId"]
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	if err := rt.rooms.Forget(r.Context(), roomID, dev.UserID); err != nil {
		var be *roomapi.BadRequestError
		if errors.As(err, &be) {
			// The spec's answer for a user still in the room.
			return httputil.BadRequestUnknown("%s", be.Reason)
		}
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

// PUT /v3/rooms/{roomId}/send/{eventType}/{txnId}
func (rt *Routes) sendEvent(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	return rt.send(w, r, dev, v["roomId"], v["eventType"], nil, v["txnId"])
}

// PUT /v3/rooms/{roomId}/state/{eventType}/{stateKey}
func (rt *Routes) putState(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	sk := v["stateKey"]
	return rt.send(w, r, dev, v["roomId"], v["eventType"], &sk, "")
}

func (rt *Routes) send(
	w http.ResponseWriter,
	r *http.Request,
	dev *api.Device,
	roomID, evType string,
	stateKey *string,
	txnID string,
) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	if evType == "" || len(evType) > 255 {
		return httputil.InvalidParam("Invalid event type")
	}
	body, err := httputil.ReadBody(r)
	if err != nil {
		return err
	}
	var content map[string]json.RawMessage
	if err := httputil.DecodeJSONObject(body, &content); err != nil {
		return err
	}
	if stateKey != nil && evType == "m.room.member" {
		if err := checkUserID(*stateKey); err != nil {
			return err
		}
	}
	if stateKey != nil && evType == "m.room.canonical_alias" {
		if err := rt.checkCanonicalAlias(r.Context(), roomID, content); err != nil {
			return err
		}
	}
	// Events are limited to 64 KiB as PDUs (spec: "Size limits"); the
	// content alone over that can never fit.
	if len(body) > 65536 {
		return httputil.TooLarge("Event content is larger than 64 KiB")
	}
	ts, err := massagedTS(r, dev)
	if err != nil {
		return err
	}
	id, err := rt.rooms.SendEvent(r.Context(), roomapi.SendEventRequest{RoomID: roomID, Sender: dev.UserID, DeviceID: string(dev.ID),
		TxnID: txnID, Type: evType, StateKey: stateKey, Content: body, TS: ts})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"event_id": id})
	return nil
}

// requireJoined checks that the requester is in the room (403 otherwise, as
// for a room that does not exist, so non-members learn nothing).
func (rt *Routes) requireJoined(ctx context.Context, roomID, userID string) error {
	if err := checkRoomID(roomID); err != nil {
		return err
	}
	m, err := rt.rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomapi.ErrRoomNotFound) || (err == nil && m != "join") {
		return httputil.Forbidden("You are not a member of this room")
	}
	return err
}

// GET /v3/rooms/{roomId}/state/{eventType}/{stateKey}
func (rt *Routes) getStateEvent(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	var ev roomapi.Event
	if err := rt.requireJoined(r.Context(), v["roomId"], dev.UserID); err == nil {
		ev, err = rt.rooms.StateEvent(r.Context(), v["roomId"], v["eventType"], v["stateKey"])
		if errors.Is(err, roomapi.ErrEventNotFound) {
			return httputil.NotFound("State event not found")
		} else if err != nil {
			return err
		}
	} else {
		// A departed member reads the state as it was when they left.
		state, serr := rt.stateAtLeave(r.Context(), v["roomId"], dev.UserID)
		if serr != nil {
			return err
		}
		found := false
		for _, e := range state {
			if ce, cerr := e.Client(); cerr == nil && ce.Type == v["eventType"] && ce.StateKey != nil && *ce.StateKey == v["stateKey"] {
				ev, found = e, true
			}
		}
		if !found {
			return httputil.NotFound("State event not found")
		}
	}
	ce, err := ev.Client()
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "event" {
		httputil.WriteJSON(w, http.StatusOK, ce)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ce.Content)
	return nil
}

// currentState returns the current state of the path's room, in client
// format, to a requester who is in the room.
func (rt *Routes) currentState(r *http.Request, dev *api.Device) ([]roomapi.ClientEvent, error) {
	roomID := httputil.Vars(r)["roomId"]
	evs, err := rt.visibleState(r.Context(), roomID, dev.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]roomapi.ClientEvent, 0, len(evs))
	for _, e := range evs {
		ce, err := e.Client()
		if err != nil {
			return nil, err
		}
		out = append(out, ce)
	}
	return out, nil
}

// GET /v3/rooms/{roomId}/state
func (rt *Routes) getState(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	out, err := rt.currentState(r, dev)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// GET /v3/rooms/{roomId}/joined_members
func (rt *Routes) joinedMembers(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	if err := rt.requireJoined(r.Context(), httputil.Vars(r)["roomId"], dev.UserID); err != nil {
		return err
	}
	state, err := rt.currentState(r, dev)
	if err != nil {
		return err
	}
	// display_name and avatar_url are always present, null when unset (as
	// Synapse answers; clients and test suites look for the keys).
	joined := map[string]map[string]any{}
	for _, ce := range state {
		if ce.Type != "m.room.member" || ce.StateKey == nil {
			continue
		}
		var c struct {
			Membership  string `json:"membership"`
			DisplayName string `json:"displayname"`
			AvatarURL   string `json:"avatar_url"`
		}
		_ = json.Unmarshal(ce.Content, &c)
		if c.Membership != "join" {
			continue
		}
		m := map[string]any{"display_name": nil, "avatar_url": nil}
		if c.DisplayName != "" {
			m["display_name"] = c.DisplayName
		}
		if c.AvatarURL != "" {
			m["avatar_url"] = c.AvatarURL
		}
		joined[*ce.StateKey] = m
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"joined": joined})
	return nil
}

// GET /v3/joined_rooms
func (rt *Routes) joinedRooms(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	rooms, err := rt.rooms.JoinedRooms(r.Context(), dev.UserID)
	if err != nil {
		return err
	}
	if rooms == nil {
		rooms = []string{}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"joined_rooms": rooms})
	return nil
}

// PUT /v3/rooms/{roomId}/redact/{eventId}/{txnId}
func (rt *Routes) redact(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	v := httputil.Vars(r)
	if err := checkRoomID(v["roomId"]); err != nil {
		return err
	}
	if err := checkEventID(v["eventId"]); err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if err := rt.requireJoined(r.Context(), v["roomId"], dev.UserID); err != nil {
		return err
	}
	id, err := rt.rooms.Redact(r.Context(), roomapi.RedactRequest{RoomID: v["roomId"], Sender: dev.UserID, DeviceID: string(dev.ID),
		TxnID: v["txnId"], EventID: v["eventId"], Reason: req.Reason})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"event_id": id})
	return nil
}

// checkCanonicalAlias applies the spec's rules to a new
// m.room.canonical_alias (PUT /state: "M_BAD_ALIAS: one or more aliases
// within the m.room.canonical_alias event do not point to the room ID for
// which the state event is to be sent to"): every alias well formed
// (M_INVALID_PARAM) and, for this server's aliases, pointing to the room.
// Other servers' aliases are taken as given.
func (rt *Routes) checkCanonicalAlias(ctx context.Context, roomID string, content map[string]json.RawMessage) error {
	var aliases []string
	if raw, ok := content["alias"]; ok && string(raw) != "null" {
		var a string
		if err := json.Unmarshal(raw, &a); err != nil {
			return httputil.InvalidParam("alias must be a string")
		}
		aliases = append(aliases, a)
	}
	if raw, ok := content["alt_aliases"]; ok && string(raw) != "null" {
		var alt []string
		if err := json.Unmarshal(raw, &alt); err != nil {
			return httputil.InvalidParam("alt_aliases must be a list of strings")
		}
		aliases = append(aliases, alt...)
	}
	for _, a := range aliases {
		_, server, err := parseAlias(a)
		if err != nil {
			return err
		}
		dir, ok := rt.directory()
		if server != rt.opts.ServerName || !ok {
			continue
		}
		got, err := dir.ResolveAlias(ctx, a)
		if err != nil || got != roomID {
			return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_BAD_ALIAS",
				Message: "Room alias " + a + " does not point to this room"}
		}
	}
	return nil
}

// visibleState is the room state a user may read: the current state while
// joined, the state when they left after leaving (spec: GET
// /rooms/{roomId}/state, "If the user has left the room then the state is
// taken from the state of the room when they left").
func (rt *Routes) visibleState(ctx context.Context, roomID, userID string) ([]roomapi.Event, error) {
	if err := rt.requireJoined(ctx, roomID, userID); err != nil {
		state, serr := rt.stateAtLeave(ctx, roomID, userID)
		if serr != nil {
			return nil, err
		}
		return state, nil
	}
	evs, err := rt.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// stateBefore is the roomserver's historical state query.
type stateBefore interface {
	StateBefore(ctx context.Context, roomID, eventID string) (state, authChain []gomatrixserverlib.PDU, err error)
}

// stateAtLeave is the room's state just after the user left (or was
// kicked or banned), their membership event included; an error when they
// are not a departed member, or forgot the room.
func (rt *Routes) stateAtLeave(ctx context.Context, roomID, userID string) ([]roomapi.Event, error) {
	sb, ok := rt.rooms.(stateBefore)
	if !ok {
		return nil, errors.New("no historical state here")
	}
	m, err := rt.rooms.Membership(ctx, roomID, userID)
	if err != nil || (m != "leave" && m != "ban") {
		return nil, errors.New("not a departed member")
	}
	if gone, err := rt.rooms.Forgotten(ctx, roomID, userID); err != nil || gone {
		return nil, errors.New("forgotten")
	}
	leave, err := rt.rooms.StateEvent(ctx, roomID, "m.room.member", userID)
	if err != nil {
		return nil, err
	}
	before, _, err := sb.StateBefore(ctx, roomID, leave.ID)
	if err != nil {
		return nil, err
	}
	out := make([]roomapi.Event, 0, len(before)+1)
	for _, p := range before {
		if p.Type() == "m.room.member" && p.StateKey() != nil && *p.StateKey() == userID {
			continue
		}
		out = append(out, roomapi.Event{ID: p.EventID(), RoomID: roomID, PDU: p.JSON()})
	}
	return append(out, leave), nil
}
