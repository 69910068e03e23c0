package routing_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

// TestProfileHandlers covers profile.go: reading any user's profile,
// changing only one's own, and the change reaching the user's rooms.
func TestProfileHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	room := f.Room(t, alice)
	name := "/profile/" + alice.ID + "/displayname"
	avatar := "/profile/" + alice.ID + "/avatar_url"
	longKey := "im.myelin." + strings.Repeat("k", 250)
	run(t, f, []call{
		{"malformed user", "GET", "/profile/alice", "", nil, 400, "M_INVALID_PARAM", nil},
		{"user on a bad server", "GET", "/profile/" + url.PathEscape("@alice:bad server"), "", nil, 400, "M_INVALID_PARAM", nil},
		{"unknown user", "GET", "/profile/@nobody:test.local", "", nil, 404, "M_NOT_FOUND", nil},
		{"remote user (no federation)", "GET", "/profile/@alice:elsewhere.test", "", nil, 404, "M_NOT_FOUND", nil},
		{"named after the localpart", "GET", "/profile/" + alice.ID, "", nil, 200, "", equals("displayname", "alice")},
		{"unset field", "GET", "/profile/" + alice.ID + "/avatar_url", "", nil, 404, "M_NOT_FOUND", nil},
		{"bad key", "GET", "/profile/" + alice.ID + "/Bad-Key", "", nil, 400, "M_INVALID_PARAM", nil},
		{"key too long", "GET", "/profile/" + alice.ID + "/" + longKey, "", nil, 400, "M_KEY_TOO_LARGE", nil},

		{"set without token", "PUT", name, "", `{"displayname":"A"}`, 401, "M_MISSING_TOKEN", nil},
		{"set another user's", "PUT", "/profile/" + bob.ID + "/displayname", alice.Token, `{"displayname":"B"}`, 403, "M_FORBIDDEN", nil},
		{"set for a malformed user", "PUT", "/profile/alice/displayname", alice.Token, `{"displayname":"A"}`, 400, "M_INVALID_PARAM", nil},
		{"set not JSON", "PUT", name, alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"set without the value", "PUT", name, alice.Token, `{}`, 400, "M_MISSING_PARAM", nil},
		{"set a mistyped name", "PUT", name, alice.Token, `{"displayname":5}`, 400, "M_BAD_JSON", nil},
		{"set a mistyped avatar", "PUT", avatar, alice.Token, `{"avatar_url":["mxc://a/b"]}`, 400, "M_BAD_JSON", nil},
		{"set too long an avatar", "PUT", avatar, alice.Token, map[string]string{"avatar_url": strings.Repeat("é", 1001)},
			400, "M_INVALID_PARAM", nil},
		{"set the longest avatar", "PUT", avatar, alice.Token, map[string]string{"avatar_url": strings.Repeat("é", 1000)},
			200, "", nil},
		{"set a plain-word avatar", "PUT", avatar, alice.Token, `{"avatar_url":"LemurLover"}`, 200, "", nil},
		{"read the avatar", "GET", avatar, "", nil, 200, "", equals("avatar_url", "LemurLover")},
		{"set too much", "PUT", "/profile/" + alice.ID + "/im.myelin.big", alice.Token,
			map[string]string{"im.myelin.big": strings.Repeat("y", 70000)}, 400, "M_PROFILE_TOO_LARGE", nil},
		{"set", "PUT", name, alice.Token, `{"displayname":"Alice"}`, 200, "", nil},
		{"read", "GET", name, "", nil, 200, "", equals("displayname", "Alice")},
		{"read whole", "GET", "/profile/" + alice.ID, "", nil, 200, "", equals("displayname", "Alice")},
		{"set a custom field", "PUT", "/profile/" + alice.ID + "/im.myelin.signature", alice.Token,
			`{"im.myelin.signature":{"text":"hi"}}`, 200, "", nil},
		{"delete another user's", "DELETE", "/profile/" + bob.ID + "/displayname", alice.Token, nil, 403, "M_FORBIDDEN", nil},
		{"delete", "DELETE", "/profile/" + alice.ID + "/im.myelin.signature", alice.Token, nil, 200, "", nil},
		{"deleted", "GET", "/profile/" + alice.ID + "/im.myelin.signature", "", nil, 404, "M_NOT_FOUND", nil},
	})

	t.Run("name in the room's member event", func(t *testing.T) {
		if got := memberName(t, f, room, alice.ID); got != "Alice" {
			t.Fatalf("displayname in the member event %q, want Alice", got)
		}
	})
	run(t, f, []call{{"clear with null", "PUT", name, alice.Token, `{"displayname":null}`, 200, "", nil}})
	t.Run("name cleared in the room", func(t *testing.T) {
		if got := memberName(t, f, room, alice.ID); got != "" {
			t.Fatalf("displayname in the member event %q, want none", got)
		}
	})
}

