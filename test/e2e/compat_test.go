package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestClientCompat: behaviours clients and the Complement suite rely on,
// each checked through the client API.
//   - A membership set with PUT /state/m.room.member/{userId} works as the
//     membership endpoints do (invite, ban).
//   - Setting the same state twice gives the same event.
//   - GET /event: unsigned.transaction_id for the sending device; 404 for a
//     non-member of a shared room; readable by anyone in a world-readable
//     room.
//   - /messages with lazy_load_members gives the senders' member events.
//   - unsigned.prev_content on a state event that replaced another.
func TestClientCompat(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		c := ctx(t)
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		eve := register(t, srv, "eve", "long enough")
		room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}

		// Read your writes: the first sync after creating a room, and the
		// invitee's first sync after an invite, have them, without waiting.
		for i := 0; i < 5; i++ {
			fresh, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{eve.UserID}})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := syncOnce(t, alice, "", 0).Rooms.Join[fresh.RoomID]; !ok {
				t.Fatalf("round %d: the room alice just created is not in her sync", i)
			}
			if _, ok := syncOnce(t, eve, "", 0).Rooms.Invite[fresh.RoomID]; !ok {
				t.Fatalf("round %d: eve's sync right after her invite lacks it", i)
			}
		}

		// A left room: in an initial sync only with include_leave.
		gone, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.LeaveRoom(c, gone.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, ok := syncOnce(t, alice, "", 0).Rooms.Leave[gone.RoomID]; ok {
			t.Fatal("a left room in an initial sync without include_leave")
		}
		withLeave, err := alice.SyncRequest(c, 0, "", `{"room":{"include_leave":true}}`, false, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := withLeave.Rooms.Leave[gone.RoomID]; !ok {
			t.Fatal("include_leave: the left room is not in the leave section")
		}
		// Forgotten, it is no longer there, nor readable.
		if _, err := alice.ForgetRoom(c, gone.RoomID); err != nil {
			t.Fatal(err)
		}
		withLeave, err = alice.SyncRequest(c, 0, "", `{"room":{"include_leave":true}}`, false, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := withLeave.Rooms.Leave[gone.RoomID]; ok {
			t.Fatal("a forgotten room in the leave section")
		}
		_, err = alice.Messages(c, gone.RoomID, "", "", mautrix.DirectionBackward, nil, 5)
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")

		// Membership through the state endpoint.
		invite := map[string]any{"membership": "invite"}
		if _, err := alice.SendStateEvent(c, room.RoomID, event.StateMember, bob.UserID.String(), invite); err != nil {
			t.Fatalf("invite through the state endpoint: %v", err)
		}
		if _, err := bob.JoinRoom(c, room.RoomID.String(), nil); err != nil {
			t.Fatalf("joining after a state-endpoint invite: %v", err)
		}
		ban := map[string]any{"membership": "ban", "reason": "spam"}
		if _, err := alice.SendStateEvent(c, room.RoomID, event.StateMember, eve.UserID.String(), ban); err != nil {
			t.Fatalf("ban through the state endpoint: %v", err)
		}
		if _, err := eve.JoinRoom(c, room.RoomID.String(), nil); err == nil {
			t.Fatal("a banned user joined")
		}

		// The same state twice: one event; a change: another.
		topic := map[string]any{"topic": "one"}
		first, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", topic)
		if err != nil {
			t.Fatal(err)
		}
		again, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", topic)
		if err != nil || again.EventID != first.EventID {
			t.Fatalf("same state twice: %v then %v (%v)", first.EventID, again.EventID, err)
		}
		changed, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", map[string]any{"topic": "two"})
		if err != nil || changed.EventID == first.EventID {
			t.Fatalf("a changed topic gave %v (%v)", changed, err)
		}
		ev, err := alice.GetEvent(c, room.RoomID, changed.EventID)
		if err != nil || ev.Unsigned.PrevContent == nil || ev.Unsigned.PrevContent.Raw["topic"] != "one" {
			t.Fatalf("prev_content of the changed topic: %+v %v", ev, err)
		}

		// GET /event and transaction IDs.
		sent, err := bob.SendMessageEvent(c, room.RoomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "hi"},
			mautrix.ReqSendEvent{TransactionID: "compat-1"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "bob's message in /event", func() bool {
			ev, err := bob.GetEvent(c, room.RoomID, sent.EventID)
			return err == nil && ev.Unsigned.TransactionID == "compat-1"
		})
		if ev, err := alice.GetEvent(c, room.RoomID, sent.EventID); err != nil || ev.Unsigned.TransactionID != "" {
			t.Fatalf("alice's view of bob's message: %+v %v", ev, err)
		}
		outsider := register(t, srv, "mallory", "long enough")
		_, err = outsider.GetEvent(c, room.RoomID, sent.EventID)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		// history_visibility "invited": what was said between the invite and
		// the join is visible, what came before the invite is not.
		inv, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat",
			InitialState: historyVisibility("invited")})
		if err != nil {
			t.Fatal(err)
		}
		early, err := alice.SendText(c, inv.RoomID, "before the invite")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.InviteUser(c, inv.RoomID, &mautrix.ReqInviteUser{UserID: outsider.UserID}); err != nil {
			t.Fatal(err)
		}
		between, err := alice.SendText(c, inv.RoomID, "between invite and join")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := outsider.JoinRoom(c, inv.RoomID.String(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := outsider.GetEvent(c, inv.RoomID, between.EventID); err != nil {
			t.Fatalf("invited visibility, event after the invite: %v", err)
		}
		_, err = outsider.GetEvent(c, inv.RoomID, early.EventID)
		wantMatrixError(t, err, http.StatusNotFound, "M_NOT_FOUND")

		// A world-readable room can be read by anyone.
		open, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat",
			InitialState: historyVisibility("world_readable")})
		if err != nil {
			t.Fatal(err)
		}
		said, err := alice.SendText(c, open.RoomID, "for everyone")
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := outsider.GetEvent(c, open.RoomID, said.EventID); err != nil || ev.Content.Raw["body"] != "for everyone" {
			t.Fatalf("reading a world-readable room: %+v %v", ev, err)
		}

		// Deleting an alias takes it out of the canonical alias event.
		alias := id.RoomAlias("#compat:localhost")
		if _, err := alice.CreateAlias(c, alias, room.RoomID); err != nil {
			t.Fatal(err)
		}
		aliasContent := map[string]any{"alias": alias, "alt_aliases": []id.RoomAlias{alias}}
		if _, err := alice.SendStateEvent(c, room.RoomID, event.StateCanonicalAlias, "", aliasContent); err != nil {
			t.Fatalf("setting the canonical alias: %v", err)
		}
		if _, err := alice.DeleteAlias(c, alias); err != nil {
			t.Fatal(err)
		}
		var canonical map[string]any
		if err := alice.StateEvent(c, room.RoomID, event.StateCanonicalAlias, "", &canonical); err != nil {
			t.Fatal(err)
		}
		if _, ok := canonical["alias"]; ok || len(canonical["alt_aliases"].([]any)) != 0 {
			t.Fatalf("canonical alias after deleting it: %v", canonical)
		}

		// A new display name reaches the member event in each joined room.
		if err := bob.SetDisplayName(c, "Robert"); err != nil {
			t.Fatal(err)
		}
		var member struct {
			DisplayName string `json:"displayname"`
			Membership  string `json:"membership"`
		}
		if err := alice.StateEvent(c, room.RoomID, event.StateMember, bob.UserID.String(), &member); err != nil ||
			member.DisplayName != "Robert" || member.Membership != "join" {
			t.Fatalf("bob's member event after his rename: %+v %v", member, err)
		}
		// Renaming to the same name adds no event.
		before, err := alice.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.SetDisplayName(c, "Robert"); err != nil {
			t.Fatal(err)
		}
		after, err := alice.Messages(c, room.RoomID, "", "", mautrix.DirectionBackward, nil, 1)
		if err != nil || after.Chunk[0].ID != before.Chunk[0].ID {
			t.Fatalf("the same name again added an event: %v %v", after.Chunk, err)
		}

		// Lazy-loaded members in /messages: only the chunk's senders.
		if _, err := bob.SendText(c, room.RoomID, "last word"); err != nil {
			t.Fatal(err)
		}
		filter := url.QueryEscape(`{"lazy_load_members":true}`)
		r := do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/v3/rooms/"+url.PathEscape(room.RoomID.String())+
			"/messages?dir=b&limit=1&filter="+filter, alice.AccessToken, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("/messages with a filter: %d %v", r.Status, r.Body)
		}
		state, _ := r.Body["state"].([]any)
		if len(state) != 1 {
			t.Fatalf("lazy-loaded state: %v", state)
		}
		m, _ := state[0].(map[string]any)
		if m["type"] != "m.room.member" || m["state_key"] != bob.UserID.String() {
			t.Fatalf("lazy-loaded member: %v", m)
		}

		// A departed member reads the state as it was when they left.
		if _, err := bob.SendStateEvent(c, room.RoomID, event.StateTopic, "", map[string]any{"topic": "while bob was here"}); err == nil {
			t.Fatal("bob, at power 0, set the topic")
		}
		if _, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", map[string]any{"topic": "three"}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(c, room.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendStateEvent(c, room.RoomID, event.StateTopic, "", map[string]any{"topic": "after bob"}); err != nil {
			t.Fatal(err)
		}
		var oldTopic map[string]any
		if err := bob.StateEvent(c, room.RoomID, event.StateTopic, "", &oldTopic); err != nil || oldTopic["topic"] != "three" {
			t.Fatalf("bob's view of the topic after leaving: %v %v", oldTopic, err)
		}
		left, err := bob.State(c, room.RoomID)
		if err != nil || left[event.StateMember][bob.UserID.String()] == nil ||
			left[event.StateMember][bob.UserID.String()].Content.AsMember().Membership != "leave" {
			t.Fatalf("bob's /state after leaving: %v", err)
		}
		if _, err := bob.JoinedMembers(c, room.RoomID); err == nil {
			t.Fatal("joined_members for a departed member")
		}

	})
}

