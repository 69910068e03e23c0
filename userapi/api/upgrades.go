package api

import "context"

// DirectAccountDataType is the global account data that lists a user's
// direct chats (spec: "Direct Messaging"): {user ID: [room IDs]}.
const DirectAccountDataType = "m.direct"

// RoomUpgrades carries a user's settings for a room to the room that
// replaces it (spec: "Room Upgrades", server behaviour: "When a user joins
// the new room, the server should automatically transfer/replicate some of
// the user's personalized settings such as notifications, tags, etc.").
type RoomUpgrades interface {
	// CarryRoomSettings gives newRoomID copies of the user's push rules for
	// oldRoomID (CopyRoomPushRules), the old room's tags (m.tag, tags the
	// new room already has are kept) and, in m.direct, the new room next to
	// the old one. Each piece is stored only when it changes.
	CarryRoomSettings(ctx context.Context, localpart Localpart, oldRoomID, newRoomID string) error
}
