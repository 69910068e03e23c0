package internal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/roomserver/storage"
)

// Presets (spec: POST /createRoom).
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// CreateRoom implements api.Roomserver: it builds the room's first events in
// the order the spec gives (create, creator's join, power levels, canonical
// alias, preset state, initial_state, name, topic, invites) and stores them
// all in one transaction, so a room exists whole or not at all.
func (rs *Roomserver) CreateRoom(ctx context.Context, req api.CreateRoomRequest) (string, error) {
	verID := gomatrixserverlib.RoomVersion(req.RoomVersion)
	if verID == "" {
		verID = rs.opts.DefaultRoomVersion
	}
	if !gomatrixserverlib.StableRoomVersion(verID) {
		return "", api.ErrUnsupportedRoomVersion
	}
	ver := gomatrixserverlib.MustGetRoomVersion(verID)
	preset := req.Preset
	switch preset {
	case PresetPrivateChat, PresetTrustedPrivateChat, PresetPublicChat:
	default:
		return "", &api.BadRequestError{Reason: fmt.Sprintf("unknown preset %q", preset)}
	}

	events, err := rs.initialEvents(req, ver, preset)
	if err != nil {
		return "", err
	}
	r := &room{version: ver, state: map[storage.StateKey]stateEvent{}}
	if !ver.DomainlessRoomIDs() {
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		r.id = "!" + base64.RawURLEncoding.EncodeToString(b[:]) + ":" + string(rs.opts.ServerName)
	}
	r.mu.Lock()
	err = rs.store.WithTx(ctx, func(ctx context.Context) error {
		for i, ne := range events {
			ev, err := rs.build(r, ne)
			var fe *api.ForbiddenError
			if errors.As(err, &fe) {
				// Every initial event is made of the request (creation
				// content, power level override, initial state): one the
				// auth rules refuse is a bad request, not a refused right
				// (as for room version 12's creator rules, MSC4289).
				return &api.BadRequestError{Reason: fmt.Sprintf("initial event %s: %s", ne.evType, fe.Reason)}
			}
			if err != nil {
				return fmt.Errorf("initial event %d (%s): %w", i, ne.evType, err)
			}
			if i == 0 {
				if ver.DomainlessRoomIDs() {
					// Room version 12: the room ID is the create event's hash.
					r.id = "!" + ev.EventID()[1:]
				}
				if r.nid, err = rs.store.InsertRoom(ctx, r.id, string(verID)); err != nil {
					return err
				}
			}
			if err := rs.commit(ctx, r, ev, ne); err != nil {
				return err
			}
		}
		return nil
	})
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	rs.rooms.add(r)
	for _, u := range req.Invite {
		if rs.isLocalUser(u) {
			continue
		}
		invite := newEvent{sender: req.Creator, evType: spec.MRoomMember, stateKey: strPtr(u), content: inviteContent(req)}
		if _, err := rs.send(ctx, r, invite); err != nil {
			// The room exists; its creator can invite again.
			rs.log.WithError(err).WithField("room_id", r.id).WithField("user_id", u).Warn("inviting a user of another server failed")
		}
	}
	return r.id, nil
}

// isLocalUser reports whether a user ID belongs to this server.
func (rs *Roomserver) isLocalUser(userID string) bool {
	_, server, ok := strings.Cut(userID, ":")
	return ok && server == string(rs.opts.ServerName)
}

func strPtr(s string) *string { return &s }

