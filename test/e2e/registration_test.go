package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/myelin-im/myelin/clientapi/routing"
)

// TestRegistrationTokenMode: with --registration token, registering takes a
// token through UIA, each token has a use count, and the validity endpoint
// tells clients in advance.
func TestRegistrationTokenMode(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.ClientAPI.Registration = "token"
	srv := startServer(t, cfg)
	uses := int64(1)
	tok, err := srv.UserAPI.CreateRegistrationToken(context.Background(), &uses, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := srv.ClientURL() + "/_matrix/client/v3/register"
	validity := srv.ClientURL() + "/_matrix/client/v1/register/m.login.registration_token/validity?token="

	if v := do(t, "GET", validity+tok, "", nil); v.Status != 200 || v.Body["valid"] != true {
		t.Fatalf("validity of fresh token: %d %v", v.Status, v.Body)
	}
	if v := do(t, "GET", validity+"nope", "", nil); v.Status != 200 || v.Body["valid"] != false {
		t.Fatalf("validity of unknown token: %d %v", v.Status, v.Body)
	}
	// Dummy auth is not offered in token mode.
	first := do(t, "POST", reg, "", map[string]any{
		"username": "tina",
		"password": "long enough",
		"auth":     map[string]string{"type": "m.login.dummy"},
	})
	if first.Status != 401 || !strings.Contains(toJSON(first.Body["flows"]), "m.login.registration_token") {
		t.Fatalf("dummy in token mode: %d %v", first.Status, first.Body)
	}
	session := first.Body["session"].(string)
	bad := do(t, "POST", reg, "", map[string]any{"username": "tina", "password": "long enough",
		"auth": map[string]string{"type": "m.login.registration_token", "token": "nope", "session": session}})
	if bad.Status != 401 || bad.errcode() == "" {
		t.Fatalf("wrong token: %d %v", bad.Status, bad.Body)
	}
	good := do(t, "POST", reg, "", map[string]any{"username": "tina", "password": "long enough",
		"auth": map[string]string{"type": "m.login.registration_token", "token": tok, "session": session}})
	if good.Status != 200 || good.Body["user_id"] != "@tina:localhost" || good.Body["access_token"] == nil {
		t.Fatalf("register with token: %d %v", good.Status, good.Body)
	}
	// The single use is spent.
	if v := do(t, "GET", validity+tok, "", nil); v.Body["valid"] != false {
		t.Fatalf("spent token still valid: %v", v.Body)
	}
	again := do(t, "POST", reg, "", map[string]any{"username": "tom", "password": "long enough",
		"auth": map[string]string{"type": "m.login.registration_token", "token": tok}})
	if again.Status != 401 {
		t.Fatalf("spent token accepted: %d %v", again.Status, again.Body)
	}
}

func TestRegistrationDisabled(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.ClientAPI.Registration = "disabled"
	srv := startServer(t, cfg)
	dummy := map[string]any{"username": "x", "auth": map[string]string{"type": "m.login.dummy"}}
	r := do(t, "POST", srv.ClientURL()+"/_matrix/client/v3/register", "", dummy)
	if r.Status != 403 || r.errcode() != "M_FORBIDDEN" {
		t.Fatalf("register when disabled: %d %v", r.Status, r.Body)
	}
	// Operators can still create accounts with the shared secret.
	if r := sharedSecretRegister(t, srv, "operator", "long enough", true); r.Status != 200 {
		t.Fatalf("shared-secret register: %d %v", r.Status, r.Body)
	}
}

// TestRegistrationFeatures: the first dummy request succeeds without a 401
// round trip; inhibit_login; chosen device ID and display name; refresh
// tokens; generated user IDs; the shared-secret admin API.
func TestRegistrationFeatures(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	reg := srv.ClientURL() + "/_matrix/client/v3/register"

	one := do(t, "POST", reg, "", map[string]any{
		"username":                    "uma",
		"password":                    "long enough",
		"auth":                        map[string]string{"type": "m.login.dummy"},
		"device_id":                   "MYPHONE",
		"initial_device_display_name": "Uma's phone",
		"refresh_token":               true,
	})
	if one.Status != 200 || one.Body["device_id"] != "MYPHONE" || one.Body["refresh_token"] == nil || one.Body["expires_in_ms"] == nil {
		t.Fatalf("one-shot dummy registration: %d %v", one.Status, one.Body)
	}
	uma := newClient(t, srv)
	uma.AccessToken = one.Body["access_token"].(string)
	info, err := uma.GetDeviceInfo(ctx(t), "MYPHONE")
	if err != nil || info.DisplayName != "Uma's phone" {
		t.Fatalf("device: %+v %v", info, err)
	}

	// Refresh: a new pair; the old refresh token is spent.
	refresh := srv.ClientURL() + "/_matrix/client/v3/refresh"
	ref := do(t, "POST", refresh, "", map[string]any{"refresh_token": one.Body["refresh_token"]})
	if ref.Status != 200 || ref.Body["access_token"] == one.Body["access_token"] || ref.Body["refresh_token"] == nil {
		t.Fatalf("refresh: %d %v", ref.Status, ref.Body)
	}
	if again := do(t, "POST", refresh, "", map[string]any{"refresh_token": one.Body["refresh_token"]}); again.Status != 401 {
		t.Fatalf("spent refresh token accepted: %d %v", again.Status, again.Body)
	}
	uma.AccessToken = ref.Body["access_token"].(string)
	if who, err := uma.Whoami(ctx(t)); err != nil || who.DeviceID != "MYPHONE" {
		t.Fatalf("whoami with refreshed token: %+v %v", who, err)
	}
	// The old access token is revoked by the refresh.
	if r := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/account/whoami", one.Body["access_token"].(string), nil); r.Status != 401 {
		t.Fatalf("old access token still works: %d", r.Status)
	}

	inh := do(t, "POST", reg, "", map[string]any{
		"username":      "vic",
		"password":      "long enough",
		"inhibit_login": true,
		"auth":          map[string]string{"type": "m.login.dummy"},
	})
	if inh.Status != 200 || inh.Body["user_id"] != "@vic:localhost" || inh.Body["access_token"] != nil {
		t.Fatalf("inhibit_login: %d %v", inh.Status, inh.Body)
	}
	if devs := login(t, srv, "vic", "long enough"); devs.AccessToken == "" {
		t.Fatal("no token")
	}

	gen := do(t, "POST", reg, "", map[string]any{"password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}})
	if uid, _ := gen.Body["user_id"].(string); gen.Status != 200 || !strings.HasPrefix(uid, "@u") {
		t.Fatalf("generated user ID: %d %v", gen.Status, gen.Body)
	}

	adm := sharedSecretRegister(t, srv, "wendy", "long enough", true)
	if adm.Status != 200 || adm.Body["user_id"] != "@wendy:localhost" || adm.Body["access_token"] == nil {
		t.Fatalf("shared-secret register: %d %v", adm.Status, adm.Body)
	}
	acct, err := srv.UserAPI.Account(context.Background(), "wendy")
	if err != nil || !acct.IsAdmin {
		t.Fatalf("wendy admin: %+v %v", acct, err)
	}
	if p := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/profile/@wendy:localhost", "", nil); p.Body["displayname"] != "wendy" {
		t.Fatalf("wendy's profile: %d %v", p.Status, p.Body)
	}
	if r := sharedSecretRegister(t, srv, "wendy", "long enough", false); r.Status != 400 || r.errcode() != "M_USER_IN_USE" {
		t.Fatalf("duplicate shared-secret register: %d %v", r.Status, r.Body)
	}

	// /register/available for a free name; mautrix's two-step dummy flow.
	if r := do(t, "GET", reg+"/available?username=xena", "", nil); r.Status != 200 || r.Body["available"] != true {
		t.Fatalf("available: %d %v", r.Status, r.Body)
	}
	register(t, srv, "xena", "long enough")
	flows, err := newClient(t, srv).GetLoginFlows(ctx(t))
	if err != nil || !flows.HasFlow(mautrix.AuthTypePassword) {
		t.Fatalf("login flows: %+v %v", flows, err)
	}
}

func sharedSecretRegister(t *testing.T, srv interface{ ClientURL() string }, user, password string, admin bool) rawResponse {
	t.Helper()
	url := srv.ClientURL() + "/_synapse/admin/v1/register"
	nonce := do(t, "GET", url, "", nil).Body["nonce"].(string)
	mac := routing.SharedSecretMAC("test-shared-secret", nonce, user, password, admin)
	return do(t, "POST", url, "", map[string]any{"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac})
}

// TestExpiredAccessToken: an access token issued with a refresh token stops
// working at its expiry with soft_logout true.
func TestExpiredAccessToken(t *testing.T) {
	cfg := testConfig(t, "")
	srv := startServer(t, cfg)
	r := do(t, "POST", srv.ClientURL()+"/_matrix/client/v3/register", "", map[string]any{
		"username":      "yan",
		"password":      "long enough",
		"refresh_token": true,
		"auth":          map[string]string{"type": "m.login.dummy"},
	})
	tok := r.Body["access_token"].(string)
	// SetClock is the user API's test hook, outside its api interface.
	srv.UserAPI.(interface{ SetClock(func() time.Time) }).SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	w := do(t, "GET", srv.ClientURL()+"/_matrix/client/v3/account/whoami", tok, nil)
	if w.Status != http.StatusUnauthorized || w.errcode() != "M_UNKNOWN_TOKEN" || w.Body["soft_logout"] != true {
		t.Fatalf("expired token: %d %v", w.Status, w.Body)
	}
}

// TestRegistrationLowercases: a requested username with capitals becomes
// the lowercase localpart (spec: localparts are lowercase; Synapse does the
// same), and that name is then taken.
func TestRegistrationLowercases(t *testing.T) {
	srv := startServer(t, testConfig(t, ""))
	c := register(t, srv, "Frank", "long enough")
	if c.UserID != "@frank:localhost" {
		t.Fatalf("registered as %s, want @frank:localhost", c.UserID)
	}
	_, err := newClient(t, srv).RegisterDummy(ctx(t), &mautrix.ReqRegister[any]{Username: "frank", Password: "long enough"})
	wantMatrixError(t, err, http.StatusBadRequest, "M_USER_IN_USE")
}
