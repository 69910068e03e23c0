package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
)

// found searches the directory as c and returns the user IDs found, in
// order, with each one's display name. mautrix reads a profile's
// "displayname"; the directory's key is "display_name" (users.yaml), left
// in Extra.
func found(t *testing.T, c *mautrix.Client, term string) (ids []id.UserID, names map[id.UserID]string) {
	t.Helper()
	resp, err := c.SearchUserDirectory(ctx(t), term, 0)
	if err != nil {
		t.Fatalf("%s searching %q: %v", c.UserID, term, err)
	}
	names = map[id.UserID]string{}
	for _, r := range resp.Results {
		ids = append(ids, r.UserID)
		names[r.UserID], _ = r.Extra["display_name"].(string)
	}
	return ids, names
}

func wantFound(t *testing.T, c *mautrix.Client, term string, want ...id.UserID) {
	t.Helper()
	if got, _ := found(t, c, term); !slices.Equal(got, want) {
		t.Fatalf("%s searching %q found %v, want %v", c.UserID, term, got, want)
	}
}

// waitFound polls until c's search for term finds exactly want (changes
// from room events reach the directory through the bus).
func waitFound(t *testing.T, c *mautrix.Client, term string, want ...id.UserID) {
	t.Helper()
	var got []id.UserID
	waitFor(t, "search "+term, func() bool {
		time.Sleep(50 * time.Millisecond) // within the per-token request limit
		got, _ = found(t, c, term)
		return slices.Equal(got, want)
	})
}

func setProfile(t *testing.T, c *mautrix.Client, key, value string) {
	t.Helper()
	url := c.BuildClientURL("v3", "profile", c.UserID, key)
	if r := do(t, http.MethodPut, url, c.AccessToken, map[string]string{key: value}); r.Status != http.StatusOK {
		t.Fatalf("setting %s: %d %v", key, r.Status, r.Body)
	}
}

// TestUserDirectory: with the default policy every local user is found by
// user ID, global display name (Chinese included, by a substring) and
// signature; never by a room-specific name; profile changes show at once;
// a deactivated user is gone; limit and limited hold.
func TestUserDirectory(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		carol := register(t, srv, "carol", "long enough")
		setProfile(t, alice, "displayname", "张三丰")
		setProfile(t, alice, "im.myelin.signature", "Tai chi master")

		wantFound(t, bob, "alice", alice.UserID)
		wantFound(t, bob, alice.UserID.String(), alice.UserID)
		wantFound(t, bob, "三丰", alice.UserID)
		wantFound(t, bob, "TAI ch", alice.UserID)
		wantFound(t, bob, "carol", carol.UserID) // no shared room needed
		if _, names := found(t, bob, "alice"); names[alice.UserID] != "张三丰" {
			t.Fatalf("alice's display name in results: %q", names[alice.UserID])
		}
		// The whole result as sent, with the signature extension.
		r := do(t, http.MethodPost, bob.BuildClientURL("v3", "user_directory", "search"), bob.AccessToken,
			map[string]any{"search_term": "alice"})
		res, _ := r.Body["results"].([]any)
		if r.Status != http.StatusOK || len(res) != 1 || r.Body["limited"] != false {
			t.Fatalf("search: %d %v", r.Status, r.Body)
		}
		if one, _ := res[0].(map[string]any); one["im.myelin.signature"] != "Tai chi master" || one["display_name"] != "张三丰" {
			t.Fatalf("result: %v", one)
		}

		// A room-specific name is never searchable.
		room := publicRoom(t, alice, bob)
		_, err := alice.SendStateEvent(ctx(t), room, event.StateMember, alice.UserID.String(),
			map[string]any{"membership": "join", "displayname": "Freddy"})
		if err != nil {
			t.Fatal(err)
		}
		wantFound(t, bob, "freddy")
		wantFound(t, bob, "张三丰", alice.UserID)

		setProfile(t, alice, "displayname", "Alice Cooper")
		wantFound(t, bob, "cooper", alice.UserID)
		wantFound(t, bob, "三丰")

		// limit and limited.
		resp, err := bob.SearchUserDirectory(ctx(t), "a", 1) // alice only
		if err != nil || len(resp.Results) != 1 || resp.Limited {
			t.Fatalf("limit 1: %+v %v", resp, err)
		}
		resp, err = bob.SearchUserDirectory(ctx(t), "c", 1) // cooper, carol
		if err != nil || len(resp.Results) != 1 || !resp.Limited {
			t.Fatalf("limit 1 of 2: %+v %v", resp, err)
		}

		deact := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/deactivate", carol.AccessToken,
			map[string]any{"auth": passwordAuth(carol.UserID, "long enough", "")})
		if deact.Status != http.StatusOK {
			t.Fatalf("deactivate: %d %v", deact.Status, deact.Body)
		}
		wantFound(t, bob, "carol")
	})
}

// TestUserDirectoryRestricted: with search_all_users false, a search finds
// only users who share a room with the searcher or are in a public room,
// and follows joins and leaves.
func TestUserDirectoryRestricted(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		cfg.UserDirectory.SearchAllUsers = false
		srv := startServer(t, cfg)
		alice := register(t, srv, "alice", "long enough")
		bob := register(t, srv, "bob", "long enough")
		eve := register(t, srv, "eve", "long enough")

		wantFound(t, eve, "alice")
		wantFound(t, bob, "alice")
		// A private room of bob and alice: bob finds her, eve does not.
		priv, err := bob.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{alice.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.JoinRoomByID(ctx(t), priv.RoomID); err != nil {
			t.Fatal(err)
		}
		waitFound(t, bob, "alice", alice.UserID)
		wantFound(t, eve, "alice")
		wantFound(t, bob, "bob") // not oneself through a shared room
		// Alice in a public room: eve finds her too.
		pub := publicRoom(t, alice)
		waitFound(t, eve, "alice", alice.UserID)
		// Alice leaves both: nobody finds her.
		for _, room := range []id.RoomID{pub, priv.RoomID} {
			if _, err := alice.LeaveRoom(ctx(t), room); err != nil {
				t.Fatal(err)
			}
		}
		waitFound(t, eve, "alice")
		waitFound(t, bob, "alice")
	})
}

// TestUserDirectoryFederation: a user of another server who shares a room
// is found, under the name of their join, and is gone once they leave.
func TestUserDirectoryFederation(t *testing.T) {
	t.Parallel() // waits more than it computes: runs beside the others once the serial tests are done
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			f := startFederation(t, func(t *testing.T) string { return sqltest.URL(t, d) }, "one.test", "two.test")
			alice := register(t, f.servers["one.test"], "alice", "long enough")
			bob := register(t, f.servers["two.test"], "bob", "long enough")
			setProfile(t, bob, "displayname", "Bob Builder")
			wantFound(t, alice, "builder")
			room, err := alice.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{Preset: "public_chat", RoomAliasName: "hall"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoom(ctx(t), "#hall:one.test", nil); err != nil {
				t.Fatal(err)
			}
			waitFound(t, alice, "builder", bob.UserID)
			wantFound(t, alice, "@bob:two", bob.UserID)
			// And two knows alice from the room it joined.
			waitFound(t, bob, "alice", alice.UserID)
			if _, err := bob.LeaveRoom(ctx(t), room.RoomID); err != nil {
				t.Fatal(err)
			}
			waitFound(t, alice, "builder")
		})
	}
}
