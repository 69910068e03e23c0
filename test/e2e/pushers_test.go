package e2e

import (
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
)

// setPusher has c set an http pusher with pushKey through mautrix.
func setPusher(t *testing.T, c *mautrix.Client, pushKey string) {
	t.Helper()
	kind := mautrix.PusherKindHTTP
	err := c.SetPusher(ctx(t), &mautrix.Pusher{
		Kind: &kind, AppID: "im.myelin.e2e", PushKey: pushKey, AppDisplayName: "Myelin e2e",
		DeviceDisplayName: string(c.DeviceID), Language: "en", ProfileTag: "tag",
		Data: mautrix.PusherData{"url": "https://push.example/_matrix/push/v1/notify", "format": "event_id_only"},
	})
	if err != nil {
		t.Fatalf("setting pusher %s: %v", pushKey, err)
	}
}

// wantPushKeys checks the pushkeys GET /pushers lists to c, in any order.
func wantPushKeys(t *testing.T, c *mautrix.Client, want ...string) {
	t.Helper()
	resp, err := c.GetPushers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range resp.Pushers {
		got = append(got, p.PushKey)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pushers %v, want %v", got, want)
	}
}

// TestPushersFollowTheirSession: a pusher set through mautrix is listed
// with what was set, and goes when the session that set it goes — a
// password change that logs out the other sessions, a logout, a
// logout/all — or when it is deleted with kind null.
func TestPushersFollowTheirSession(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		const pw1, pw2 = "correct horse", "battery staple"
		alice := register(t, srv, "alice", pw1)
		other := login(t, srv, "alice", pw1)
		setPusher(t, alice, "main-key")
		setPusher(t, other, "other-key")
		wantPushKeys(t, alice, "main-key", "other-key")
		resp, err := other.GetPushers(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Pushers {
			if p.PushKey == "other-key" && (p.Kind == nil || *p.Kind != mautrix.PusherKindHTTP || p.AppID != "im.myelin.e2e" ||
				p.Data.URL() != "https://push.example/_matrix/push/v1/notify" || p.Data.Format() != "event_id_only" ||
				p.Language != "en" || p.ProfileTag != "tag" || p.DeviceDisplayName != string(other.DeviceID)) {
				t.Fatalf("pusher read back as %+v", p)
			}
		}

		// A password change from alice's first session logs other out, and its pusher with it.
		change := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/password", alice.AccessToken,
			map[string]any{"new_password": pw2, "auth": passwordAuth(alice.UserID, pw1, "")})
		if change.Status != http.StatusOK {
			t.Fatalf("password change: %d %v", change.Status, change.Body)
		}
		wantPushKeys(t, alice, "main-key")

		// A logout takes the session's pusher.
		third := login(t, srv, "alice", pw2)
		setPusher(t, third, "third-key")
		wantPushKeys(t, alice, "main-key", "third-key")
		if _, err := third.Logout(ctx(t)); err != nil {
			t.Fatal(err)
		}
		wantPushKeys(t, alice, "main-key")

		// kind null deletes.
		if err := alice.SetPusher(ctx(t), &mautrix.Pusher{AppID: "im.myelin.e2e", PushKey: "main-key"}); err != nil {
			t.Fatal(err)
		}
		wantPushKeys(t, alice)

		// logout/all takes every pusher.
		fourth := login(t, srv, "alice", pw2)
		setPusher(t, alice, "main-key")
		setPusher(t, fourth, "fourth-key")
		if _, err := fourth.LogoutAll(ctx(t)); err != nil {
			t.Fatal(err)
		}
		fifth := login(t, srv, "alice", pw2)
		wantPushKeys(t, fifth)
	})
}
