package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/myelin-im/myelin/internal/coded"
)

// OutputTypePurgeRoom marks a room the roomserver purged: every component
// that keeps rows of the room removes them (OutputEvent.RoomID names it).
// It comes after the room's last event on the room's partition.
const OutputTypePurgeRoom = "purge_room"

// Errors of room administration.
var (
	// ErrRoomBlocked: a local user may not join or be invited to a room an
	// admin blocked (Synapse's answer: 403 M_FORBIDDEN).
	ErrRoomBlocked = coded.New("this room has been blocked on this server", http.StatusForbidden, "M_FORBIDDEN")
	// ErrDeleteRunning: a delete of the room has not finished yet.
	ErrDeleteRunning = coded.New("a delete of this room is already in progress", http.StatusBadRequest, "M_UNKNOWN")
	// ErrDeleteNotFound: no delete with that ID.
	ErrDeleteNotFound = coded.New("delete ID not found", http.StatusNotFound, "M_NOT_FOUND")
)

// AdminRooms is the roomserver as the admin API uses it: every room's
// summary, blocking, deleting and purging rooms.
type AdminRooms interface {
	// ListAdminRooms lists every room this server has, with what the admin
	// API's room list shows of it, in no particular order.
	ListAdminRooms(ctx context.Context) ([]AdminRoom, error)
	// AdminRoom is one room's; ErrRoomNotFound for an unknown room.
	AdminRoom(ctx context.Context, roomID string) (AdminRoom, error)
	// SetRoomBlocked blocks a room (by an admin) or unblocks it; a room may
	// be blocked before this server knows it.
	SetRoomBlocked(ctx context.Context, roomID, by string, blocked bool) error
	// RoomBlocked reports whether a room is blocked, and by whom.
	RoomBlocked(ctx context.Context, roomID string) (blocked bool, by string, err error)
	// DeleteRoom shuts a room down (and purges it) as req asks and returns
	// when it is done; the delete is recorded first, so it is finished
	// after a crash (ResumeRoomDeletes).
	DeleteRoom(ctx context.Context, req RoomDeleteRequest) (RoomDelete, error)
	// StartRoomDelete records a delete and runs it in the background; its
	// status is read with RoomDeleteByID. ErrDeleteRunning if one of the
	// room is not finished.
	StartRoomDelete(ctx context.Context, req RoomDeleteRequest) (deleteID string, err error)
	// RoomDeleteByID is one delete's status; ErrDeleteNotFound if unknown.
	RoomDeleteByID(ctx context.Context, deleteID string) (RoomDelete, error)
	// RoomDeletesOf lists the deletes of a room, oldest first.
	RoomDeletesOf(ctx context.Context, roomID string) ([]RoomDelete, error)
	// ResolveAlias returns the room a local alias maps to, or
	// ErrAliasNotFound (as Directory's).
	ResolveAlias(ctx context.Context, alias string) (roomID string, err error)
	// RoomMessages pages through a room's timeline as an admin sees it
	// (every event, whatever the history visibility).
	RoomMessages(ctx context.Context, req RoomMessagesRequest) (RoomMessages, error)
}

// AdminRoom is what the admin API shows of a room (Synapse's room list
// and room details). Empty strings stand for state the room does not have.
type AdminRoom struct {
	RoomID             string
	Name               string
	Topic              string
	Avatar             string
	CanonicalAlias     string
	JoinedMembers      int
	JoinedLocalMembers int
	Version            string
	Creator            string
	Encryption         string
	Federatable        bool
	Public             bool
	JoinRules          string
	GuestAccess        string
	HistoryVisibility  string
	StateEvents        int
	RoomType           string
	// Forgotten: every local user who was in the room forgot it.
	Forgotten bool
	// PrivilegedCreators are the room's creators when its version puts
	// them above power levels (room version 12), else nil.
	PrivilegedCreators []string
}

// RoomDeleteRequest is an admin's DELETE of a room (Synapse's body).
type RoomDeleteRequest struct {
	RoomID    string `json:"room_id"`
	Requester string `json:"requester"`
	// NewRoomUserID, when set, creates a room as this local user, with
	// RoomName and Message, that the removed local users join.
	NewRoomUserID string `json:"new_room_user_id,omitempty"`
	RoomName      string `json:"room_name,omitempty"`
	Message       string `json:"message,omitempty"`
	Block         bool   `json:"block"`
	Purge         bool   `json:"purge"`
	ForcePurge    bool   `json:"force_purge"`
}

// Statuses of a room delete (Synapse's).
const (
	DeleteScheduled = "scheduled"
	DeleteActive    = "active"
	DeleteComplete  = "complete"
	DeleteFailed    = "failed"
)

// RoomDelete is a delete's status and what it did so far.
type RoomDelete struct {
	DeleteID string
	RoomID   string
	Status   string
	Error    string
	Result   ShutdownResult
}

// ShutdownResult is what shutting a room down did (Synapse's
// shutdown_room object).
type ShutdownResult struct {
	KickedUsers       []string `json:"kicked_users"`
	FailedToKickUsers []string `json:"failed_to_kick_users"`
	LocalAliases      []string `json:"local_aliases"`
	NewRoomID         *string  `json:"new_room_id"`
}

// RoomMessagesRequest is a page of a room's timeline: From and To are
// tokens of earlier pages ("" for the end From's direction starts at).
type RoomMessagesRequest struct {
	RoomID    string
	From, To  string
	Backwards bool
	Limit     int
	// Filter, when not nil, keeps only the events it matches.
	Filter func(ClientEvent) bool
}

// RoomMessages is one page: the events in the order asked, the token the
// page starts at and the one to continue with ("" at the room's end).
type RoomMessages struct {
	Chunk      []json.RawMessage
	Start, End string
}