// initialEvents lists the events of a new room (spec: POST /createRoom,
// "the server MUST create the following events"), in the spec's order.
func (rs *Roomserver) initialEvents(req api.CreateRoomRequest, ver gomatrixserverlib.IRoomVersion, preset string) ([]newEvent, error) {
	// 1. m.room.create.
	create, err := createContent(req, ver, preset)
	if err != nil {
		return nil, err
	}
	events := []newEvent{
		creatorState(req.Creator, spec.MRoomCreate, "", create),
		// 2. The creator joins.
		creatorState(req.Creator, spec.MRoomMember, req.Creator, creatorJoinContent(req)),
	}
	// 3. Power levels.
	powerLevels, err := powerLevelsContent(req, ver, preset)
	if err != nil {
		return nil, err
	}
	events = append(events, creatorState(req.Creator, spec.MRoomPowerLevels, "", powerLevels))
	// 4. Canonical alias.
	if req.CanonicalAlias != "" {
		events = append(events, creatorState(req.Creator, spec.MRoomCanonicalAlias, "", map[string]any{"alias": req.CanonicalAlias}))
	}
	// 5. Preset state, unless initial_state sets the same piece of state.
	events = append(events, presetEvents(req, preset)...)
	// 6. initial_state, in order.
	initial, err := initialStateEvents(req)
	if err != nil {
		return nil, err
	}
	events = append(events, initial...)
	// 7. Name and topic.
	events = append(events, nameAndTopicEvents(req)...)
	// 8. Invites.
	return append(events, rs.localInviteEvents(req)...), nil
}

// creatorState is a state event sent by the room's creator, one of the
// events that make a new room.
func creatorState(creator, evType, stateKey string, content any) newEvent {
	return newEvent{sender: creator, evType: evType, stateKey: &stateKey, content: content}
}

// createContent is the content of the room's m.room.create event:
// creation_content plus the version (and creator where the version wants
// it).
func createContent(req api.CreateRoomRequest, ver gomatrixserverlib.IRoomVersion, preset string) (map[string]any, error) {
	create := map[string]any{}
	if len(req.CreationContent) > 0 {
		if err := json.Unmarshal(req.CreationContent, &create); err != nil {
			return nil, &api.BadRequestError{Reason: "creation_content must be an object"}
		}
		if create == nil { // "creation_content": null is no creation content
			create = map[string]any{}
		}
	}
	create["room_version"] = string(ver.Version())
	if ver.CreatorInCreateEvent() {
		create["creator"] = req.Creator
	} else {
		delete(create, "creator")
	}
	if ver.PrivilegedCreators() && preset == PresetTrustedPrivateChat && len(req.Invite) > 0 {
		// Spec: for trusted_private_chat the invitees SHOULD be appended to
		// additional_creators (room versions 12 and later).
		add, _ := create["additional_creators"].([]any)
		for _, u := range req.Invite {
			if !slices.Contains(add, any(u)) { // the spec: deduplicate
				add = append(add, u)
			}
		}
		create["additional_creators"] = add
	}
	return create, nil
}

// creatorJoinContent is the content of the creator's join, with the profile
// the request gives.
func creatorJoinContent(req api.CreateRoomRequest) map[string]any {
	join := map[string]any{"membership": spec.Join}
	if req.CreatorDisplayName != "" {
		join["displayname"] = req.CreatorDisplayName
	}
	if req.CreatorAvatarURL != "" {
		join["avatar_url"] = req.CreatorAvatarURL
	}
	return join
}

// powerLevelsContent is the content of the room's m.room.power_levels
// event: the defaults, what the preset changes, then
// power_level_content_override on top.
func powerLevelsContent(req api.CreateRoomRequest, ver gomatrixserverlib.IRoomVersion, preset string) (map[string]any, error) {
	pl := defaultPowerLevels(ver, req.Creator)
	if preset == PresetPublicChat {
		// Anyone may join a public room; inviting stays with moderators,
		// as in Synapse's public_chat preset (private rooms: anyone in
		// them may invite).
		pl["invite"] = 50
	}
	if preset == PresetTrustedPrivateChat && !ver.PrivilegedCreators() {
		users := pl["users"].(map[string]any)
		for _, u := range req.Invite {
			users[u] = 100
		}
	}
	if len(req.PowerLevelContentOverride) > 0 {
		var override map[string]any
		if err := json.Unmarshal(req.PowerLevelContentOverride, &override); err != nil {
			return nil, &api.BadRequestError{Reason: "power_level_content_override must be an object"}
		}
		maps.Copy(pl, override)
	}
	return pl, nil
}

