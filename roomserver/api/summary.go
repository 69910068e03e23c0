package api

import "context"

// RoomSummary is a room as GET /v1/room_summary describes it (spec: "Room
// Summaries", RoomSummary), from the room's current state on this server,
// without the requester's membership.
type RoomSummary struct {
	PublicRoom
	// Encryption is m.room.encryption's algorithm ("" when unencrypted).
	Encryption  string `json:"encryption,omitempty"`
	RoomVersion string `json:"room_version"`
	// AllowedRoomIDs are the rooms a restricted join rule allows the
	// members of (nil for other join rules).
	AllowedRoomIDs []string `json:"allowed_room_ids,omitempty"`
}

// Summaries describe rooms.
type Summaries interface {
	// RoomSummary summarises a room this server knows (ErrRoomNotFound
	// otherwise). Whether the requester may see it is the caller's call.
	RoomSummary(ctx context.Context, roomID string) (RoomSummary, error)
}
