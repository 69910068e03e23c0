package federationapi

import (
	"context"
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/bus"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// Presence over federation (spec: server-server API, "Presence"): local
// users' changes go as m.presence EDUs to the servers sharing a room with
// them; other servers' EDUs are handed to the sync component, which stores
// and delivers them. Both are dropped when presence is disabled.

// presenceGroup is the federation component's consumer group on the sync
// component's presence topic.
const presenceGroup = "federationapi"

// presenceBus is the bus the inbound EDUs are published on (set by
// StartSending before any request is served) and the outbound
// subscription.
type presenceBus struct {
	bus bus.Bus
	sub bus.Subscription
}

// presenceEDU is m.presence's content.
type presenceEDU struct {
	Push []presencePush `json:"push"`
}

// presencePush is one user's update in an m.presence EDU.
type presencePush struct {
	UserID          string  `json:"user_id"`
	Presence        string  `json:"presence"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	LastActiveAgo   int64   `json:"last_active_ago"`
	CurrentlyActive bool    `json:"currently_active"`
}

// startPresence subscribes to local users' presence changes, unless
// presence is disabled.
func (f *FederationAPI) startPresence(ctx context.Context, b bus.Bus) error {
	if f.opts.PresenceDisabled {
		return nil
	}
	f.presence.bus = b
	sub, err := b.Subscribe(ctx, syncapi.PresenceTopic, presenceGroup, f.onPresence)
	if err != nil {
		return err
	}
	f.presence.sub = sub
	return nil
}

// onPresence sends a local user's presence to every other server sharing a
// room with the user (spec: "Servers should only send presence updates
// for users that the receiving server would be interested in").
func (f *FederationAPI) onPresence(ctx context.Context, msg *bus.Message) error {
	var u syncapi.PresenceUpdate
	if err := json.Unmarshal(msg.Body, &u); err != nil || !isUserOf(u.UserID, f.name) || f.queues == nil {
		return nil
	}
	dests, err := f.serversSharingRooms(ctx, u.UserID)
	if err != nil || len(dests) == 0 {
		return err
	}
	body, err := json.Marshal(edu{Type: "m.presence", Content: presenceEDU{Push: []presencePush{{
		UserID: u.UserID, Presence: u.Presence, StatusMsg: u.StatusMsg,
		LastActiveAgo: max(f.now().UnixMilli()-u.LastActiveTS, 0), CurrentlyActive: u.CurrentlyActive,
	}}}})
	if err != nil {
		return err
	}
	return f.queues.EnqueueEDU(ctx, dests, body)
}

// inputPresence hands the sync component the updates of an m.presence EDU
// that concern users of the sending server who share a room with this
// server's users; others are dropped (spec: an EDU "representing presence
// updates for users of the sending homeserver").
func (f *FederationAPI) inputPresence(ctx context.Context, origin spec.ServerName, content json.RawMessage) error {
	if f.opts.PresenceDisabled || f.presence.bus == nil {
		return nil
	}
	var c presenceEDU
	if json.Unmarshal(content, &c) != nil {
		f.opts.Log.WithField("origin", origin).Warn("dropping a malformed m.presence EDU")
		return nil
	}
	now := f.now().UnixMilli()
	for _, p := range c.Push {
		if !isUserOf(p.UserID, origin) || !syncapi.ValidPresence(p.Presence) || p.LastActiveAgo < 0 || !f.sharesRoom(ctx, p.UserID) {
			continue
		}
		body, err := json.Marshal(syncapi.PresenceUpdate{
			UserID: p.UserID, Presence: p.Presence, StatusMsg: p.StatusMsg,
			LastActiveTS: now - p.LastActiveAgo, CurrentlyActive: p.CurrentlyActive,
		})
		if err != nil {
			return err
		}
		if err := f.presence.bus.Publish(ctx, syncapi.PresenceInboundTopic, p.UserID, body, nil); err != nil {
			return err
		}
	}
	return nil
}
