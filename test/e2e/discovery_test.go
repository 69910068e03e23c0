package e2e

import (
	"testing"

	"maunium.net/go/mautrix"
)

// TestDiscovery: /versions, /.well-known/matrix/client and /capabilities as
// mautrix reads them.
func TestDiscovery(t *testing.T) {
	cfg := testConfig(t, "")
	srv := startServer(t, cfg)
	c := register(t, srv, "disco", "long enough")
	v, err := c.Versions(ctx(t))
	if err != nil || len(v.Versions) == 0 {
		t.Fatalf("versions: %+v %v", v, err)
	}
	// v1.11: clients switch to authenticated media downloads.
	if !v.Supports(mautrix.FeatureAuthenticatedMedia) {
		t.Fatalf("versions %v: mautrix does not see authenticated media", v.Versions)
	}
	// v1.12: thumbnails with their required Content-Disposition.
	if !v.Contains(mautrix.SpecV112) || v.ContainsGreaterOrEqual(mautrix.SpecV113) {
		t.Fatalf("versions %v: want up to v1.12", v.Versions)
	}
	caps, err := c.Capabilities(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if caps.ChangePassword == nil || !caps.ChangePassword.Enabled || caps.SetDisplayname == nil || !caps.SetDisplayname.Enabled ||
		caps.SetAvatarURL == nil || !caps.SetAvatarURL.Enabled || caps.ThreePIDChanges == nil || !caps.ThreePIDChanges.Enabled {
		t.Fatalf("capabilities: %+v", caps)
	}
	raw := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/capabilities", c.AccessToken, nil)
	pf, _ := raw.Body["capabilities"].(map[string]any)["m.profile_fields"].(map[string]any)
	if pf["enabled"] != true {
		t.Fatalf("m.profile_fields: %v", raw.Body)
	}
	rv, _ := raw.Body["capabilities"].(map[string]any)["m.room_versions"].(map[string]any)
	avail, _ := rv["available"].(map[string]any)
	if rv["default"] != "12" || avail["12"] != "stable" || avail["1"] != "stable" {
		t.Fatalf("m.room_versions: %v", rv)
	}
	// The server-server API answers on the client listener too.
	fv := do(t, "GET", srv.ClientURL()+"/_matrix/federation/v1/version", "", nil)
	if server, _ := fv.Body["server"].(map[string]any); fv.Status != 200 || server["name"] != "Myelin" {
		t.Fatalf("federation version on the client listener: %d %v", fv.Status, fv.Body)
	}
	if r := do(t, "PUT", srv.ClientURL()+"/_matrix/federation/v1/version", "", nil); r.Status != 405 || r.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("wrong method on a federation endpoint: %d %v", r.Status, r.Body)
	}
	if r := do(t, "GET", srv.ClientURL()+"/_matrix/key/v2/unknown", "", nil); r.Status != 404 || r.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("unknown key endpoint: %d %v", r.Status, r.Body)
	}
	// r0, the client API's name before v3, still answers.
	if r := do(t, "GET", srv.ClientURL()+"/_matrix/client/r0/joined_rooms", c.AccessToken, nil); r.Status != 200 {
		t.Fatalf("r0 joined_rooms: %d %v", r.Status, r.Body)
	}
	// User-interactive auth as another user is refused outright.
	register(t, srv, "other", "long enough")
	auth := map[string]any{"auth": map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "other"}, "password": "long enough"}}
	device := srv.ClientURL() + "/_matrix/client/v3/devices/" + string(c.DeviceID)
	if r := do(t, "DELETE", device, c.AccessToken, auth); r.Status != 403 || r.errcode() != "M_FORBIDDEN" {
		t.Fatalf("UIA as another user: %d %v", r.Status, r.Body)
	}
	wk := do(t, "GET", srv.ClientURL()+"/.well-known/matrix/client", "", nil)
	hs, _ := wk.Body["m.homeserver"].(map[string]any)
	if wk.Status != 200 || hs["base_url"] != srv.ClientURL() {
		t.Fatalf("well-known: %v", wk.Body)
	}
}
