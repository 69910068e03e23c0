// Package consumers feeds the user API from the bus: the roomserver's
// output log keeps the user directory's memberships, public rooms and
// other servers' users up to date.
package consumers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/internal/bus"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// DirectoryGroup is the user directory's consumer group on the output log.
const DirectoryGroup = "userapi-directory"

// Directory follows room state for the user directory: who is joined to
// which room (search_all_users=false needs who shares a room with whom),
// which rooms are public, and the display names and avatars of other
// servers' users from their joins. Local users' entries come from their
// global profiles (the user API writes them), never from member events,
// which may carry room-specific names. Every write is idempotent, so a
// redelivered event changes nothing.
type Directory struct {
	store      *storage.Storage
	serverName string
	log        logrus.FieldLogger
}

// NewDirectory returns the consumer.
func NewDirectory(store *storage.Storage, serverName string, log logrus.FieldLogger) *Directory {
	return &Directory{store: store, serverName: serverName, log: log}
}

// Start subscribes to the roomserver's output log.
func (d *Directory) Start(ctx context.Context, b bus.Bus) (bus.Subscription, error) {
	sub, err := b.Subscribe(ctx, roomapi.OutputTopic, DirectoryGroup, d.handle)
	if err != nil {
		return nil, fmt.Errorf("userapi: subscribing the directory to the output log: %w", err)
	}
	return sub, nil
}

// stateEvent is what the directory reads of an event.
type stateEvent struct {
	Type     string  `json:"type"`
	StateKey *string `json:"state_key"`
	Content  struct {
		Membership        string `json:"membership"`
		DisplayName       any    `json:"displayname"`
		AvatarURL         any    `json:"avatar_url"`
		JoinRule          string `json:"join_rule"`
		HistoryVisibility string `json:"history_visibility"`
	} `json:"content"`
}

func (d *Directory) handle(ctx context.Context, msg *bus.Message) error {
	var out roomapi.OutputEvent
	if err := json.Unmarshal(msg.Body, &out); err != nil {
		d.log.WithError(err).WithField("msg_id", msg.ID).Error("user directory: unreadable output event; skipping it")
		return nil
	}
	if out.Type != roomapi.OutputTypeNewRoomEvent {
		return nil
	}
	// A resolved event of another server changes the current state only if
	// state resolution made it current.
	if out.Resolved && !slices.Contains(out.StateChanged, out.EventID) {
		return nil
	}
	var ev stateEvent
	if err := json.Unmarshal(out.Event, &ev); err != nil || ev.StateKey == nil {
		return nil
	}
	switch ev.Type {
	case "m.room.member":
		return d.onMember(ctx, out.RoomID, *ev.StateKey, ev)
	case "m.room.join_rules":
		if *ev.StateKey == "" {
			return d.store.SetDirectoryRoomJoinPublic(ctx, out.RoomID, ev.Content.JoinRule == "public")
		}
	case "m.room.history_visibility":
		if *ev.StateKey == "" {
			return d.store.SetDirectoryRoomWorldReadable(ctx, out.RoomID, ev.Content.HistoryVisibility == "world_readable")
		}
	}
	return nil
}

func (d *Directory) onMember(ctx context.Context, roomID, userID string, ev stateEvent) error {
	_, local := api.LocalpartOf(userID, d.serverName)
	switch ev.Content.Membership {
	case "join":
		if err := d.store.SetDirectoryMember(ctx, roomID, userID, local); err != nil {
			return err
		}
		if local {
			return nil
		}
		// The spec leaves open where other servers' users' profiles come
		// from; their latest join is what this server knows of them.
		name, _ := ev.Content.DisplayName.(string)
		avatar, _ := ev.Content.AvatarURL.(string)
		return d.store.SetDirectoryEntry(ctx, storage.DirectoryEntry{UserID: userID, DisplayName: name, AvatarURL: avatar})
	case "leave", "ban":
		return d.store.RemoveDirectoryMember(ctx, roomID, userID)
	}
	return nil
}
