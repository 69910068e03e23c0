package internal

import (
	"context"
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
)

// SendEvent implements api.Roomserver. With a transaction ID the request is
// idempotent per device: a retry, even after a restart, returns the first
// event's ID and sends nothing.
func (rs *Roomserver) SendEvent(ctx context.Context, req api.SendEventRequest) (string, error) {
	key := ""
	if req.TxnID != "" {
		sk := "\x01" // marks a message event, apart from any state key
		if req.StateKey != nil {
			sk = *req.StateKey
		}
		// A retry is found when its event commits (the transaction row is
		// unique) and answered with the first event: no lookup on the way
		// in for the common, first, attempt.
		key = txnKey("send", req.RoomID, req.Type, sk, req.TxnID)
	}
	if req.Type == spec.MRoomCreate {
		return "", &api.BadRequestError{Reason: "a room has exactly one m.room.create event"}
	}
	if req.Type == "m.room.redaction" && req.StateKey == nil {
		var c struct {
			Redacts string `json:"redacts"`
			Reason  string `json:"reason"`
		}
		_ = json.Unmarshal(req.Content, &c)
		if req.Redacts != "" {
			c.Redacts = req.Redacts
		}
		if c.Redacts == "" {
			return "", &api.BadRequestError{Reason: "a redaction needs redacts"}
		}
		return rs.Redact(ctx, api.RedactRequest{
			RoomID:   req.RoomID,
			Sender:   req.Sender,
			DeviceID: req.DeviceID,
			TxnID:    req.TxnID,
			EventID:  c.Redacts,
			Reason:   c.Reason,
		})
	}
	r, err := rs.loadRoom(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	if req.Type == spec.MRoomPowerLevels && r.version.PrivilegedCreators() {
		// Room version 12 (MSC4289): the room's creators are above power
		// levels and may not be listed in them; such content is malformed
		// for this room, not a matter of the sender's power.
		var c struct {
			Users map[string]json.RawMessage `json:"users"`
		}
		_ = json.Unmarshal(req.Content, &c)
		r.mu.Lock()
		creators := r.creators()
		r.mu.Unlock()
		for _, u := range creators {
			if _, ok := c.Users[u]; ok {
				return "", &api.BadRequestError{Reason: "the room's creators may not be listed in its power levels: " + u}
			}
		}
	}
	if req.Type == spec.MRoomMember {
		// A membership set as state (PUT /state/m.room.member/{userId}):
		// the auth rules decide, as for the membership endpoints, and the
		// content is the client's own.
		if req.StateKey == nil {
			return "", &api.BadRequestError{Reason: "m.room.member needs a state key"}
		}
		var c struct {
			Membership string `json:"membership"`
		}
		_ = json.Unmarshal(req.Content, &c)
		switch c.Membership {
		case spec.Join, spec.Leave, spec.Invite, spec.Ban:
		default:
			return "", &api.BadRequestError{Reason: "unknown membership " + c.Membership}
		}
		if err := rs.checkNotBlocked(ctx, req.RoomID, *req.StateKey, c.Membership); err != nil {
			return "", err
		}
		req.Content = withoutAuthorisedVia(req.Content)
		r.mu.Lock()
		away := rs.throughOthers(r, req.Sender, *req.StateKey, c.Membership)
		r.mu.Unlock()
		if away {
			return "", api.ErrNotInRoom
		}
	}
	content := req.Content
	if len(content) == 0 {
		content = json.RawMessage("{}")
	}
	return rs.send(ctx, r, newEvent{sender: req.Sender, evType: req.Type, stateKey: req.StateKey, content: content,
		redacts: req.Redacts, txnID: req.TxnID, txnKey: key, deviceID: req.DeviceID, ts: req.TS})
}

// PerformMembership implements api.Roomserver for local users in rooms this
// server has. Joining rooms on other servers comes with federation.
func (rs *Roomserver) PerformMembership(ctx context.Context, req api.MembershipRequest) (string, error) {
	if err := rs.checkNotBlocked(ctx, req.RoomID, req.Target, req.Membership); err != nil {
		return "", err
	}
	r, err := rs.loadRoom(ctx, req.RoomID)
	if err != nil {
		return "", err
	}
	content := map[string]any{}
	if req.Membership == spec.Join {
		for k, v := range req.Extra {
			content[k] = v
		}
	}
	content["membership"] = req.Membership
	if req.Reason != "" {
		content["reason"] = req.Reason
	}
	if req.IsDirect && req.Membership == spec.Invite {
		content["is_direct"] = true
	}
	if req.Membership == spec.Join || req.Membership == spec.Knock {
		if req.DisplayName != "" {
			content["displayname"] = req.DisplayName
		}
		if req.AvatarURL != "" {
			content["avatar_url"] = req.AvatarURL
		}
	}
	switch req.Membership {
	case spec.Join, spec.Leave, spec.Invite, spec.Ban, spec.Knock:
	default:
		return "", &api.BadRequestError{Reason: "unknown membership " + req.Membership}
	}
	r.mu.Lock()
	current := r.membership(req.Target)
	away := rs.throughOthers(r, req.Sender, req.Target, req.Membership)
	r.mu.Unlock()
	if away {
		return "", api.ErrNotInRoom
	}
	delete(content, authorisedViaKey) // this server names the authoriser
	if req.Membership == spec.Join && req.Sender == req.Target {
		via, err := rs.localRestrictedJoin(ctx, r, req.Target)
		if err != nil {
			return "", err
		}
		if via != "" {
			content[authorisedViaKey] = via
		}
	}
	// Repeating a leave is a no-op that returns the existing event, as
	// clients retry these; a repeated join with the same content is one too
	// (sameState), and one with a new display name or avatar (a profile
	// change) is a new member event (spec: "If the user is already in the
	// room").
	if req.Sender == req.Target && current == req.Membership && current == spec.Leave {
		r.mu.Lock()
		defer r.mu.Unlock()
		if ev, _ := r.Member(spec.SenderID(req.Target)); ev != nil {
			return ev.EventID(), nil
		}
		if current == spec.Leave {
			return "", api.Forbidden("you are not in this room")
		}
	}
	return rs.send(ctx, r, newEvent{sender: req.Sender, evType: spec.MRoomMember, stateKey: &req.Target, content: content})
}

// throughOthers reports whether a membership change must go through the
// room's other servers: joining, knocking on, or leaving (rejecting an
// invite, rescinding a knock), a room
// this server has but is not in while others are. The caller holds r.mu.
func (rs *Roomserver) throughOthers(r *room, sender, target, membership string) bool {
	return sender == target && (membership == spec.Join || membership == spec.Leave || membership == spec.Knock) &&
		!rs.hasLocalMember(r) && len(r.joinedServers()) > 0
}

// Forget implements api.Roomserver.
func (rs *Roomserver) Forget(ctx context.Context, roomID, userID string) error {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	m := r.membership(userID)
	r.mu.Unlock()
	if m == spec.Join || m == spec.Invite {
		return &api.BadRequestError{Reason: "leave the room before forgetting it"}
	}
	return rs.store.Forget(ctx, r.nid, userID)
}
