package routing_test

import (
	"net/url"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestUpgradeRoom covers /upgrade's checks, the new room, the tombstone and
// the old room's restricted power levels.
func TestUpgradeRoom(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "carol")
	room := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", RoomVersion: "8", Name: ptr("Old name")})
	f.Join(t, bob, room)
	v12 := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", RoomVersion: "12"})
	f.Join(t, bob, v12)
	v12b := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", RoomVersion: "12", Name: ptr("v12")})
	up := "/rooms/" + url.PathEscape(room) + "/upgrade"
	var newRoom string
	roomRule := func(roomID string) string { return "/pushrules/global/room/" + url.PathEscape(roomID) }
	run(t, f, []call{
		{"alice's rule for the old room", "PUT", roomRule(room), alice.Token, `{"actions":[]}`, 200, "", nil},
		{"bob's rule for the old room", "PUT", roomRule(room), bob.Token, `{"actions":[]}`, 200, "", nil},
	})
	run(t, f, []call{
		{"without token", "POST", up, "", `{"new_version":"9"}`, 401, "M_MISSING_TOKEN", nil},
		{"malformed room", "POST", "/rooms/nope/upgrade", alice.Token, `{"new_version":"9"}`, 400, "M_INVALID_PARAM", nil},
		{"no version", "POST", up, alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"not joined", "POST", up, carol.Token, `{"new_version":"9"}`, 403, "M_FORBIDDEN", nil},
		{"without the power", "POST", up, bob.Token, `{"new_version":"9"}`, 403, "M_FORBIDDEN", nil},
		{"unknown version", "POST", up, alice.Token, `{"new_version":"nope"}`, 400, "M_UNSUPPORTED_ROOM_VERSION", nil},
		{"upgrades a version 12 room its creator owns", "POST", "/rooms/" + url.PathEscape(v12) + "/upgrade", alice.Token,
			`{"new_version":"12"}`, 200, "", hasKeys("replacement_room")},
		{"upgrades a version 12 room to version 9", "POST", "/rooms/" + url.PathEscape(v12b) + "/upgrade", alice.Token,
			`{"new_version":"9"}`, 200, "", hasKeys("replacement_room")},
		{"a version 12 room's member without the power", "POST", "/rooms/" + url.PathEscape(v12) + "/upgrade", bob.Token,
			`{"new_version":"12"}`, 403, "M_FORBIDDEN", nil},
		{"upgrades", "POST", up, alice.Token, `{"new_version":"9"}`, 200, "", func(t *testing.T, r *fixture.Response) {
			newRoom, _ = r.JSON()["replacement_room"].(string)
			if newRoom == "" || newRoom == room {
				t.Fatalf("replacement_room %s", r.Body)
			}
		}},
	})
	run(t, f, []call{
		{"tombstone", "GET", "/rooms/" + url.PathEscape(room) + "/state/m.room.tombstone/", alice.Token, nil, 200, "",
			equals("replacement_room", newRoom)},
		{"name copied", "GET", "/rooms/" + url.PathEscape(newRoom) + "/state/m.room.name/", alice.Token, nil, 200, "",
			equals("name", "Old name")},
		{"predecessor", "GET", "/rooms/" + url.PathEscape(newRoom) + "/state/m.room.create/", alice.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if p, _ := r.JSON()["predecessor"].(map[string]any); p["room_id"] != room {
					t.Fatalf("create content %s", r.Body)
				}
			}},
		{"the upgrader's rule carried over", "GET", roomRule(newRoom), alice.Token, nil, 200, "", nil},
		{"not yet bob's, who has not joined", "GET", roomRule(newRoom), bob.Token, nil, 404, "M_NOT_FOUND", nil},
		{"bob joins the new room", "POST", "/rooms/" + url.PathEscape(newRoom) + "/join", bob.Token, `{}`, 200, "", nil},
		{"bob's rule carried over", "GET", roomRule(newRoom), bob.Token, nil, 200, "", nil},
		{"the old room is for moderators only", "PUT", "/rooms/" + url.PathEscape(room) + "/send/m.room.message/t1", bob.Token,
			`{"msgtype":"m.text","body":"still here?"}`, 403, "M_FORBIDDEN", nil},
	})
}
