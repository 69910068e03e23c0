package e2e

import (
	"testing"
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
	caps, err := c.Capabilities(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if caps.ChangePassword == nil || !caps.ChangePassword.Enabled || caps.SetDisplayname == nil || !caps.SetDisplayname.Enabled ||
		caps.SetAvatarURL == nil || !caps.SetAvatarURL.Enabled || caps.ThreePIDChanges == nil || caps.ThreePIDChanges.Enabled {
		t.Fatalf("capabilities: %+v", caps)
	}
	raw := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/capabilities", c.AccessToken, nil)
	pf, _ := raw.Body["capabilities"].(map[string]any)["m.profile_fields"].(map[string]any)
	if pf["enabled"] != true {
		t.Fatalf("m.profile_fields: %v", raw.Body)
	}
	wk := do(t, "GET", srv.ClientURL()+"/.well-known/matrix/client", "", nil)
	hs, _ := wk.Body["m.homeserver"].(map[string]any)
	if wk.Status != 200 || hs["base_url"] != srv.ClientURL() {
		t.Fatalf("well-known: %v", wk.Body)
	}
}