// presetEvents are the join rules, history visibility and guest access the
// preset sets, except those initial_state sets itself.
func presetEvents(req api.CreateRoomRequest, preset string) []newEvent {
	given := map[storage.StateKey]bool{}
	for _, s := range req.InitialState {
		given[storage.StateKey{Type: s.Type, StateKey: s.StateKey}] = true
	}
	joinRule, guest := spec.Invite, "can_join"
	if preset == PresetPublicChat {
		joinRule, guest = spec.Public, "forbidden"
	}
	var events []newEvent
	for _, p := range []struct {
		evType  string
		content map[string]any
	}{
		{spec.MRoomJoinRules, map[string]any{"join_rule": joinRule}},
		{spec.MRoomHistoryVisibility, map[string]any{"history_visibility": "shared"}},
		{"m.room.guest_access", map[string]any{"guest_access": guest}},
	} {
		// "forbidden" is what no m.room.guest_access means: no event for it
		// (as Synapse; the public_chat preset's room is one event shorter).
		if p.evType == "m.room.guest_access" && guest == "forbidden" {
			continue
		}
		if !given[storage.StateKey{Type: p.evType}] {
			events = append(events, creatorState(req.Creator, p.evType, "", p.content))
		}
	}
	return events
}

// initialStateEvents are the request's initial_state, in order; the events
// the server makes itself (create, members, power levels) may not be among
// them.
func initialStateEvents(req api.CreateRoomRequest) ([]newEvent, error) {
	var events []newEvent
	for _, s := range req.InitialState {
		if s.Type == spec.MRoomCreate || s.Type == spec.MRoomMember || s.Type == spec.MRoomPowerLevels {
			return nil, api.ErrInvalidState
		}
		events = append(events, creatorState(req.Creator, s.Type, s.StateKey, s.Content))
	}
	return events, nil
}

// nameAndTopicEvents are the room's m.room.name and m.room.topic, when the
// request gives them.
func nameAndTopicEvents(req api.CreateRoomRequest) []newEvent {
	var events []newEvent
	if req.Name != nil {
		events = append(events, creatorState(req.Creator, spec.MRoomName, "", map[string]any{"name": *req.Name}))
	}
	if req.Topic != nil {
		// The plain topic and its rich form (spec v1.15, m.room.topic: m.topic
		// with a text/plain representation).
		events = append(events, creatorState(req.Creator, spec.MRoomTopic, "", map[string]any{
			"topic":   *req.Topic,
			"m.topic": map[string]any{"m.text": []map[string]string{{"body": *req.Topic}}},
		}))
	}
	return events
}

// localInviteEvents invite the request's invitees of this server. Users of
// other servers are invited once the room exists (their server signs the
// invite: see CreateRoom).
func (rs *Roomserver) localInviteEvents(req api.CreateRoomRequest) []newEvent {
	var events []newEvent
	for _, u := range req.Invite {
		if rs.isLocalUser(u) {
			events = append(events, creatorState(req.Creator, spec.MRoomMember, u, inviteContent(req)))
		}
	}
	return events
}

// inviteContent is the content of an invite made with the room.
func inviteContent(req api.CreateRoomRequest) map[string]any {
	content := map[string]any{"membership": spec.Invite}
	if req.IsDirect {
		content["is_direct"] = true
	}
	if req.InviteReason != "" {
		content["reason"] = req.InviteReason
	}
	return content
}

// defaultPowerLevels is the power levels content of a new room. In room
// versions 12 and later the creators have infinite power and are not listed,
// and m.room.tombstone needs more than state_default (spec: createRoom).
func defaultPowerLevels(ver gomatrixserverlib.IRoomVersion, creator string) map[string]any {
	users := map[string]any{}
	tombstone := 100
	if ver.PrivilegedCreators() {
		tombstone = 150
	} else {
		users[creator] = 100
	}
	return map[string]any{
		"users":          users,
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"ban":            50,
		"kick":           50,
		"redact":         50,
		"invite":         0,
		"notifications":  map[string]any{"room": 50},
		"events": map[string]any{
			spec.MRoomName:              50,
			spec.MRoomPowerLevels:       100,
			spec.MRoomHistoryVisibility: 100,
			spec.MRoomCanonicalAlias:    50,
			"m.room.avatar":             50,
			"m.room.tombstone":          tombstone,
			"m.room.server_acl":         100,
			"m.room.encryption":         100,
		},
	}
}
