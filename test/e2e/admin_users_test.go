package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// TestAdminModeratesUsers: an admin locks one user (whose client then gets
// M_USER_LOCKED), suspends another (who can no longer send but still
// reads), logs in as a user for support, and the audit log shows it.
func TestAdminModeratesUsers(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig(t, ""))
	reg := sharedSecretRegister(t, srv, "root", "root password", true)
	root, rootID := reg.Body["access_token"].(string), reg.Body["user_id"]
	alice := register(t, srv, "alice", "long enough")
	bob := register(t, srv, "bob", "long enough")
	room := publicRoom(t, alice, bob)
	if _, err := alice.SendText(ctx(t), room, "before the lock"); err != nil {
		t.Fatal(err)
	}
	admin := func(method, path string, body any) rawResponse {
		t.Helper()
		r := do(t, method, srv.ClientURL()+path, root, body)
		if r.Status != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, r.Status, r.Body)
		}
		return r
	}

	admin("PUT", "/_matrix/client/v1/admin/lock/"+string(alice.UserID), map[string]any{"locked": true})
	_, err := alice.Whoami(ctx(t))
	wantMatrixError(t, err, http.StatusUnauthorized, "M_USER_LOCKED")
	var he mautrix.HTTPError
	if _, err := alice.JoinedRooms(ctx(t)); !asHTTPError(err, &he) || he.RespError.ExtraData["soft_logout"] != true {
		t.Fatalf("a locked client's error: %v", err)
	}

	admin("PUT", "/_matrix/client/v1/admin/suspend/"+string(bob.UserID), map[string]any{"suspended": true})
	_, err = bob.SendText(ctx(t), room, "while suspended")
	wantMatrixError(t, err, http.StatusForbidden, "M_USER_SUSPENDED")
	msgs, err := bob.Messages(ctx(t), room, "", "", mautrix.DirectionBackward, nil, 10)
	if err != nil || !hasText(msgs.Chunk, "before the lock") {
		t.Fatalf("a suspended user reading: %v", err)
	}

	login := admin("POST", "/_synapse/admin/v1/users/"+string(bob.UserID)+"/login", map[string]any{})
	support := newClient(t, srv)
	support.AccessToken = login.Body["access_token"].(string)
	who, err := support.Whoami(ctx(t))
	if err != nil || who.UserID != bob.UserID {
		t.Fatalf("the support token: %+v %v", who, err)
	}
	audit := admin("GET", "/_synapse/admin/v1/audit_log?target="+string(bob.UserID), nil)
	entries, _ := audit.Body["entries"].([]any)
	newest, _ := entries[0].(map[string]any)
	detail, _ := newest["detail"].(string)
	if newest["method"] != "POST" || !strings.HasSuffix(newest["path"].(string), "/login") ||
		!strings.HasPrefix(detail, "device "+string(who.DeviceID)) || newest["admin"] != rootID {
		t.Fatalf("audit entry of the support login: %v (device %s)", newest, who.DeviceID)
	}
}

func asHTTPError(err error, he *mautrix.HTTPError) bool {
	return errors.As(err, he) && he.RespError != nil
}

func hasText(evs []*event.Event, body string) bool {
	for _, ev := range evs {
		if ev.Type == event.EventMessage && ev.Content.Raw["body"] == body {
			return true
		}
	}
	return false
}
