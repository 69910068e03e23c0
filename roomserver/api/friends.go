package api

import "context"

// Friends is what the friends endpoints read of the roomserver: a friend is
// someone with whom a user shares a direct room where both are joined, a
// friend request a pending direct invite (ARCHITECTURE §1, rows 11–15).
type Friends interface {
	// DirectRooms lists the rooms where the user and exactly one other
	// user are joined, each with whether someone was invited to it as a
	// direct chat (the caller adds what m.direct says).
	DirectRooms(ctx context.Context, userID string) ([]TwoPersonRoom, error)
	// DirectInvites lists the pending direct invites to the user and those
	// the user sent (in rooms the user is still joined to).
	DirectInvites(ctx context.Context, userID string) (incoming, outgoing []DirectInvite, err error)
}

// TwoPersonRoom is a room where the user and one other user are joined.
type TwoPersonRoom struct {
	RoomID string
	Other  string
	// OtherDisplayName and OtherAvatarURL are from the other's join event,
	// for users of other servers only (local users' profiles are the user
	// API's).
	OtherDisplayName, OtherAvatarURL string
	// MyJoinTS and OtherJoinTS are the origin_server_ts of the two joins.
	MyJoinTS, OtherJoinTS int64
	// DirectInvite reports that one of the two was invited as a direct chat.
	DirectInvite bool
}

// DirectInvite is an invite made with is_direct.
type DirectInvite struct {
	RoomID  string
	Invitee string
	Sender  string
	EventID string
	TS      int64
	Reason  string
}
