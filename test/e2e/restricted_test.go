package e2e

import (
	"net/url"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// restrictedSpaceRoom has creator make a space and a room of version ver
// whose members must be the space's (spec: "Restricted rooms").
func restrictedSpaceRoom(t *testing.T, creator *mautrix.Client, ver, via string) (space, room id.RoomID) {
	t.Helper()
	c := ctx(t)
	sp, err := creator.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat",
		CreationContent: map[string]any{"type": "m.space"}})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]any{"join_rule": "restricted", "allow": []map[string]any{
		{"type": "m.room_membership", "room_id": sp.RoomID, "via": []string{via}}}}
	r, err := creator.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat", RoomVersion: id.RoomVersion(ver),
		InitialState: []*event.Event{{Type: event.StateJoinRules, StateKey: new(string), Content: event.Content{Raw: rules}}}})
	if err != nil {
		t.Fatal(err)
	}
	return sp.RoomID, r.RoomID
}

// authoriserIn is the join_authorised_via_users_server of user's member
// event in the room as c's server has it.
func authoriserIn(t *testing.T, c *mautrix.Client, room id.RoomID, user id.UserID) string {
	t.Helper()
	var content map[string]any
	if err := c.StateEvent(ctx(t), room, event.StateMember, user.String(), &content); err != nil {
		t.Fatalf("%s's member event in %s: %v", user, room, err)
	}
	via, _ := content["join_authorised_via_users_server"].(string)
	return via
}

// TestRestrictedJoinSpace: on one server, bob joins a room restricted to a
// space's members once he is in the space, authorised by alice; before, and
// after he leaves the space, he is refused.
func TestRestrictedJoinSpace(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		c := ctx(t)
		space, room := restrictedSpaceRoom(t, alice, "10", "test.local")
		_, err := bob.JoinRoomByID(c, room)
		wantMatrixError(t, err, 403, "M_FORBIDDEN")
		if _, err := bob.JoinRoomByID(c, space); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(c, room); err != nil {
			t.Fatalf("bob, in the space, joining: %v", err)
		}
		if got := authoriserIn(t, alice, room, bob.UserID); got != alice.UserID.String() {
			t.Fatalf("bob's join authorised by %q", got)
		}
		for _, r := range []id.RoomID{room, space} {
			if _, err := bob.LeaveRoom(c, r); err != nil {
				t.Fatal(err)
			}
		}
		_, err = bob.JoinRoomByID(c, room)
		wantMatrixError(t, err, 403, "M_FORBIDDEN")
	})
}

// TestFederationRestrictedJoin: bob and carol of two join a room of one
// restricted to a space's members. Bob's join goes through one, authorised
// by alice; when bob may invite, two authorises carol's join itself, with
// bob (room version 12: alice, a creator, is not in the power levels).
func TestFederationRestrictedJoin(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, ver := range []string{"10", "12"} {
		t.Run(ver, func(t *testing.T) {
			f, alice, bob := startPair(t, sqlutil.SQLite)
			two := f.servers["two.test"]
			carol := register(t, two, "carol", "long enough")
			c := ctx(t)
			space, room := restrictedSpaceRoom(t, alice, ver, "one.test")
			via := &mautrix.ReqJoinRoom{Via: []string{"one.test"}}
			if _, err := bob.JoinRoom(c, room.String(), via); err == nil {
				t.Fatal("bob joined before joining the space")
			}
			for _, r := range []id.RoomID{space, room} {
				if _, err := bob.JoinRoom(c, r.String(), via); err != nil {
					t.Fatalf("bob joining %s: %v", r, err)
				}
			}
			if got := authoriserIn(t, bob, room, bob.UserID); got != alice.UserID.String() {
				t.Fatalf("bob's join authorised by %q", got)
			}
			users := map[string]any{bob.UserID.String(): 50}
			if ver != "12" {
				users[alice.UserID.String()] = 100
			}
			pl := map[string]any{"invite": 50, "users": users}
			if _, err := alice.SendStateEvent(c, room, event.StatePowerLevels, "", pl); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "bob's power on two", func() bool {
				var pl struct {
					Users map[string]int `json:"users"`
				}
				return bob.StateEvent(c, room, event.StatePowerLevels, "", &pl) == nil && pl.Users[bob.UserID.String()] == 50
			})
			if _, err := carol.JoinRoom(c, space.String(), via); err != nil {
				t.Fatal(err)
			}
			if _, err := carol.JoinRoom(c, room.String(), &mautrix.ReqJoinRoom{Via: []string{"two.test"}}); err != nil {
				t.Fatalf("carol joining through two: %v", err)
			}
			if got := authoriserIn(t, bob, room, carol.UserID); got != bob.UserID.String() {
				t.Fatalf("carol's join authorised by %q, want bob", got)
			}
			waitFor(t, "carol's join on one", func() bool {
				var m map[string]any
				return alice.StateEvent(c, room, event.StateMember, carol.UserID.String(), &m) == nil && m["membership"] == "join"
			})
		})
	}
}

// TestFederationRestrictedJoinCatchUp: two is behind — the power-level
// change that lets bob invite was sent while it was down, and one's queue
// is still backing off — when carol joins through it. Two asks one for a
// join template, takes in the events it lacks, and then authorises carol's
// join itself, with bob, rather than through one with alice (a local join
// is preferred; Complement's TestRestrictedRoomsLocalJoinNoCreatorsUses
// PowerLevelsV12 races the same way).
func TestFederationRestrictedJoinCatchUp(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	f, alice, bob := startPair(t, sqlutil.SQLite)
	carol := register(t, f.servers["two.test"], "carol", "long enough")
	c := ctx(t)
	space, room := restrictedSpaceRoom(t, alice, "12", "one.test")
	via := &mautrix.ReqJoinRoom{Via: []string{"one.test"}}
	for _, r := range []id.RoomID{space, room} {
		if _, err := bob.JoinRoom(c, r.String(), via); err != nil {
			t.Fatalf("bob joining %s: %v", r, err)
		}
	}
	if _, err := carol.JoinRoom(c, space.String(), via); err != nil {
		t.Fatal(err)
	}
	f.stop(t, "two.test")
	pl := map[string]any{"invite": 50, "users": map[string]any{bob.UserID.String(): 50}}
	if _, err := alice.SendStateEvent(c, room, event.StatePowerLevels, "", pl); err != nil {
		t.Fatal(err)
	}
	f.restart(t, "two.test")
	for _, u := range []*mautrix.Client{bob, carol} {
		u.HomeserverURL, _ = url.Parse(f.servers["two.test"].ClientURL())
	}
	if _, err := carol.JoinRoom(c, room.String(), &mautrix.ReqJoinRoom{Via: []string{"two.test"}}); err != nil {
		t.Fatalf("carol joining through two: %v", err)
	}
	if got := authoriserIn(t, bob, room, carol.UserID); got != bob.UserID.String() {
		t.Fatalf("carol's join authorised by %q, want bob", got)
	}
}
