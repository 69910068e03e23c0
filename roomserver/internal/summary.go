package internal

import (
	"context"
	"encoding/json"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/roomserver/api"
)

var _ api.Summaries = (*Roomserver)(nil)

// RoomSummary implements api.Summaries.
func (rs *Roomserver) RoomSummary(ctx context.Context, roomID string) (api.RoomSummary, error) {
	r, err := rs.loadRoom(ctx, roomID)
	if err != nil {
		return api.RoomSummary{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := api.RoomSummary{PublicRoom: r.publicRoom(), RoomVersion: string(r.version.Version())}
	if s.JoinRule == "" {
		// Spec (PublishedRoomsChunk): "When not present, the room is
		// assumed to be public"; a room always has one, but say it.
		s.JoinRule = spec.Public
	}
	if ev, _ := r.get("m.room.encryption", ""); ev != nil {
		var enc struct {
			Algorithm string `json:"algorithm"`
		}
		_ = json.Unmarshal(ev.Content(), &enc)
		s.Encryption = enc.Algorithm
	}
	if s.JoinRule == spec.Restricted || s.JoinRule == spec.KnockRestricted {
		s.AllowedRoomIDs = r.allowedRoomIDs()
	}
	return s, nil
}

// allowedRoomIDs are the rooms of a restricted join rule's m.room_membership
// conditions (spec: "Restricted rooms"), never nil. The caller holds r.mu.
func (r *room) allowedRoomIDs() []string {
	out := []string{}
	ev, _ := r.get(spec.MRoomJoinRules, "")
	if ev == nil {
		return out
	}
	var jr struct {
		Allow []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	_ = json.Unmarshal(ev.Content(), &jr)
	for _, a := range jr.Allow {
		if a.Type == spec.MRoomMembership && a.RoomID != "" {
			out = append(out, a.RoomID)
		}
	}
	return out
}
