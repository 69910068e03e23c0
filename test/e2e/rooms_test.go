package e2e

import (
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestRooms drives rooms as a client does: a direct chat by invite, a
// public group, messages with transaction IDs, state, members, kicks, bans,
// leaving and forgetting — on SQLite and PostgreSQL.
func TestRooms(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		carol := register(t, srv, "carol", "long enough")
		if err := alice.SetDisplayName(ctx(t), "Alice"); err != nil {
			t.Fatal(err)
		}

		// A direct chat: alice invites bob (the friend request), bob joins.
		dm, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{
			Preset:   "trusted_private_chat",
			IsDirect: true,
			Invite:   []id.UserID{bob.UserID},
		})
		if err != nil {
			t.Fatalf("createRoom: %v", err)
		}
		if _, err := carol.JoinRoomByID(ctx(t), dm.RoomID); err == nil {
			t.Fatal("carol joined an invite-only room")
		} else {
			wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		}
		if _, err := bob.JoinRoomByID(ctx(t), dm.RoomID); err != nil {
			t.Fatalf("bob joins: %v", err)
		}
		joined, err := bob.JoinedRooms(ctx(t))
		if err != nil || len(joined.JoinedRooms) != 1 || joined.JoinedRooms[0] != dm.RoomID {
			t.Fatalf("joined_rooms = %+v, %v", joined, err)
		}
		jm, err := alice.JoinedMembers(ctx(t), dm.RoomID)
		if err != nil || len(jm.Joined) != 2 || jm.Joined[alice.UserID].DisplayName != "Alice" {
			t.Fatalf("joined_members = %+v, %v", jm, err)
		}

		// Messages: a retried transaction returns the same event.
		first, err := sendTextTxn(ctx(t), bob, dm.RoomID, "hello 你好", "txn-1")
		if err != nil {
			t.Fatal(err)
		}
		retry, err := sendTextTxn(ctx(t), bob, dm.RoomID, "hello 你好", "txn-1")
		if err != nil || retry.EventID != first.EventID {
			t.Fatalf("retry = %v, %v; want %s", retry, err, first.EventID)
		}
		ev, err := alice.GetEvent(ctx(t), dm.RoomID, first.EventID)
		if err != nil || ev.Sender != bob.UserID || ev.Content.Raw["body"] != "hello 你好" || ev.RoomID != dm.RoomID {
			t.Fatalf("event = %+v, %v", ev, err)
		}
		// Spec: 404 for an event "you do not have permission to read".
		_, err = carol.GetEvent(ctx(t), dm.RoomID, first.EventID)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
		_, err = carol.SendText(ctx(t), dm.RoomID, "let me in")
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")

		// A public group with five members.
		name := "Tea party"
		group, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat", Name: name, Topic: "tea"})
		if err != nil {
			t.Fatal(err)
		}
		members := []*mautrix.Client{alice, bob, carol}
		for _, n := range []string{"dave", "erin"} {
			members = append(members, register(t, srv, n, "long enough"))
		}
		for _, m := range members[1:] {
			if _, err := m.JoinRoomByID(ctx(t), group.RoomID); err != nil {
				t.Fatalf("%s joins the group: %v", m.UserID, err)
			}
		}
		// Extra keys sent with a join go into the member event's content;
		// they cannot change the membership.
		frank := register(t, srv, "frank", "long enough")
		if _, err := frank.MakeRequest(ctx(t), http.MethodPost, frank.BuildClientURL("v3", "rooms", group.RoomID, "join"),
			map[string]any{"foo": "bar", "membership": "leave"}, nil); err != nil {
			t.Fatal(err)
		}
		var franksJoin map[string]any
		if err := frank.StateEvent(ctx(t), group.RoomID, event.StateMember, string(frank.UserID), &franksJoin); err != nil ||
			franksJoin["membership"] != "join" || franksJoin["foo"] != "bar" {
			t.Fatalf("frank's member event: %v %v", franksJoin, err)
		}
		if _, err := frank.LeaveRoom(ctx(t), group.RoomID); err != nil {
			t.Fatal(err)
		}
		jm, err = carol.JoinedMembers(ctx(t), group.RoomID)
		if err != nil || len(jm.Joined) != 5 {
			t.Fatalf("group members = %d, %v", len(jm.Joined), err)
		}
		var gotName struct {
			Name string `json:"name"`
		}
		if err := carol.StateEvent(ctx(t), group.RoomID, event.StateRoomName, "", &gotName); err != nil || gotName.Name != name {
			t.Fatalf("room name = %q, %v", gotName.Name, err)
		}
		// The topic has its rich form too (spec v1.15: m.topic).
		var gotTopic struct {
			Topic  string `json:"topic"`
			MTopic struct {
				Text []struct {
					Body string `json:"body"`
				} `json:"m.text"`
			} `json:"m.topic"`
		}
		if err := carol.StateEvent(ctx(t), group.RoomID, event.StateTopic, "", &gotTopic); err != nil || gotTopic.Topic != "tea" ||
			len(gotTopic.MTopic.Text) != 1 || gotTopic.MTopic.Text[0].Body != "tea" {
			t.Fatalf("room topic = %+v, %v", gotTopic, err)
		}
		// Carol (power 0) cannot rename; alice can.
		_, err = carol.SendStateEvent(ctx(t), group.RoomID, event.StateRoomName, "", map[string]string{"name": "Carol's"})
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		if _, err := alice.SendStateEvent(ctx(t), group.RoomID, event.StateTopic, "", map[string]string{"topic": "more tea"}); err != nil {
			t.Fatal(err)
		}
		state, err := bob.State(ctx(t), group.RoomID)
		// Six members: five in, frank left.
		if err != nil || state[event.StateTopic][""].Content.Raw["topic"] != "more tea" || len(state[event.StateMember]) != 6 {
			t.Fatalf("state = %v, %v", state, err)
		}
		mem, err := bob.Members(ctx(t), group.RoomID, mautrix.ReqMembers{Membership: event.MembershipJoin})
		if err != nil || len(mem.Chunk) != 5 {
			t.Fatalf("members = %+v, %v", mem, err)
		}

		// Kick, ban: a banned user cannot come back; unban lets them.
		erin := members[4]
		if _, err := carol.KickUser(ctx(t), group.RoomID, &mautrix.ReqKickUser{UserID: erin.UserID}); err == nil {
			t.Fatal("carol (power 0) kicked erin")
		}
		if _, err := alice.KickUser(ctx(t), group.RoomID, &mautrix.ReqKickUser{UserID: erin.UserID, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.BanUser(ctx(t), group.RoomID, &mautrix.ReqBanUser{UserID: erin.UserID}); err != nil {
			t.Fatal(err)
		}
		_, err = erin.JoinRoomByID(ctx(t), group.RoomID)
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		if _, err := alice.UnbanUser(ctx(t), group.RoomID, &mautrix.ReqUnbanUser{UserID: erin.UserID}); err != nil {
			t.Fatal(err)
		}
		if _, err := erin.JoinRoomByID(ctx(t), group.RoomID); err != nil {
			t.Fatalf("rejoin after unban: %v", err)
		}

		// Leave and forget. A transaction sent before leaving, retried
		// after, still returns its event.
		before, err := sendTextTxn(ctx(t), bob, group.RoomID, "bye", "txn-bye")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(ctx(t), group.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.ForgetRoom(ctx(t), group.RoomID); err != nil {
			t.Fatal(err)
		}
		joined, _ = bob.JoinedRooms(ctx(t))
		if len(joined.JoinedRooms) != 1 {
			t.Fatalf("bob's rooms after leaving the group: %v", joined.JoinedRooms)
		}
		_, err = bob.SendText(ctx(t), group.RoomID, "gone")
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		after, err := sendTextTxn(ctx(t), bob, group.RoomID, "bye", "txn-bye")
		if err != nil || after.EventID != before.EventID {
			t.Fatalf("retry after leaving = %v, %v; want %s", after, err, before.EventID)
		}

		// Errors.
		_, err = alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{RoomVersion: "999"})
		wantMatrixError(t, err, http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
		emptyPowerLevels := []*event.Event{{Type: event.StatePowerLevels, StateKey: ptr(""), Content: event.Content{Raw: map[string]any{}}}}
		_, err = alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{InitialState: emptyPowerLevels})
		wantMatrixError(t, err, http.StatusBadRequest, "M_INVALID_ROOM_STATE")
		_, err = alice.SendText(ctx(t), "!nowhere:localhost", "hi")
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")
	})
}

func ptr[T any](v T) *T { return &v }

// historyVisibility is createRoom initial state that sets the room's
// history visibility.
func historyVisibility(visibility string) []*event.Event {
	return []*event.Event{{
		Type:     event.StateHistoryVisibility,
		StateKey: ptr(""),
		Content:  event.Content{Raw: map[string]any{"history_visibility": visibility}},
	}}
}
