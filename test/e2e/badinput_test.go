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
		{
			name:    "register bad username",
			method:  "POST",
			path:    "/v3/register",
			body:    map[string]any{"username": "Bad Name!", "password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}},
			status:  400,
			errcode: "M_INVALID_USERNAME",
		},
		{
			name:    "register bad character",
			method:  "POST",
			path:    "/v3/register",
			body:    map[string]any{"username": "eve!", "password": "long enough"},
			status:  400,
			errcode: "M_INVALID_USERNAME",
		},
		{
			name:    "register too long",
			method:  "POST",
			path:    "/v3/register",
			body:    map[string]any{"username": strings.Repeat("a", 250), "password": "long enough"},
			status:  400,
			errcode: "M_INVALID_USERNAME",
		},
		{
			name:    "register taken",
			method:  "POST",
			path:    "/v3/register",
			body:    map[string]any{"username": "carol", "password": "long enough", "auth": map[string]string{"type": "m.login.dummy"}},
			status:  400,
			errcode: "M_USER_IN_USE",
		},
		{
			name:    "register weak password",
			method:  "POST",
			path:    "/v3/register",
			body:    map[string]any{"username": "erin", "password": "short", "auth": map[string]string{"type": "m.login.dummy"}},
			status:  400,
			errcode: "M_WEAK_PASSWORD",
		},
		{"register guest", "POST", "/v3/register?kind=guest", "", map[string]any{}, 403, "M_GUEST_ACCESS_FORBIDDEN"},
		{
			name:   "register unknown session",
			method: "POST",
			path:   "/v3/register",
			body: map[string]any{
				"username": "erin",
				"password": "long enough",
				"auth":     map[string]string{"type": "m.login.dummy", "session": "nope"},
			},
			status:  400,
			errcode: "M_UNKNOWN",
		},
		{"register oversized", "POST", "/v3/register", "", big, 413, "M_TOO_LARGE"},
		{"available taken", "GET", "/v3/register/available?username=carol", "", nil, 400, "M_USER_IN_USE"},
		{"available missing", "GET", "/v3/register/available", "", nil, 400, "M_MISSING_PARAM"},
		{"available invalid", "GET", "/v3/register/available?username=N%20O", "", nil, 400, "M_INVALID_USERNAME"},
		{
			name:   "login wrong password",
			method: "POST",
			path:   "/v3/login",
			body: map[string]any{
				"type":       "m.login.password",
				"identifier": map[string]string{"type": "m.id.user", "user": "carol"},
				"password":   "nope",
			},
			status:  403,
			errcode: "M_FORBIDDEN",
		},
		{
			name:    "login unknown user",
			method:  "POST",
			path:    "/v3/login",
			body:    map[string]any{"type": "m.login.password", "user": "nobody", "password": "nope"},
			status:  403,
			errcode: "M_FORBIDDEN",
		},
		{"login unknown type", "POST", "/v3/login", "", map[string]any{"type": "m.login.magic"}, 400, "M_UNKNOWN"},
		{
			name:    "login missing user",
			method:  "POST",
			path:    "/v3/login",
			body:    map[string]any{"type": "m.login.password", "password": "x"},
			status:  400,
			errcode: "M_MISSING_PARAM",
		},
		{"login not json", "POST", "/v3/login", "", "password=1", 400, "M_NOT_JSON"},
		{"login mistyped", "POST", "/v3/login", "", `{"type":"m.login.password","user":"carol","password":12}`, 400, "M_BAD_JSON"},
		{"whoami no token", "GET", "/v3/account/whoami", "", nil, 401, "M_MISSING_TOKEN"},
		{"whoami bad token", "GET", "/v3/account/whoami", "mya_nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"logout bad token", "POST", "/v3/logout", "mya_nope", nil, 401, "M_UNKNOWN_TOKEN"},
		{"refresh unknown", "POST", "/v3/refresh", "", map[string]string{"refresh_token": "myr_nope"}, 401, "M_UNKNOWN_TOKEN"},
		{"refresh missing", "POST", "/v3/refresh", "", map[string]string{}, 400, "M_MISSING_PARAM"},
		{
			name:    "profile of other user",
			method:  "PUT",
			path:    "/v3/profile/@dave:localhost/displayname",
			token:   tok,
			body:    map[string]string{"displayname": "pwned"},
			status:  403,
			errcode: "M_FORBIDDEN",
		},
		{"profile delete other user", "DELETE", "/v3/profile/@dave:localhost/displayname", tok, nil, 403, "M_FORBIDDEN"},
		{"profile mistyped", "PUT", "/v3/profile/@carol:localhost/displayname", tok, map[string]any{"displayname": 5}, 400, "M_BAD_JSON"},
		{"profile missing value", "PUT", "/v3/profile/@carol:localhost/displayname", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{
			name:    "profile avatar too long",
			method:  "PUT",
			path:    "/v3/profile/@carol:localhost/avatar_url",
			token:   tok,
			body:    map[string]any{"avatar_url": "https://evil/" + strings.Repeat("x", 1000)},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{"profile bad key", "PUT", "/v3/profile/@carol:localhost/Bad-Key", tok, map[string]any{"Bad-Key": "x"}, 400, "M_INVALID_PARAM"},
		{
			name:    "profile key too large",
			method:  "PUT",
			path:    "/v3/profile/@carol:localhost/" + longKey,
			token:   tok,
			body:    map[string]any{longKey: "x"},
			status:  400,
			errcode: "M_KEY_TOO_LARGE",
		},
		{
			name:    "profile too large",
			method:  "PUT",
			path:    "/v3/profile/@carol:localhost/im.myelin.big",
			token:   tok,
			body:    map[string]any{"im.myelin.big": strings.Repeat("y", 70000)},
			status:  400,
			errcode: "M_PROFILE_TOO_LARGE",
		},
		{
			name:    "profile no token",
			method:  "PUT",
			path:    "/v3/profile/@carol:localhost/displayname",
			body:    map[string]string{"displayname": "x"},
			status:  401,
			errcode: "M_MISSING_TOKEN",
		},
		{"profile bad user id", "GET", "/v3/profile/carol", "", nil, 400, "M_INVALID_PARAM"},
		{"profile unknown user", "GET", "/v3/profile/@nobody:localhost", "", nil, 404, "M_NOT_FOUND"},
		{"profile unknown field", "GET", "/v3/profile/@carol:localhost/im.myelin.none", "", nil, 404, "M_NOT_FOUND"},
		{"account data other user", "PUT", "/v3/user/@dave:localhost/account_data/im.x", tok, map[string]any{}, 403, "M_FORBIDDEN"},
		{"account data read other user", "GET", "/v3/user/@dave:localhost/account_data/im.x", tok, nil, 403, "M_FORBIDDEN"},
		{
			name:    "account data server managed",
			method:  "PUT",
			path:    "/v3/user/@carol:localhost/account_data/m.fully_read",
			token:   tok,
			body:    map[string]any{"event_id": "$x"},
			status:  405,
			errcode: "M_BAD_JSON",
		},
		{"account data not json", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, "{nope", 400, "M_NOT_JSON"},
		{"account data array", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, "[]", 400, "M_BAD_JSON"},
		{"account data missing", "GET", "/v3/user/@carol:localhost/account_data/im.none", tok, nil, 404, "M_NOT_FOUND"},
		{
			name:    "room account data bad room",
			method:  "PUT",
			path:    "/v3/user/@carol:localhost/rooms/notaroom/account_data/im.x",
			token:   tok,
			body:    map[string]any{},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{"account data oversized", "PUT", "/v3/user/@carol:localhost/account_data/im.x", tok, `{"a":"` + big + `"}`, 413, "M_TOO_LARGE"},
		{"device unknown", "GET", "/v3/devices/NOPE", tok, nil, 404, "M_NOT_FOUND"},
		{"device rename unknown", "PUT", "/v3/devices/NOPE", tok, map[string]string{"display_name": "x"}, 404, "M_NOT_FOUND"},
		{
			name:    "device rename mistyped",
			method:  "PUT",
			path:    "/v3/devices/" + string(carol.DeviceID),
			token:   tok,
			body:    map[string]any{"display_name": 3},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{"device rename NUL", "PUT", "/v3/devices/" + string(carol.DeviceID), tok, `{"display_name":"a\u0000b"}`, 400, "M_INVALID_PARAM"},
		{
			name:    "login device NUL",
			method:  "POST",
			path:    "/v3/login",
			body:    `{"type":"m.login.password","user":"carol","password":"carol-password","device_id":"X\u0000"}`,
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{"path NUL", "GET", "/v3/devices/A%00B", tok, nil, 400, "M_INVALID_PARAM"},
		{"state key NUL", "PUT", "/v3/rooms/!r:localhost/state/m.room.topic/a%00", tok, map[string]string{}, 400, "M_INVALID_PARAM"},
		{"createRoom invite NUL", "POST", "/v3/createRoom", tok, `{"invite":["@a\u0000b:localhost"]}`, 400, "M_INVALID_PARAM"},
		{
			name:    "createRoom state key NUL",
			method:  "POST",
			path:    "/v3/createRoom",
			token:   tok,
			body:    `{"initial_state":[{"type":"m.x","state_key":"a\u0000","content":{}}]}`,
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{"createRoom bad preset", "POST", "/v3/createRoom", tok, `{"preset":"nope"}`, 400, "M_BAD_JSON"},
		{"createRoom bad version", "POST", "/v3/createRoom", tok, `{"room_version":"nope"}`, 400, "M_UNSUPPORTED_ROOM_VERSION"},
		{"send to unknown room", "PUT", "/v3/rooms/!nope:localhost/send/m.room.message/t1", tok, `{"body":"x"}`, 404, "M_NOT_FOUND"},
		{"send not json", "PUT", "/v3/rooms/!nope:localhost/send/m.room.message/t2", tok, `nope`, 400, "M_NOT_JSON"},
		{"messages bad dir", "GET", inRoom + "/messages?dir=x", tok, nil, 400, "M_INVALID_PARAM"},
		{"send invalid UTF-8", "PUT", inRoom + "/send/m.room.message/t-utf8", tok, "{\"body\":\"\xff\xfe\"}", 400, "M_NOT_JSON"},
		{"messages not a member", "GET", "/v3/rooms/!nope:localhost/messages?dir=x", tok, nil, 403, "M_FORBIDDEN"},
		{"messages bad filter", "GET", inRoom + "/messages?dir=b&filter=%7Bnope", tok, nil, 400, "M_BAD_JSON"},
		{
			name:    "filter bad type",
			method:  "POST",
			path:    "/v3/user/@carol:localhost/filter",
			token:   tok,
			body:    map[string]any{"room": map[string]any{"timeline": map[string]any{"types": []int{1}}}},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{
			name:    "filter bad room",
			method:  "POST",
			path:    "/v3/user/@carol:localhost/filter",
			token:   tok,
			body:    map[string]any{"room": map[string]any{"rooms": []string{"nope"}}},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{
			name:    "filter bad sender",
			method:  "POST",
			path:    "/v3/user/@carol:localhost/filter",
			token:   tok,
			body:    map[string]any{"room": map[string]any{"timeline": map[string]any{"senders": []string{"nope"}}}},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{
			name:    "canonical alias invalid",
			method:  "PUT",
			path:    inRoom + "/state/m.room.canonical_alias",
			token:   tok,
			body:    map[string]any{"alias": "nope"},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{
			name:    "canonical alias elsewhere",
			method:  "PUT",
			path:    inRoom + "/state/m.room.canonical_alias",
			token:   tok,
			body:    map[string]any{"alt_aliases": []string{"#missing:localhost"}},
			status:  400,
			errcode: "M_BAD_ALIAS",
		},
		{
			name:    "member state bad membership",
			method:  "PUT",
			path:    inRoom + "/state/m.room.member/@dave:localhost",
			token:   tok,
			body:    map[string]any{"membership": "lurk"},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{
			name:    "member state bad user",
			method:  "PUT",
			path:    inRoom + "/state/m.room.member/dave",
			token:   tok,
			body:    map[string]any{"membership": "invite"},
			status:  400,
			errcode: "M_INVALID_PARAM",
		},
		{"second create event", "PUT", inRoom + "/state/m.room.create", tok, map[string]any{"room_version": "12"}, 400, "M_BAD_JSON"},
		{
			name:    "creator in power levels (v12)",
			method:  "PUT",
			path:    inRoom + "/state/m.room.power_levels",
			token:   tok,
			body:    map[string]any{"users": map[string]int{"@carol:localhost": 100}},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{
			name:    "createRoom creator in power levels (v12)",
			method:  "POST",
			path:    "/v3/createRoom",
			token:   tok,
			body:    map[string]any{"power_level_content_override": map[string]any{"users": map[string]int{"@carol:localhost": 100}}},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{
			name:    "createRoom bad additional creator",
			method:  "POST",
			path:    "/v3/createRoom",
			token:   tok,
			body:    map[string]any{"creation_content": map[string]any{"additional_creators": []string{"not-a-user"}}},
			status:  400,
			errcode: "M_BAD_JSON",
		},
		{"sync bad since", "GET", "/v3/sync?since=garbage", tok, nil, 400, "M_INVALID_PARAM"},
		{"sync bad timeout", "GET", "/v3/sync?timeout=-1", tok, nil, 400, "M_INVALID_PARAM"},
		{"join bad room id", "POST", "/v3/rooms/nope/join", tok, `{}`, 400, "M_INVALID_PARAM"},
		{"invite missing user", "POST", "/v3/rooms/!nope:localhost/invite", tok, `{}`, 400, "M_MISSING_PARAM"},
		{"device delete unknown", "DELETE", "/v3/devices/NOPE", tok, nil, 404, "M_NOT_FOUND"},
		{"device of other user", "GET", "/v3/devices/" + string(dave.DeviceID), tok, nil, 404, "M_NOT_FOUND"},
		{"delete devices missing list", "POST", "/v3/delete_devices", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{
			name:    "delete devices unknown session",
			method:  "POST",
			path:    "/v3/delete_devices",
			token:   tok,
			body:    map[string]any{"devices": []string{"X"}, "auth": map[string]string{"type": "m.login.password", "session": "nope"}},
			status:  400,
			errcode: "M_UNKNOWN",
		},
		{"password missing", "POST", "/v3/account/password", tok, map[string]any{}, 400, "M_MISSING_PARAM"},
		{"password weak", "POST", "/v3/account/password", tok, map[string]any{"new_password": "x"}, 400, "M_WEAK_PASSWORD"},
		{
			name:    "password wrong old",
			method:  "POST",
			path:    "/v3/account/password",
			token:   tok,
			body:    map[string]any{"new_password": "long enough new", "auth": passwordAuth(carol.UserID, "wrong", "")},
			status:  401,
			errcode: "M_FORBIDDEN",
		},
		{
			name:    "password for other user",
			method:  "POST",
			path:    "/v3/account/password",
			token:   tok,
			body:    map[string]any{"new_password": "long enough new", "auth": passwordAuth(dave.UserID, "dave-password", "")},
			status:  403,
			errcode: "M_FORBIDDEN",
		},
		{"deactivate mistyped", "POST", "/v3/account/deactivate", tok, `{"auth": "yes"}`, 400, "M_BAD_JSON"},
		{
			name:    "deactivate wrong password",
			method:  "POST",
			path:    "/v3/account/deactivate",
			token:   tok,
			body:    map[string]any{"auth": passwordAuth(carol.UserID, "wrong", "")},
			status:  401,
			errcode: "M_FORBIDDEN",
		},
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
