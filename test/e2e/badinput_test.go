package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/clientapi/routing"
	"maunium.net/go/mautrix"
)

// TestBadInput sends malformed, mistyped, oversized and unauthorised
// requests to every endpoint of the account surface and checks the Matrix
// error each one gets, then that none of them changed anything.
func TestBadInput(t *testing.T) {
	forEachDatabase(t, testBadInput)
}

func testBadInput(t *testing.T, dbURL string) {
	srv := startServer(t, testConfig(t, dbURL))
	carol := register(t, srv, "carol", "carol-password")
	dave := register(t, srv, "dave", "dave-password")
	if err := carol.SetDisplayName(ctx(t), "Carol"); err != nil {
		t.Fatal(err)
	}
	if err := dave.SetDisplayName(ctx(t), "Dave"); err != nil {
		t.Fatal(err)
	}
	base := srv.ClientURL() + "/_matrix/client"
	tok := carol.AccessToken
	big := strings.Repeat("x", 2<<20)
	longKey := "im.myelin." + strings.Repeat("k", 250)
	carolsRoom, err := carol.CreateRoom(ctx(t), &mautrix.ReqCreateRoom{})
	if err != nil {
		t.Fatal(err)
	}
	inRoom := "/v3/rooms/" + url.PathEscape(carolsRoom.RoomID.String())

	cases := []struct {
		name    string
		method  string
		path    string
		token   string
		body    any
		status  int
		errcode string
	}{
		{"register not json", "POST", "/v3/register", "", "{not json", 400, "M_NOT_JSON"},
		{"register array", "POST", "/v3/register", "", "[1,2]", 400, "M_BAD_JSON"},
		{"register mistyped", "POST", "/v3/register", "", `{"username": 5}`, 400, "M_BAD_JSON"},
		{"register bad username", "POST", "/v3/register", "", map[string]any{"username": "Bad Name!", "password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}}, 400, "M_INVALID_USERNAME"},
		{"register bad character", "POST", "/v3/register", "", map[string]any{"username": "eve!", "password": "long enough"}, 400, "M_INVALID_USERNAME"},
		{"register too long", "POST", "/v3/register", "", map[string]any{"username": strings.Repeat("a", 250), "password": "long enough"}, 400, "M_INVALID_USERNAME"},
		{"register taken", "POST", "/v3/register", "", map[string]any{"username": "carol", "password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}}, 400, "M_USER_IN_USE"},
		{"register weak password", "POST", "/v3/register", "", map[string]any{"username": "erin", "password": "short", "auth": map[string]string{"type": "m.login.dummy"}}, 400, "M_WEAK_PASSWORD"},
		{"register guest", "POST", "/v3/register?kind=guest", "", map[string]any{}, 403, "M_GUEST_ACCESS_FORBIDDEN"},
		{"register unknown session", "POST", "/v3/register", "", map[string]any{"username": "erin", "password": "long enough", "auth": map[string]string{"type": "m.login.dummy", "session": "nope"}}, 400, "M_UNKNOWN"},
		{"register oversized", "POST", "/v3/register", "", big, 413, "M_TOO_LARGE"},
		{"available taken", "GET", "/v3/register/available?username=carol", "", nil, 400, "M_USER_IN_USE"},
		{"available missing", "GET", "/v3/register/available", "", nil, 400, "M_MISSING_PARAM"},
		{"available invalid", "GET", "/v3/register/available?username=N%20O", "", nil, 400, "M_INVALID_USERNAME"},
		{"login wrong password", "POST", "/v3/login", "", map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "carol"}, "password": "nope"}, 403, "M_FORBIDDEN"},
		{"login unknown user", "POST", "/v3/login", "", map[string]any{"type": "m.login.password", "user": "nobody", "password": "nope"}, 403, "M_FORBIDDEN"},
		{"login unknown type", "POST", "/v3/login", "", map[string]any{"type": "m.login.magic"}, 400, "M_UNKNOWN"},
		{"login missing user", "POST", "/v3/login", "", map[string]any{"type": "m.login.password", "password": "x"}, 400, "M_MISSING_PARAM"},
		{"login not json", "POST", "/v3/login", "", "password=1", 400, "M_NOT_JSON"},
		{"login mistyped", "POST", "/v3/login", "", `{"type":"m.login.password","user":"carol","password":12}`, 400, "M_BAD_JSON"},
		{"whoami no token", "GET", "/v3/account/whoami", "", nil, 401, "M_MISSING_TOKEN"},
		{"whoami bad token", "GET", "/v3/account/whoami", "mya_nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"logout bad token", "POST", "/v3/logout", "mya_nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"refresh unknown", "POST", "/v3/refresh", "", map[string]string{"refresh_token": "myr_nope"}, 401, "M_UNKNOWN_TOKEN"},
		{"refresh missing", "POST", "/v3/refresh", "", map[string]string{}, 400, "M_MISSING_PARAM"},
		{"profile of other user", "PUT", "/v3/profile/@dave:localhost/displayname", tok, map[string]string{"displayname": "pwned"}, 403, "M_FORBIDDEN"},
		{"profile delete other user", "DELETE", "/v3/profile/@dave:localhost/displayname", tok, nil, 403, "M_FORBIDDEN"},
		{"profile mistyped", "PUT", "/v3/profile/@carol:localhost/displayname", tok, map[string]any{"displayname": 5}, 400, "M_BAD_JSON"},
		{"profile missing value", "PUT", "/v3/profile/@carol:localhost/displayname", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"profile bad avatar", "PUT", "/v3/profile/@carol:localhost/avatar_url", tok, map[string]any{"avatar_url": "http://evil"}, 400, "M_INVALID_PARAM"},
		{"profile bad key", "PUT", "/v3/profile/@carol:localhost/Bad-Key", tok, map[string]any{"Bad-Key": "x"}, 400, "M_INVALID_PARAM"},
		{"profile key too large", "PUT", "/v3/profile/@carol:localhost/" + longKey, tok, map[string]any{longKey: "x"}, 400, "M_KEY_TOO_LARGE"},
		{"profile too large", "PUT", "/v3/profile/@carol:localhost/im.myelin.big", tok, map[string]any{"im.myelin.big": strings.Repeat("y", 70000)}, 400, "M_PROFILE_TOO_LARGE"},
		{"profile no token", "PUT", "/v3/profile/@carol:localhost/displayname", "", map[string]string{"displayname": "x"}, 401, "M_MISSING_TOKEN"},
		{"profile bad user id", "GET", "/v3/profile/carol", "", nil, 400, "M_INVALID_PARAM"},
		{"profile unknown user", "GET", "/v3/profile/@nobody:localhost", "", nil, 404, "M_NOT_FOUND"},
		{"profile unknown field", "GET", "/v3/profile/@carol:localhost/im.myelin.none", "", nil, 404, "M_NOT_FOUND"},
		{"account data other user", "PUT", "/v3/user/@dave:localhost/account_data/im.x", tok, map[string]any{}, 403, "M_FORBIDDEN"},
		{"account data read other user", "GET", "/v3/user/@dave:localhost/account_data/im.x", tok, nil, 403, "M_FORBIDDEN"},
		{"account data server managed", "PUT", "/v3/user/@carol:localhost/account_data/m.fully_read", tok, map[string]any{"event_id": "$x"}, 405, "M_BAD_JSON"},
		{"account data not json", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, "{nope", 400, "M_NOT_JSON"},
		{"account data array", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, "[]", 400, "M_BAD_JSON"},
		{"account data missing", "GET", "/v3/user/@carol:localhost/account_data/im.none", tok, nil, 404, "M_NOT_FOUND"},
		{"room account data bad room", "PUT", "/v3/user/@carol:localhost/rooms/notaroom/account_data/im.x", tok, map[string]any{}, 400, "M_INVALID_PARAM"},
		{"account data oversized", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, `{"a":"` + big + `"}`, 413, "M_TOO_LARGE"},
		{"device unknown", "GET", "/v3/devices/NOPE", tok, nil, 404, "M_NOT_FOUND"},
		{"device rename unknown", "PUT", "/v3/devices/NOPE", tok, map[string]string{"display_name": "x"}, 404, "M_NOT_FOUND"},
		{"device rename mistyped", "PUT", "/v3/devices/" + string(carol.DeviceID), tok, map[string]any{"display_name": 3}, 400, "M_BAD_JSON"},
		{"device rename NUL", "PUT", "/v3/devices/" + string(carol.DeviceID), tok, `{"display_name":"a\u0000b"}`, 400, "M_INVALID_PARAM"},
		{"login device NUL", "POST", "/v3/login", "", `{"type":"m.login.password","user":"carol","password":"carol-password","device_id":"X\u0000"}`, 400, "M_INVALID_PARAM"},
		{"path NUL", "GET", "/v3/devices/A%00B", tok, nil, 400, "M_INVALID_PARAM"},
		{"state key NUL", "PUT", "/v3/rooms/!r:localhost/state/m.room.topic/a%00", tok, map[string]string{}, 400, "M_INVALID_PARAM"},
		{"createRoom invite NUL", "POST", "/v3/createRoom", tok, `{"invite":["@a\u0000b:localhost"]}`, 400, "M_INVALID_PARAM"},
		{"createRoom state key NUL", "POST", "/v3/createRoom", tok, `{"initial_state":[{"type":"m.x","state_key":"a\u0000","content":{}}]}`, 400, "M_INVALID_PARAM"},
		{"createRoom bad preset", "POST", "/v3/createRoom", tok, `{"preset":"nope"}`, 400, "M_BAD_JSON"},
		{"createRoom bad version", "POST", "/v3/createRoom", tok, `{"room_version":"nope"}`, 400, "M_UNSUPPORTED_ROOM_VERSION"},
		{"send to unknown room", "PUT", "/v3/rooms/!nope:localhost/send/m.room.message/t1", tok, `{"body":"x"}`, 404, "M_NOT_FOUND"},
		{"send not json", "PUT", "/v3/rooms/!nope:localhost/send/m.room.message/t2", tok, `nope`, 400, "M_NOT_JSON"},
		{"messages bad dir", "GET", inRoom + "/messages?dir=x", tok, nil, 400, "M_INVALID_PARAM"},
		{"send invalid UTF-8", "PUT", inRoom + "/send/m.room.message/t-utf8", tok, "{\"body\":\"\xff\xfe\"}", 400, "M_NOT_JSON"},
		{"messages not a member", "GET", "/v3/rooms/!nope:localhost/messages?dir=x", tok, nil, 403, "M_FORBIDDEN"},
		{"messages bad filter", "GET", inRoom + "/messages?dir=b&filter=%7Bnope", tok, nil, 400, "M_BAD_JSON"},
		{"filter bad type", "POST", "/v3/user/@carol:localhost/filter", tok, map[string]any{"room": map[string]any{"timeline": map[string]any{"types": []int{1}}}}, 400, "M_BAD_JSON"},
		{"filter bad room", "POST", "/v3/user/@carol:localhost/filter", tok, map[string]any{"room": map[string]any{"rooms": []string{"nope"}}}, 400, "M_INVALID_PARAM"},
		{"filter bad sender", "POST", "/v3/user/@carol:localhost/filter", tok, map[string]any{"room": map[string]any{"timeline": map[string]any{"senders": []string{"nope"}}}}, 400, "M_INVALID_PARAM"},
		{"canonical alias invalid", "PUT", inRoom + "/state/m.room.canonical_alias", tok, map[string]any{"alias": "nope"}, 400, "M_INVALID_PARAM"},
		{"canonical alias elsewhere", "PUT", inRoom + "/state/m.room.canonical_alias", tok, map[string]any{"alt_aliases": []string{"#missing:localhost"}}, 400, "M_BAD_ALIAS"},
		{"member state bad membership", "PUT", inRoom + "/state/m.room.member/@dave:localhost", tok, map[string]any{"membership": "lurk"}, 400, "M_BAD_JSON"},
		{"member state bad user", "PUT", inRoom + "/state/m.room.member/dave", tok, map[string]any{"membership": "invite"}, 400, "M_INVALID_PARAM"},
		{"second create event", "PUT", inRoom + "/state/m.room.create", tok, map[string]any{"room_version": "12"}, 400, "M_BAD_JSON"},
		{"creator in power levels (v12)", "PUT", inRoom + "/state/m.room.power_levels", tok, map[string]any{"users": map[string]int{"@carol:localhost": 100}}, 400, "M_BAD_JSON"},
		{"createRoom creator in power levels (v12)", "POST", "/v3/createRoom", tok, map[string]any{"power_level_content_override": map[string]any{"users": map[string]int{"@carol:localhost": 100}}}, 400, "M_BAD_JSON"},
		{"createRoom bad additional creator", "POST", "/v3/createRoom", tok, map[string]any{"creation_content": map[string]any{"additional_creators": []string{"not-a-user"}}}, 400, "M_BAD_JSON"},
		{"sync bad since", "GET", "/v3/sync?since=garbage", tok, nil, 400, "M_INVALID_PARAM"},
		{"sync bad timeout", "GET", "/v3/sync?timeout=-1", tok, nil, 400, "M_INVALID_PARAM"},
		{"join bad room id", "POST", "/v3/rooms/nope/join", tok, `{}`, 400, "M_INVALID_PARAM"},
		{"invite missing user", "POST", "/v3/rooms/!nope:localhost/invite", tok, `{}`, 400, "M_MISSING_PARAM"},
		{"device delete unknown", "DELETE", "/v3/devices/NOPE", tok, nil, 404, "M_NOT_FOUND"},
		{"device of other user", "GET", "/v3/devices/" + string(dave.DeviceID), tok, nil, 404, "M_NOT_FOUND"},
		{"delete devices missing list", "POST", "/v3/delete_devices", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"delete devices unknown session", "POST", "/v3/delete_devices", tok, map[string]any{"devices": []string{"X"}, "auth": map[string]string{"type": "m.login.password", "session": "nope"}}, 400, "M_UNKNOWN"},
		{"password missing", "POST", "/v3/account/password", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"password weak", "POST", "/v3/account/password", tok, map[string]any{"new_password": "x"}, 400, "M_WEAK_PASSWORD"},
		{"password wrong old", "POST", "/v3/account/password", tok, map[string]any{"new_password": "long enough new", "auth": passwordAuth(carol.UserID, "wrong", "")}, 401, "M_FORBIDDEN"},
		{"password for other user", "POST", "/v3/account/password", tok, map[string]any{"new_password": "long enough new", "auth": passwordAuth(dave.UserID, "dave-password", "")}, 403, "M_FORBIDDEN"},
		{"deactivate mistyped", "POST", "/v3/account/deactivate", tok, `{"auth": "yes"}`, 400, "M_BAD_JSON"},
		{"deactivate wrong password", "POST", "/v3/account/deactivate", tok, map[string]any{"auth": passwordAuth(carol.UserID, "wrong", "")}, 401, "M_FORBIDDEN"},
		{"capabilities no token", "GET", "/v3/capabilities", "", nil, 401, "M_MISSING_TOKEN"},
		{"unknown endpoint", "GET", "/v3/no/such/thing", "", nil, 404, "M_UNRECOGNIZED"},
		{"wrong method", "DELETE", "/v3/login", "", nil, 405, "M_UNRECOGNIZED"},
		{"token validity missing token", "GET", "/v1/register/m.login.registration_token/validity", "", nil, 400, "M_MISSING_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, tc.method, base+tc.path, tc.token, tc.body)
			if resp.Status != tc.status || resp.errcode() != tc.errcode {
				t.Fatalf("got %d %v, want %d %s", resp.Status, resp.Body, tc.status, tc.errcode)
			}
			if _, ok := resp.Body["error"].(string); !ok {
				t.Fatalf("no error message in %v", resp.Body)
			}
		})
	}

	admin := srv.ClientURL() + "/_synapse/admin/v1/register"
	t.Run("admin register wrong mac", func(t *testing.T) {
		nonce := do(t, "GET", admin, "", nil).Body["nonce"].(string)
		resp := do(t, "POST", admin, "", map[string]any{"nonce": nonce, "username": "mallory", "password": "long enough", "mac": "00"})
		if resp.Status != 403 || resp.errcode() != "M_FORBIDDEN" {
			t.Fatalf("got %d %v", resp.Status, resp.Body)
		}
	})
	t.Run("admin register unknown nonce", func(t *testing.T) {
		mac := routing.SharedSecretMAC("test-shared-secret", "nope", "mallory", "long enough", false)
		resp := do(t, "POST", admin, "", map[string]any{"nonce": "nope", "username": "mallory", "password": "long enough", "mac": mac})
		if resp.Status != 400 || resp.errcode() != "M_UNKNOWN" {
			t.Fatalf("got %d %v", resp.Status, resp.Body)
		}
	})

	// Nothing above wrote anything.
	t.Run("nothing written", func(t *testing.T) {
		for user, name := range map[string]string{"@carol:localhost": "Carol", "@dave:localhost": "Dave"} {
			p := do(t, "GET", base+"/v3/profile/"+user, "", nil)
			if p.Body["displayname"] != name || len(p.Body) != 1 {
				t.Fatalf("profile of %s = %v", user, p.Body)
			}
		}
		for _, u := range []string{"erin", "mallory"} {
			if r := do(t, "GET", base+"/v3/register/available?username="+u, "", nil); r.Status != 200 {
				t.Fatalf("%s was registered: %v", u, r.Body)
			}
		}
		if r := do(t, "GET", base+"/v3/user/@carol:localhost/account_data/m.fully_read", tok, nil); r.Status != 404 {
			t.Fatalf("m.fully_read written: %v", r.Body)
		}
		if r := do(t, "GET", base+"/v3/user/@carol:localhost/account_data/im.x", tok, nil); r.Status != 404 {
			t.Fatalf("rejected account data written: %v", r.Body)
		}
		if _, err := carol.Whoami(ctx(t)); err != nil {
			t.Fatalf("carol's token broken: %v", err)
		}
		login(t, srv, "carol", "carol-password")
	})

	// CORS: OPTIONS answers with the headers and runs no endpoint logic.
	t.Run("options", func(t *testing.T) {
		resp := do(t, "OPTIONS", base+"/v3/account/whoami", "", nil)
		if resp.Status != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("OPTIONS: %d %v", resp.Status, resp.Header)
		}
		if r := do(t, "GET", base+"/versions", "", nil); r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatal("no CORS header on GET")
		}
	})

	// Failed logins are rate limited per user: the sixth wrong password in a
	// row is refused with 429 and retry_after_ms, before the password is checked.
	t.Run("login rate limit", func(t *testing.T) {
		body := map[string]any{"type": "m.login.password", "user": "dave", "password": "wrong"}
		var last rawResponse
		for i := 0; i < 8; i++ {
			last = do(t, "POST", base+"/v3/login", "", body)
			if last.Status == http.StatusTooManyRequests {
				break
			}
		}
		if last.Status != 429 || last.errcode() != "M_LIMIT_EXCEEDED" {
			t.Fatalf("no rate limit after 8 failures: %d %v", last.Status, last.Body)
		}
		if ms, ok := last.Body["retry_after_ms"].(float64); !ok || ms <= 0 {
			t.Fatalf("retry_after_ms = %v", last.Body["retry_after_ms"])
		}
	})
}
