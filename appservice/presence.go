package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	syncapi "github.com/myelin-im/myelin/syncapi/api"
)

// startPresence subscribes the presence senders of a service: local users'
// presence changes (the sync component's presence topic) and other
// servers' users' (the presence the federation component accepted), each
// through a consumer group of its own, pushed as m.presence ephemeral
// events (spec: "Pushing ephemeral data"). Nothing arrives when presence
// is disabled: nothing is published then.
func (s *sender) startPresence(ctx context.Context, b bus.Bus) ([]bus.Subscription, error) {
	local, err := b.SubscribeBatch(ctx, syncapi.PresenceTopic, GroupName(s.as.ID)+"_presence", s.handlePresence)
	if err != nil {
		return nil, fmt.Errorf("appservice %s: subscribing its presence: %w", s.as.ID, err)
	}
	remote, err := b.SubscribeBatch(ctx, syncapi.PresenceInboundTopic, GroupName(s.as.ID)+"_presence_in", s.handlePresence)
	if err != nil {
		_ = local.Close()
		return nil, fmt.Errorf("appservice %s: subscribing its remote presence: %w", s.as.ID, err)
	}
	return []bus.Subscription{local, remote}, nil
}

func (s *sender) handlePresence(ctx context.Context, msgs []*bus.Message) error {
	var ephemeral []map[string]any
	interest := roomInterest{}
	for _, m := range msgs {
		if m.Published.Before(s.since) {
			continue
		}
		var u syncapi.PresenceUpdate
		if err := json.Unmarshal(m.Body, &u); err != nil || u.UserID == "" {
			continue
		}
		ok, err := s.presenceInterests(ctx, u.UserID, interest)
		if err != nil {
			return err
		}
		if ok {
			ephemeral = append(ephemeral, presenceEvent(u, m.Published.UnixMilli()))
		}
	}
	if len(ephemeral) == 0 {
		return nil
	}
	return s.pushBody(ctx, "p"+transactionID(msgs)[1:], s.ephemeralBody(ephemeral))
}

// presenceInterests reports whether a user's presence is for the service
// (spec: "Pushing ephemeral data", m.presence: a user of its namespaces, or
// one sharing a room with it — a room it is interested in).
func (s *sender) presenceInterests(ctx context.Context, userID string, cache roomInterest) (bool, error) {
	if s.ownsLocal(userID) {
		return true, nil
	}
	rooms, err := s.rooms.JoinedRooms(ctx, userID)
	if err != nil && !errors.Is(err, roomapi.ErrRoomNotFound) {
		return false, fmt.Errorf("appservice: rooms of %s: %w", userID, err)
	}
	for _, room := range rooms {
		ok, err := s.roomInterested(ctx, room, cache)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// presenceEvent is an update as the m.presence event /sync gives (spec:
// client-server API, "Presence"). last_active_ago is counted to when the
// update was published, so that a retried transaction carries the same
// event.
func presenceEvent(u syncapi.PresenceUpdate, atMS int64) map[string]any {
	content := map[string]any{
		"presence":         u.Presence,
		"last_active_ago":  max(atMS-u.LastActiveTS, 0),
		"currently_active": u.CurrentlyActive,
	}
	if u.StatusMsg != nil {
		content["status_msg"] = *u.StatusMsg
	}
	return map[string]any{"type": "m.presence", "sender": u.UserID, "content": content}
}
