package api

import "context"

// MediaAdmin is what the server's admins read of the media in rooms.
type MediaAdmin interface {
	// RoomMediaURIs returns the mxc:// URIs the room's events refer to
	// (content.url and content.info.thumbnail_url, and their encrypted
	// forms' file.url and info.thumbnail_file.url), each once, redacted
	// events' included while the server keeps their content (the media
	// of a redacted spam message is what an admin quarantines).
	// ErrRoomNotFound for an unknown room.
	RoomMediaURIs(ctx context.Context, roomID string) ([]string, error)
}
