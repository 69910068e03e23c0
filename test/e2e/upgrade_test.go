package e2e

import (
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// TestRoomUpgradeAcrossServers: alice of one upgrades a room whose members
// are carol (of one) and bob (of two). Bob's server gets the tombstone and
// bob follows it, joining the replacement through one; the room's alias now
// resolves to the new room, from both servers; carol, joining the new room,
// finds her tag and her m.direct entry carried over.
// SQLite only, to keep test/e2e lean: the storage it touches has its tests
// on both databases (userapi/internal TestCarryRoomSettings).
func TestRoomUpgradeAcrossServers(t *testing.T) {
	f, alice, bob := startPair(t, sqlutil.SQLite)
	c := ctx(t)
	carol := register(t, f.servers["one.test"], "carol", "long enough")
	room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: "lounge", RoomVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.JoinRoom(c, room.RoomID.String(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(c, room.RoomID.String(), &mautrix.ReqJoinRoom{Via: []string{"one.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := carol.AddTag(c, room.RoomID, "u.friends", 0.5); err != nil {
		t.Fatal(err)
	}
	if err := carol.SetAccountData(c, "m.direct", map[id.UserID][]id.RoomID{alice.UserID: {room.RoomID}}); err != nil {
		t.Fatal(err)
	}

	var up struct {
		ReplacementRoom id.RoomID `json:"replacement_room"`
	}
	if _, err := alice.MakeRequest(c, "POST", alice.BuildClientURL("v3", "rooms", room.RoomID, "upgrade"),
		map[string]string{"new_version": "11"}, &up); err != nil {
		t.Fatal(err)
	}
	newRoom := up.ReplacementRoom

	// Bob follows the tombstone, through the server of its sender.
	var tomb *event.Event
	waitFor(t, "the tombstone on two", func() bool {
		tomb, err = bob.FullStateEvent(c, room.RoomID, event.StateTombstone, "")
		return err == nil
	})
	if got, _ := tomb.Content.Raw["replacement_room"].(string); got != newRoom.String() {
		t.Fatalf("tombstone points to %q; want %s", got, newRoom)
	}
	if _, err := bob.JoinRoom(c, newRoom.String(), &mautrix.ReqJoinRoom{Via: []string{tomb.Sender.Homeserver()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob in the new room, seen from one", func() bool {
		m, err := alice.JoinedMembers(c, newRoom)
		if err != nil {
			return false
		}
		_, joined := m.Joined[bob.UserID]
		return joined
	})

	// The alias moved, for this server and the other.
	alias := id.RoomAlias("#lounge:one.test")
	for _, u := range []*mautrix.Client{carol, bob} {
		res, err := u.ResolveAlias(c, alias)
		if err != nil || res.RoomID != newRoom {
			t.Fatalf("%s resolves %s to %+v (%v); want %s", u.UserID, alias, res, err, newRoom)
		}
	}

	// Carol follows; her tag and m.direct follow her.
	if _, err := carol.JoinRoom(c, newRoom.String(), nil); err != nil {
		t.Fatal(err)
	}
	tags, err := carol.GetTags(c, newRoom)
	if order, _ := tags.Tags["u.friends"].Order.Float64(); err != nil || order != 0.5 {
		t.Fatalf("carol's tags on the new room %+v (%v)", tags, err)
	}
	var direct map[id.UserID][]id.RoomID
	if err := carol.GetAccountData(c, "m.direct", &direct); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(direct[alice.UserID], []id.RoomID{room.RoomID, newRoom}) {
		t.Fatalf("carol's m.direct %v; want the old and the new room", direct)
	}
}
