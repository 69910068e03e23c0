package e2e

import (
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// TestAccountLifecycle walks an account through everything a client does
// with it: register, log in on two devices, whoami, profile (display name,
// avatar, signature), account data, change password, delete a device,
// deactivate — on SQLite and on PostgreSQL.
func TestAccountLifecycle(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, testConfig(t, dbURL))
		const pw1, pw2 = "correct horse", "battery staple"

		reg := register(t, srv, "alice", pw1)
		if reg.UserID != "@alice:localhost" {
			t.Fatalf("registered as %s", reg.UserID)
		}
		// Named after the localpart until she picks a name.
		if p, err := reg.GetProfile(ctx(t), reg.UserID); err != nil || p.DisplayName != "alice" {
			t.Fatalf("profile after registration = %+v, %v", p, err)
		}
		devA := login(t, srv, "alice", pw1)
		devB := login(t, srv, "@alice:localhost", pw1) // full user ID works too
		if devA.DeviceID == devB.DeviceID || devA.DeviceID == reg.DeviceID {
			t.Fatalf("device IDs not distinct: %s %s %s", reg.DeviceID, devA.DeviceID, devB.DeviceID)
		}
		who, err := devA.Whoami(ctx(t))
		if err != nil || who.UserID != "@alice:localhost" || who.DeviceID != devA.DeviceID {
			t.Fatalf("whoami = %+v, %v", who, err)
		}

		// Profile written from device A, read from device B.
		if err := devA.SetDisplayName(ctx(t), "Alice 爱丽丝"); err != nil {
			t.Fatal(err)
		}
		avatar := id.ContentURI{Homeserver: "localhost", FileID: "avatar123"}
		if err := devA.SetAvatarURL(ctx(t), avatar); err != nil {
			t.Fatal(err)
		}
		if err := devA.SetProfileField(ctx(t), "im.myelin.signature", "Curiouser and curiouser!"); err != nil {
			t.Fatal(err)
		}
		prof, err := devB.GetProfile(ctx(t), "@alice:localhost")
		if err != nil {
			t.Fatal(err)
		}
		if prof.DisplayName != "Alice 爱丽丝" || prof.AvatarURL != avatar {
			t.Fatalf("profile = %+v", prof)
		}
		var sig struct {
			Sig string `json:"im.myelin.signature"`
		}
		err = devB.GetProfileField(ctx(t), "@alice:localhost", "im.myelin.signature", &sig)
		if err != nil || sig.Sig != "Curiouser and curiouser!" {
			t.Fatalf("signature = %q, %v", sig.Sig, err)
		}
		full := do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/v3/profile/@alice:localhost", "", nil)
		if full.Body["im.myelin.signature"] != "Curiouser and curiouser!" || full.Body["displayname"] != "Alice 爱丽丝" {
			t.Fatalf("full profile = %v", full.Body)
		}

		// Account data, global and per room.
		if err := devA.SetAccountData(ctx(t), "im.myelin.test", map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
		var ad map[string]any
		if err := devB.GetAccountData(ctx(t), "im.myelin.test", &ad); err != nil || ad["n"] != float64(1) {
			t.Fatalf("account data = %v, %v", ad, err)
		}
		if err := devA.SetRoomAccountData(ctx(t), "!room:localhost", "m.tag", map[string]any{"tags": map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		if err := devB.GetRoomAccountData(ctx(t), "!room:localhost", "m.tag", &ad); err != nil {
			t.Fatal(err)
		}

		devices, err := devA.GetDevicesInfo(ctx(t))
		if err != nil || len(devices.Devices) != 3 {
			t.Fatalf("devices = %+v, %v", devices, err)
		}
		if err := devA.SetDeviceInfo(ctx(t), devB.DeviceID, &mautrix.ReqDeviceInfo{DisplayName: "phone"}); err != nil {
			t.Fatal(err)
		}
		info, err := devA.GetDeviceInfo(ctx(t), devB.DeviceID)
		if err != nil || info.DisplayName != "phone" {
			t.Fatalf("device B = %+v, %v", info, err)
		}

		// Change password with user-interactive auth, keeping other devices.
		uia := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/password", devA.AccessToken,
			map[string]any{"new_password": pw2, "logout_devices": false})
		session, _ := uia.Body["session"].(string)
		if uia.Status != http.StatusUnauthorized || session == "" {
			t.Fatalf("password change without auth: %d %v", uia.Status, uia.Body)
		}
		wrong := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/password", devA.AccessToken,
			map[string]any{"new_password": pw2, "logout_devices": false, "auth": passwordAuth(devA.UserID, "not it", session)})
		if wrong.Status != http.StatusUnauthorized || wrong.errcode() != "M_FORBIDDEN" {
			t.Fatalf("wrong password in UIA: %d %v", wrong.Status, wrong.Body)
		}
		ok := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/password", devA.AccessToken,
			map[string]any{"new_password": pw2, "logout_devices": false, "auth": passwordAuth(devA.UserID, pw1, session)})
		if ok.Status != http.StatusOK {
			t.Fatalf("password change: %d %v", ok.Status, ok.Body)
		}
		_, err = newClient(t, srv).Login(ctx(t), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, Password: pw1})
		wantMatrixError(t, err, http.StatusForbidden, "M_FORBIDDEN")
		devC := login(t, srv, "alice", pw2)
		if _, err := devB.Whoami(ctx(t)); err != nil {
			t.Fatalf("device B logged out although logout_devices was false: %v", err)
		}

		// Delete device B (mautrix's own UIA types); its token then fails.
		err = devA.DeleteDevice(ctx(t), devB.DeviceID, &mautrix.ReqDeleteDevice[any]{})
		var he mautrix.HTTPError
		if !asHTTP(err, &he) || he.Response.StatusCode != http.StatusUnauthorized {
			t.Fatalf("delete without auth: %v", err)
		}
		err = devA.DeleteDevice(ctx(t), devB.DeviceID, &mautrix.ReqDeleteDevice[any]{Auth: passwordAuth(devA.UserID, pw2, "")})
		if err != nil {
			t.Fatalf("delete device: %v", err)
		}
		_, err = devB.Whoami(ctx(t))
		wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		if _, err := devC.Whoami(ctx(t)); err != nil {
			t.Fatalf("device C hit by deleting B: %v", err)
		}

		// Bulk delete with UIA: two fresh devices go at once.
		d1, d2 := login(t, srv, "alice", pw2), login(t, srv, "alice", pw2)
		err = devA.DeleteDevices(ctx(t), &mautrix.ReqDeleteDevices[any]{
			Devices: []id.DeviceID{d1.DeviceID, d2.DeviceID},
			Auth:    passwordAuth(devA.UserID, pw2, ""),
		})
		if err != nil {
			t.Fatalf("delete_devices: %v", err)
		}
		for _, d := range []*mautrix.Client{d1, d2} {
			_, err = d.Whoami(ctx(t))
			wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		}

		// A password change with the default logout_devices logs out every
		// other device, and keeps the one that asked.
		other := login(t, srv, "alice", pw2)
		chg := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/password", devA.AccessToken,
			map[string]any{"new_password": pw1, "auth": passwordAuth(devA.UserID, pw2, "")})
		if chg.Status != http.StatusOK {
			t.Fatalf("password change: %d %v", chg.Status, chg.Body)
		}
		_, err = other.Whoami(ctx(t))
		wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		if _, err := devA.Whoami(ctx(t)); err != nil {
			t.Fatalf("the device that changed the password was logged out: %v", err)
		}
		devC = login(t, srv, "alice", pw1)

		// Log out device C; log out all.
		if _, err := devC.Logout(ctx(t)); err != nil {
			t.Fatal(err)
		}
		_, err = devC.Whoami(ctx(t))
		wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")

		// Deactivate: tokens revoked, profile erased, login refused.
		deact := do(t, http.MethodPost, srv.ClientURL()+"/_matrix/client/v3/account/deactivate", devA.AccessToken,
			map[string]any{"auth": passwordAuth(devA.UserID, pw1, "")})
		if deact.Status != http.StatusOK {
			t.Fatalf("deactivate: %d %v", deact.Status, deact.Body)
		}
		_, err = devA.Whoami(ctx(t))
		wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		_, err = reg.Whoami(ctx(t))
		wantMatrixError(t, err, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		_, err = newClient(t, srv).Login(ctx(t), &mautrix.ReqLogin{Type: mautrix.AuthTypePassword,
			Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "alice"}, Password: pw1})
		wantMatrixError(t, err, http.StatusForbidden, "M_USER_DEACTIVATED")
		gone := do(t, http.MethodGet, srv.ClientURL()+"/_matrix/client/v3/profile/@alice:localhost", "", nil)
		if gone.Status != http.StatusNotFound || gone.errcode() != "M_NOT_FOUND" {
			t.Fatalf("profile after deactivation: %d %v", gone.Status, gone.Body)
		}
		// The user ID stays taken.
		_, err = newClient(t, srv).RegisterDummy(ctx(t), &mautrix.ReqRegister[any]{Username: "alice", Password: pw1})
		wantMatrixError(t, err, http.StatusBadRequest, "M_USER_IN_USE")
	})
}

func asHTTP(err error, he *mautrix.HTTPError) bool {
	return errors.As(err, he) && he.Response != nil
}
