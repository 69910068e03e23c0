package api

import (
	"context"
	"errors"
)

// Errors of the directory.
var (
	ErrAliasNotFound = errors.New("room alias not found")
	ErrAliasInUse    = errors.New("room alias already in use")
)

// Directory is the roomserver's room aliases and published room directory,
// for this server's aliases and rooms (federation comes later). The
// roomserver implements it next to Roomserver; it is a separate interface so
// that Roomserver stays as other components know it.
type Directory interface {
	// CreateAlias maps a local alias to a room the creator is joined to:
	// ErrRoomNotFound for an unknown room, a ForbiddenError when the creator
	// is not joined, ErrAliasInUse when the alias is taken.
	CreateAlias(ctx context.Context, alias, roomID, creator string) error
	// ResolveAlias returns the room an alias maps to, or ErrAliasNotFound.
	ResolveAlias(ctx context.Context, alias string) (roomID string, err error)
	// DeleteAlias removes an alias on behalf of requester, who must be the
	// alias's creator or a member allowed to send m.room.canonical_alias
	// (else a ForbiddenError); ErrAliasNotFound for an unknown alias.
	DeleteAlias(ctx context.Context, alias, requester string) error
	// AliasesOf lists a room's local aliases, sorted (never nil);
	// ErrRoomNotFound for an unknown room.
	AliasesOf(ctx context.Context, roomID string) ([]string, error)
	// SetPublished publishes a room in the directory or withdraws it, on
	// behalf of requester, who must be a member allowed to send
	// m.room.canonical_alias (else a ForbiddenError); ErrRoomNotFound for an
	// unknown room.
	SetPublished(ctx context.Context, roomID, requester string, published bool) error
	// IsPublished reports whether a room is in the directory;
	// ErrRoomNotFound for an unknown room.
	IsPublished(ctx context.Context, roomID string) (bool, error)
	// PublicRooms lists the published rooms that match req, most joined
	// members first, then by room ID.
	PublicRooms(ctx context.Context, req PublicRoomsRequest) (PublicRoomsResponse, error)
}

// PublicRoomsRequest selects a page of the published room directory.
type PublicRoomsRequest struct {
	// Offset is how many matching rooms to skip; Limit how many to return
	// at most (0: all).
	Offset, Limit int
	// SearchTerm, when set, keeps the rooms whose name, topic, canonical
	// alias or room ID contains it, ignoring case.
	SearchTerm string
	// RoomTypes, when not empty, keeps the rooms of these types; a nil entry
	// stands for rooms without a type (spec: filter.room_types).
	RoomTypes []*string
}

// PublicRoomsResponse is one page of the published room directory.
type PublicRoomsResponse struct {
	Rooms []PublicRoom
	// Total is how many published rooms match the request in all.
	Total int
}

// PublicRoom is a published room as the directory shows it (spec:
// PublishedRoomsChunk), from the room's current state.
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}