// TestProfileReachesMemberEvents: a new avatar, like a new display name,
// goes into the user's member event in every room they are joined to, and
// deleting it takes it out; rooms they left are not touched.
func TestProfileReachesMemberEvents(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	own := f.Room(t, alice)
	f.Invite(t, alice, bob, own)
	f.Join(t, bob, own)
	joined := f.Room(t, bob, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, alice, joined)
	left := f.Room(t, bob, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, alice, left)
	f.Leave(t, alice, left)
	avatar := "/profile/" + alice.ID + "/avatar_url"
	wantMember := func(t *testing.T, room, membership, avatarURL string) {
		t.Helper()
		c := memberContent(t, f, room, alice.ID)
		got, _ := c["avatar_url"].(string)
		if c["membership"] != membership || got != avatarURL || (membership == "join" && c["displayname"] != "alice") {
			t.Fatalf("alice's member event in %s = %v, want %s with avatar %q and her name", room, c, membership, avatarURL)
		}
	}
	steps := []struct {
		call
		avatar string // alice's avatar in the member events afterwards
	}{
		{call{"set", "PUT", avatar, alice.Token, `{"avatar_url":"mxc://test.local/lemur"}`, 200, "", nil}, "mxc://test.local/lemur"},
		{call{"set a plain word", "PUT", avatar, alice.Token, `{"avatar_url":"LemurLover"}`, 200, "", nil}, "LemurLover"},
		{call{"delete", "DELETE", avatar, alice.Token, nil, 200, "", nil}, ""},
		{call{"set again", "PUT", avatar, alice.Token, `{"avatar_url":"mxc://test.local/again"}`, 200, "", nil}, "mxc://test.local/again"},
		{call{"clear with null", "PUT", avatar, alice.Token, `{"avatar_url":null}`, 200, "", nil}, ""},
	}
	for _, st := range steps {
		run(t, f, []call{st.call})
		t.Run(st.name+" reaches the rooms", func(t *testing.T) {
			wantMember(t, own, "join", st.avatar)
			wantMember(t, joined, "join", st.avatar)
			wantMember(t, left, "leave", "")
		})
	}
}

// memberContent reads the content of userID's member event in roomID.
func memberContent(t *testing.T, f *fixture.Fixture, roomID, userID string) map[string]any {
	t.Helper()
	ev, err := f.Rooms.StateEvent(context.Background(), roomID, "m.room.member", userID)
	if err != nil {
		t.Fatalf("member event of %s: %v", userID, err)
	}
	ce, err := ev.Client()
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(ce.Content, &c); err != nil {
		t.Fatalf("member event content %s: %v", ce.Content, err)
	}
	return c
}

// memberName reads the display name of userID's member event in roomID.
func memberName(t *testing.T, f *fixture.Fixture, roomID, userID string) string {
	t.Helper()
	name, _ := memberContent(t, f, roomID, userID)["displayname"].(string)
	return name
}
