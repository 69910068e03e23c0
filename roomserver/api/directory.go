package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/myelin-im/myelin/internal/coded"
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

// PublicRoomsPaging is a page of the directory as both the client and the
// federation API answer it (spec: GET/POST /publicRooms). Pagination
// tokens are offsets into the directory's order ("o" and a number): simple
// and stateless, at the price that rooms moving in the order while a client
// pages may be shown twice or skipped.
type PublicRoomsPaging struct {
	Chunk     []PublicRoom `json:"chunk"`
	NextBatch string       `json:"next_batch,omitempty"`
	PrevBatch string       `json:"prev_batch,omitempty"`
	Total     int          `json:"total_room_count_estimate"`
}

// ErrBadSince is returned for a pagination token that is not one (400
// M_INVALID_PARAM to clients and servers alike).
var ErrBadSince = coded.New("invalid since token", http.StatusBadRequest, "M_INVALID_PARAM")

// PublicRoomsPage reads the page of the directory after since (a token of
// an earlier page, or "") holding at most limit rooms.
func PublicRoomsPage(ctx context.Context, dir Directory, since string, limit int, term string, types []*string) (PublicRoomsPaging, error) {
	offset := 0
	if since != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(since, "o"))
		if !strings.HasPrefix(since, "o") || err != nil || n < 0 {
			return PublicRoomsPaging{}, ErrBadSince
		}
		offset = n
	}
	page, err := dir.PublicRooms(ctx, PublicRoomsRequest{Offset: offset, Limit: limit, SearchTerm: term, RoomTypes: types})
	if err != nil {
		return PublicRoomsPaging{}, err
	}
	out := PublicRoomsPaging{Chunk: page.Rooms, Total: page.Total}
	if out.Chunk == nil {
		out.Chunk = []PublicRoom{}
	}
	if next := offset + len(page.Rooms); len(page.Rooms) > 0 && next < page.Total {
		out.NextBatch = "o" + strconv.Itoa(next)
	}
	if offset > 0 {
		out.PrevBatch = "o" + strconv.Itoa(max(0, min(offset, page.Total)-limit))
	}
	return out, nil
}
