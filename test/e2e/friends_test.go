package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// The friends extension (docs/api-extensions.md, "Friends") driven by
// mautrix clients: requests, acceptance, rejection, deletion, on one
// server and across two, and the same friendship made by a plain client.

// friends calls a friends endpoint as c.
func friends(t *testing.T, c *mautrix.Client, method, path string, body any) rawResponse {
	t.Helper()
	return do(t, method, c.HomeserverURL.String()+"/_matrix/client/unstable/im.myelin/friends"+path, c.AccessToken, body)
}

// entries returns a list of a friends answer ("friends", "incoming",
// "outgoing") by user ID.
func entries(t *testing.T, r rawResponse, list string) map[string]map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %v", r.Status, r.Body)
	}
	raw, ok := r.Body[list].([]any)
	if !ok {
		t.Fatalf("no %s list: %v", list, r.Body)
	}
	out := map[string]map[string]any{}
	for _, e := range raw {
		m, _ := e.(map[string]any)
		u, _ := m["user_id"].(string)
		out[u] = m
	}
	return out
}

// listed returns the user IDs of a friends list.
func listed(t *testing.T, c *mautrix.Client, path, list string) []string {
	t.Helper()
	var out []string
	for u := range entries(t, friends(t, c, "GET", path, nil), list) {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// setFriendProfile gives c a display name and a signature.
func setFriendProfile(t *testing.T, c *mautrix.Client, name, signature string) {
	t.Helper()
	if err := c.SetDisplayName(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	r := do(t, "PUT", c.HomeserverURL.String()+"/_matrix/client/v3/profile/"+url.PathEscape(c.UserID.String())+"/im.myelin.signature",
		c.AccessToken, map[string]string{"im.myelin.signature": signature})
	if r.Status != http.StatusOK {
		t.Fatalf("setting the signature: %d %v", r.Status, r.Body)
	}
}

// requestFriend has from ask to, returning the request's room.
func requestFriend(t *testing.T, from, to *mautrix.Client, message string) id.RoomID {
	t.Helper()
	r := friends(t, from, "POST", "/requests", map[string]string{"user_id": to.UserID.String(), "message": message})
	if r.Status != http.StatusOK {
		t.Fatalf("friend request: %d %v", r.Status, r.Body)
	}
	room, _ := r.Body["room_id"].(string)
	return id.RoomID(room)
}

// answer accepts or rejects the request in room as c.
func answer(t *testing.T, c *mautrix.Client, room id.RoomID, how string) {
	t.Helper()
	if r := friends(t, c, "POST", "/requests/"+url.PathEscape(room.String())+"/"+how, map[string]any{}); r.Status != http.StatusOK {
		t.Fatalf("%s: %d %v", how, r.Status, r.Body)
	}
}

// wantFriend checks c's friend entry for other: the room and the profile.
func wantFriend(t *testing.T, c, other *mautrix.Client, room id.RoomID, name, signature string) {
	t.Helper()
	e, ok := entries(t, friends(t, c, "GET", "", nil), "friends")[other.UserID.String()]
	if !ok {
		t.Fatalf("%s does not list %s as a friend", c.UserID, other.UserID)
	}
	p, _ := e["profile"].(map[string]any)
	if e["room_id"] != room.String() || p["displayname"] != name || (signature != "" && p["im.myelin.signature"] != signature) {
		t.Fatalf("%s's entry for %s = %v; want room %s, name %q, signature %q", c.UserID, other.UserID, e, room, name, signature)
	}
	if since, _ := e["since"].(float64); since <= 0 {
		t.Fatalf("friend entry without since: %v", e)
	}
}

// wantChat has from say something in room and waits for to to read it.
func wantChat(t *testing.T, from, to *mautrix.Client, room id.RoomID, text string) {
	t.Helper()
	if _, err := from.SendText(ctx(t), room, text); err != nil {
		t.Fatal(err)
	}
	waitFor(t, string(to.UserID)+" reads "+text, func() bool {
		msgs, err := to.Messages(ctx(t), room, "", "", mautrix.DirectionBackward, nil, 10)
		if err != nil {
			return false
		}
		for _, e := range msgs.Chunk {
			if e.Type == event.EventMessage && e.Content.Raw["body"] == text {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
		return false
	})
}

// TestFriends: request, both lists show it, accept, both friend lists show
// each other with profiles and signatures, chat in the direct room,
// delete, both lists empty.
func TestFriends(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice, bob := register(t, srv, "alice", "long enough"), register(t, srv, "bob", "long enough")
		setFriendProfile(t, alice, "Alice", "alice's words")
		setFriendProfile(t, bob, "Bob", "鲍勃的签名")
		v := do(t, "GET", srv.ClientURL()+"/_matrix/client/versions", "", nil)
		if features, _ := v.Body["unstable_features"].(map[string]any); features["im.myelin.friends"] != true {
			t.Fatalf("im.myelin.friends not advertised: %v", v.Body)
		}

		room := requestFriend(t, alice, bob, "hello from alice")
		out := entries(t, friends(t, alice, "GET", "/requests", nil), "outgoing")[bob.UserID.String()]
		in := entries(t, friends(t, bob, "GET", "/requests", nil), "incoming")[alice.UserID.String()]
		for _, e := range []map[string]any{out, in} {
			if e == nil || e["room_id"] != room.String() || e["message"] != "hello from alice" {
				t.Fatalf("request entries: outgoing %v, incoming %v", out, in)
			}
		}
		if p, _ := in["profile"].(map[string]any); p["displayname"] != "Alice" || p["im.myelin.signature"] != "alice's words" {
			t.Fatalf("incoming request's profile: %v", in)
		}
		// Bob's client sees the request as a direct invite with the message.
		inv, ok := syncOnce(t, bob, "", 0).Rooms.Invite[room]
		if !ok {
			t.Fatal("no invite in bob's sync")
		}
		for _, e := range inv.State.Events {
			if e.Type == event.StateMember && e.GetStateKey() == bob.UserID.String() &&
				(e.Content.Raw["is_direct"] != true || e.Content.Raw["reason"] != "hello from alice") {
				t.Fatalf("bob's invite: %v", e.Content.Raw)
			}
		}

		answer(t, bob, room, "accept")
		wantFriend(t, alice, bob, room, "Bob", "鲍勃的签名")
		wantFriend(t, bob, alice, room, "Alice", "alice's words")
		if got := listed(t, bob, "/requests", "incoming"); len(got) != 0 {
			t.Fatalf("incoming after accepting: %q", got)
		}
		var direct map[string][]string
		err := bob.GetAccountData(ctx(t), "m.direct", &direct)
		if err != nil || !slices.Contains(direct[alice.UserID.String()], room.String()) {
			t.Fatalf("bob's m.direct = %v, %v; want the room under alice", direct, err)
		}
		wantChat(t, alice, bob, room, "hi bob")
		wantChat(t, bob, alice, room, "hi alice")

		if r := friends(t, alice, "DELETE", "/"+url.PathEscape(bob.UserID.String()), nil); r.Status != http.StatusOK {
			t.Fatalf("delete: %d %v", r.Status, r.Body)
		}
		for _, c := range []*mautrix.Client{alice, bob} {
			if got := listed(t, c, "", "friends"); len(got) != 0 {
				t.Fatalf("%s's friends after deleting: %q", c.UserID, got)
			}
		}
		direct = nil
		if err := alice.GetAccountData(ctx(t), "m.direct", &direct); err != nil || len(direct) != 0 {
			t.Fatalf("alice's m.direct after deleting = %v, %v; want empty", direct, err)
		}
	})
}

// TestFriendsReject: a rejected request leaves no friendship, and the
// requester sees the invitee's leave.
func TestFriendsReject(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice, bob := register(t, srv, "alice", "long enough"), register(t, srv, "bob", "long enough")
	room := requestFriend(t, alice, bob, "")
	answer(t, bob, room, "reject")
	var m event.MemberEventContent
	err := alice.StateEvent(ctx(t), room, event.StateMember, bob.UserID.String(), &m)
	if err != nil || m.Membership != event.MembershipLeave {
		t.Fatalf("alice reads bob's membership %q, %v; want leave", m.Membership, err)
	}
	for _, c := range []*mautrix.Client{alice, bob} {
		if got := append(listed(t, c, "/requests", "incoming"), listed(t, c, "/requests", "outgoing")...); len(got) != 0 {
			t.Fatalf("%s's requests after the rejection: %q", c.UserID, got)
		}
		if got := listed(t, c, "", "friends"); len(got) != 0 {
			t.Fatalf("%s's friends after the rejection: %q", c.UserID, got)
		}
	}
}

// TestFriendsPlainClient: plain Matrix calls make the same friendships. A
// DM invite accepted by a plain join is a friendship; a two-person room
// that is not direct is not, until one of them lists it in m.direct.
func TestFriendsPlainClient(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice, bob := register(t, srv, "alice", "long enough"), register(t, srv, "bob", "long enough")
	carol := register(t, srv, "carol", "long enough")
	c := ctx(t)
	dm, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bob.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(t, bob, "/requests", "incoming"); !slices.Equal(got, []string{alice.UserID.String()}) {
		t.Fatalf("bob's incoming requests: %q", got)
	}
	if _, err := bob.JoinRoomByID(c, dm.RoomID); err != nil {
		t.Fatal(err)
	}
	wantFriend(t, alice, bob, dm.RoomID, "bob", "")
	wantFriend(t, bob, alice, dm.RoomID, "alice", "")

	plain, err := alice.CreateRoom(c, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{carol.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.JoinRoomByID(c, plain.RoomID); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, carol, "", "friends"); len(got) != 0 {
		t.Fatalf("carol's friends from a room that is not direct: %q", got)
	}
	if err := alice.SetAccountData(c, "m.direct", map[string][]id.RoomID{carol.UserID.String(): {plain.RoomID}}); err != nil {
		t.Fatal(err)
	}
	// Alice's m.direct makes it direct for both of them.
	wantFriend(t, carol, alice, plain.RoomID, "alice", "")
	wantFriend(t, alice, carol, plain.RoomID, "carol", "")
	// A plain leave ends the friendship on both sides.
	if _, err := carol.LeaveRoom(c, plain.RoomID); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, alice, "", "friends"); !slices.Equal(got, []string{bob.UserID.String()}) {
		t.Fatalf("alice's friends after carol left: %q", got)
	}
}

// TestFriendsIgnored: a request from a user the target ignores reaches no
// list, sync or push of the target's; the requester sees it pending as any
// other.
func TestFriendsIgnored(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	alice, bob := register(t, srv, "alice", "long enough"), register(t, srv, "bob", "long enough")
	carol := register(t, srv, "carol", "long enough")
	c := ctx(t)
	ignore := map[string]any{"ignored_users": map[string]any{alice.UserID.String(): map[string]any{}}}
	if err := bob.SetAccountData(c, "m.ignored_user_list", ignore); err != nil {
		t.Fatal(err)
	}
	gateway, pushes := pushGateway(t)
	kind := mautrix.PusherKindHTTP
	if err := bob.SetPusher(c, &mautrix.Pusher{Kind: &kind, AppID: "im.myelin.e2e", PushKey: "bob-phone", AppDisplayName: "e2e",
		DeviceDisplayName: "phone", Language: "en", Data: mautrix.PusherData{"url": gateway}}); err != nil {
		t.Fatal(err)
	}
	since := syncOnce(t, bob, "", 0).NextBatch
	ws := dialWS(t, srv.ClientURL(), bob.AccessToken, since)
	ignoredRoom := requestFriend(t, alice, bob, "please")
	if got := listed(t, alice, "/requests", "outgoing"); !slices.Equal(got, []string{bob.UserID.String()}) {
		t.Fatalf("alice's outgoing: %q", got)
	}
	if got := listed(t, bob, "/requests", "incoming"); len(got) != 0 {
		t.Fatalf("bob's incoming from an ignored user: %q", got)
	}
	// Carol's request after alice's: bob's first push and the invite his
	// sync ends with are carol's.
	carolRoom := requestFriend(t, carol, bob, "hi")
	if n := nextPush(t, pushes).Notification; n.RoomID != carolRoom.String() || n.Sender != carol.UserID.String() {
		t.Fatalf("bob's first push: %+v; want carol's invite to %s (alice's to %s is ignored)", n, carolRoom, ignoredRoom)
	}
	var seen bool
	for i := 0; i < 10 && !seen; i++ {
		r := syncOnce(t, bob, since, 2*time.Second)
		if _, ok := r.Rooms.Invite[ignoredRoom]; ok {
			t.Fatal("bob's incremental sync shows an invite from a user he ignores")
		}
		_, seen = r.Rooms.Invite[carolRoom]
		since = r.NextBatch
	}
	if !seen {
		t.Fatal("bob's sync never showed carol's invite")
	}
	// The WebSocket stream likewise: frames up to carol's invite, none
	// with alice's.
	for seen = false; !seen; {
		f := readFrame(t, ws)
		if _, ok := f.Rooms.Invite[ignoredRoom.String()]; ok {
			t.Fatal("bob's WebSocket stream shows an invite from a user he ignores")
		}
		_, seen = f.Rooms.Invite[carolRoom.String()]
	}
	if _, ok := syncOnce(t, bob, "", 0).Rooms.Invite[ignoredRoom]; ok {
		t.Fatal("bob's initial sync shows an invite from a user he ignores")
	}
	if got := listed(t, bob, "/requests", "incoming"); !slices.Equal(got, []string{carol.UserID.String()}) {
		t.Fatalf("bob's incoming: %q; want carol's only", got)
	}
}

// TestFriendsFederation: the same between users of two servers — request,
// acceptance (a remote join), profiles from the join events, chat,
// deletion; a rejection; and a request to a user the other server does
// not have.
func TestFriendsFederation(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f, alice, bob := startPair(t, d)
			carol := register(t, f.servers["two.test"], "carol", "long enough")
			setFriendProfile(t, alice, "Alice", "from one")
			setFriendProfile(t, bob, "Bob", "from two")

			room := requestFriend(t, alice, bob, "across")
			var in map[string]any
			waitFor(t, "bob's incoming request", func() bool {
				in = entries(t, friends(t, bob, "GET", "/requests", nil), "incoming")[alice.UserID.String()]
				return in != nil && in["room_id"] == room.String() && in["message"] == "across"
			})
			// Two is not in the room yet: alice's profile comes from one.
			if p, _ := in["profile"].(map[string]any); p["displayname"] != "Alice" {
				t.Fatalf("bob's incoming request's profile: %v", in)
			}
			if got := listed(t, alice, "/requests", "outgoing"); !slices.Equal(got, []string{bob.UserID.String()}) {
				t.Fatalf("alice's outgoing: %q", got)
			}
			answer(t, bob, room, "accept")
			waitFor(t, "alice lists bob", func() bool {
				_, ok := entries(t, friends(t, alice, "GET", "", nil), "friends")[bob.UserID.String()]
				return ok
			})
			wantFriend(t, alice, bob, room, "Bob", "")
			wantFriend(t, bob, alice, room, "Alice", "")
			wantChat(t, alice, bob, room, "hello two")
			wantChat(t, bob, alice, room, "hello one")

			if r := friends(t, bob, "DELETE", "/"+url.PathEscape(alice.UserID.String()), nil); r.Status != http.StatusOK {
				t.Fatalf("delete: %d %v", r.Status, r.Body)
			}
			if got := listed(t, bob, "", "friends"); len(got) != 0 {
				t.Fatalf("bob's friends after deleting: %q", got)
			}
			waitFor(t, "alice no longer lists bob", func() bool { return len(listed(t, alice, "", "friends")) == 0 })

			// Rejected across servers: alice sees carol's leave.
			room2 := requestFriend(t, alice, carol, "")
			waitFor(t, "carol's incoming request", func() bool { return len(listed(t, carol, "/requests", "incoming")) == 1 })
			answer(t, carol, room2, "reject")
			waitFor(t, "alice sees carol's rejection", func() bool {
				var m event.MemberEventContent
				err := alice.StateEvent(ctx(t), room2, event.StateMember, carol.UserID.String(), &m)
				return err == nil && m.Membership == event.MembershipLeave
			})
			if got := listed(t, alice, "/requests", "outgoing"); len(got) != 0 {
				t.Fatalf("alice's outgoing after the rejection: %q", got)
			}
			if got := listed(t, carol, "/requests", "incoming"); len(got) != 0 {
				t.Fatalf("carol's incoming after rejecting: %q", got)
			}

			// A user two does not have: the invite fails, the room is left
			// and forgotten.
			before, err := alice.JoinedRooms(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			r := friends(t, alice, "POST", "/requests", map[string]string{"user_id": "@nobody:two.test"})
			if r.Status != http.StatusNotFound || r.errcode() != "M_NOT_FOUND" {
				t.Fatalf("request to a nonexistent remote user: %d %v", r.Status, r.Body)
			}
			after, err := alice.JoinedRooms(ctx(t))
			if err != nil || len(after.JoinedRooms) != len(before.JoinedRooms) {
				t.Fatalf("joined rooms %v after the failed request, %v before (%v)", after, before, err)
			}
		})
	}
}
