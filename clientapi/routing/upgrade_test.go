package routing_test

import (
	"encoding/json"
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
				// Before room version 12 the predecessor names the old room's last event.
				if p, _ := r.JSON()["predecessor"].(map[string]any); p["room_id"] != room || p["event_id"] == nil {
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

// TestUpgradeRoomCarriesTheRoom: the body's checks, and what follows the
// room: aliases, canonical alias, directory listing, bans, type, power
// levels, tags and m.direct of a member who joins the new room.
func TestUpgradeRoomCarriesTheRoom(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, mallory := f.User(t, "alice"), f.User(t, "bob"), f.User(t, "mallory")
	room := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat", RoomVersion: "10",
		CreationContent: json.RawMessage(`{"type":"org.example.kind"}`)})
	f.Join(t, bob, room)
	f.Join(t, mallory, room)
	esc := url.PathEscape
	alias := "#upgraded:" + fixture.ServerName
	up := "/rooms/" + esc(room) + "/upgrade"
	run(t, f, []call{
		{"alias", "PUT", "/directory/room/" + esc(alias), alice.Token, map[string]string{"room_id": room}, 200, "", nil},
		{"canonical alias", "PUT", "/rooms/" + esc(room) + "/state/m.room.canonical_alias/", alice.Token,
			map[string]any{"alias": alias}, 200, "", nil},
		{"published", "PUT", "/directory/list/room/" + esc(room), alice.Token, map[string]string{"visibility": "public"}, 200, "", nil},
		{"power levels", "PUT", "/rooms/" + esc(room) + "/state/m.room.power_levels/", alice.Token,
			map[string]any{"users": map[string]int{alice.ID: 100, bob.ID: 50}, "events": map[string]int{"m.room.tombstone": 100}},
			200, "", nil},
		{"mallory banned", "POST", "/rooms/" + esc(room) + "/ban", alice.Token, map[string]string{"user_id": mallory.ID}, 200, "", nil},
		{"bob's tag", "PUT", "/user/" + esc(bob.ID) + "/rooms/" + esc(room) + "/tags/u.work", bob.Token, `{"order":0.25}`, 200, "", nil},
		{"bob's m.direct", "PUT", "/user/" + esc(bob.ID) + "/account_data/m.direct", bob.Token,
			map[string][]string{alice.ID: {room}}, 200, "", nil},
	})
	run(t, f, []call{
		{"not JSON", "POST", up, alice.Token, `{"new_version":`, 400, "M_NOT_JSON", nil},
		{"new_version not a string", "POST", up, alice.Token, `{"new_version":12}`, 400, "M_BAD_JSON", nil},
		{"additional_creators not user IDs", "POST", up, alice.Token, `{"new_version":"12","additional_creators":["bob"]}`,
			400, "M_BAD_JSON", nil},
		{"unknown room", "POST", "/rooms/" + esc("!nope:"+fixture.ServerName) + "/upgrade", alice.Token, `{"new_version":"11"}`,
			404, "M_NOT_FOUND", nil},
	})
	var newRoom string
	run(t, f, []call{{"upgrades to 12 with bob a creator", "POST", up, alice.Token,
		map[string]any{"new_version": "12", "additional_creators": []string{bob.ID, bob.ID, alice.ID}}, 200, "",
		func(t *testing.T, r *fixture.Response) { newRoom, _ = r.JSON()["replacement_room"].(string) }}})
	state := func(evType string) string { return "/rooms/" + esc(newRoom) + "/state/" + evType + "/" }
	run(t, f, []call{
		{"create event", "GET", state("m.room.create"), alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			c := r.JSON()
			p, _ := c["predecessor"].(map[string]any)
			creators, _ := json.Marshal(c["additional_creators"])
			if p["room_id"] != room || p["event_id"] != nil || c["type"] != "org.example.kind" || string(creators) != `["`+bob.ID+`"]` {
				t.Fatalf("create content %s", r.Body)
			}
		}},
		{"creators not listed in the power levels", "GET", state("m.room.power_levels"), alice.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if users, _ := r.JSON()["users"].(map[string]any); len(users) != 0 {
					t.Fatalf("power levels %s", r.Body)
				}
			}},
		{"the alias moved", "GET", "/directory/room/" + esc(alias), "", nil, 200, "", equals("room_id", newRoom)},
		{"the canonical alias copied", "GET", state("m.room.canonical_alias"), alice.Token, nil, 200, "", equals("alias", alias)},
		{"the old room's canonical alias dropped", "GET", "/rooms/" + esc(room) + "/state/m.room.canonical_alias/", alice.Token, nil,
			200, "", func(t *testing.T, r *fixture.Response) {
				if _, ok := r.JSON()["alias"]; ok {
					t.Fatalf("old canonical alias %s", r.Body)
				}
			}},
		{"the new room published", "GET", "/directory/list/room/" + esc(newRoom), "", nil, 200, "", equals("visibility", "public")},
		{"the old room withdrawn", "GET", "/directory/list/room/" + esc(room), "", nil, 200, "", equals("visibility", "private")},
		{"mallory banned in the new room", "GET", state("m.room.member") + esc(mallory.ID), alice.Token, nil, 200, "",
			equals("membership", "ban")},
		{"bob joins the new room", "POST", "/rooms/" + esc(newRoom) + "/join", bob.Token, `{}`, 200, "", nil},
		{"bob's tag followed", "GET", "/user/" + esc(bob.ID) + "/rooms/" + esc(newRoom) + "/tags", bob.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if tags, _ := r.JSON()["tags"].(map[string]any); tags["u.work"] == nil {
					t.Fatalf("tags %s", r.Body)
				}
			}},
		{"bob's m.direct followed", "GET", "/user/" + esc(bob.ID) + "/account_data/m.direct", bob.Token, nil, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got, _ := json.Marshal(r.JSON()[alice.ID]); string(got) != `["`+room+`","`+newRoom+`"]` {
					t.Fatalf("m.direct %s", r.Body)
				}
			}},
		{"bob, a creator, may upgrade the new room", "POST", "/rooms/" + esc(newRoom) + "/upgrade", bob.Token,
			`{"new_version":"11"}`, 200, "", hasKeys("replacement_room")},
	})
}