// TestUnsignedMembership: timeline events carry the requesting user's
// membership at the time of the event (spec: unsigned.membership; "leave"
// before the user had any), in /messages and in /sync.
func TestUnsignedMembership(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		c := ctx(t)
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		room, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "public_chat"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(c, room.RoomID, "before bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoom(c, room.RoomID.String(), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(c, room.RoomID, "with bob"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"before bob": "leave", "with bob": "join", "bob joins": "join"}
		check := func(where string, evs []any) {
			t.Helper()
			seen := 0
			for _, raw := range evs {
				e, _ := raw.(map[string]any)
				content, _ := e["content"].(map[string]any)
				unsigned, _ := e["unsigned"].(map[string]any)
				key, _ := content["body"].(string)
				if e["type"] == "m.room.member" && e["state_key"] == bob.UserID.String() {
					key = "bob joins"
				}
				if w, ok := want[key]; ok {
					seen++
					if unsigned["membership"] != w {
						t.Errorf("%s: %q has membership %v, want %s", where, key, unsigned["membership"], w)
					}
				}
			}
			if seen != len(want) {
				t.Errorf("%s: saw %d of the %d events", where, seen, len(want))
			}
		}
		messages := srv.ClientURL() + "/_matrix/client/v3/rooms/" + url.PathEscape(room.RoomID.String()) + "/messages?dir=b&limit=20"
		r := do(t, http.MethodGet, messages, bob.AccessToken, nil)
		chunk, _ := r.Body["chunk"].([]any)
		check("/messages", chunk)
		r = do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/v3/sync", bob.AccessToken, nil)
		rooms, _ := r.Body["rooms"].(map[string]any)
		join, _ := rooms["join"].(map[string]any)
		jr, _ := join[room.RoomID.String()].(map[string]any)
		tl, _ := jr["timeline"].(map[string]any)
		evs, _ := tl["events"].([]any)
		check("/sync", evs)
	})
}
