package routing_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/appservice"
	asapi "github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/clientapi"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/test/fixture"
)

const (
	bridgeToken = "as-token-bridge"
	limitedTok  = "as-token-limited"
	managedTok  = "as-token-managed"
)

// newAppServiceServer is newServer with two application services
// registered: "bridge" (exclusive @_br_* and @brx_* users, #brx_* aliases,
// not rate limited, at bridgeURL) and "limited" (shared @shared_* users, no
// URL) and "managed" (exclusive @_mgd_* users, managing its devices:
// io.element.msc4190).
func newAppServiceServer(t *testing.T, bridgeURL *string) *fixture.Fixture {
	t.Helper()
	no := false
	bridge := &asapi.Registration{ID: "bridge", URL: bridgeURL, ASToken: bridgeToken, HSToken: "hs1", SenderLocalpart: "bridgebot",
		RateLimited: &no, Protocols: []string{"fakenet"}, Namespaces: asapi.Namespaces{
			Users:   []asapi.Namespace{{Exclusive: true, Regex: "@_br_.*"}, {Exclusive: true, Regex: "@brx_.*"}},
			Aliases: []asapi.Namespace{{Exclusive: true, Regex: "#brx_.*"}},
		}}
	limited := &asapi.Registration{ID: "limited", ASToken: limitedTok, HSToken: "hs2", SenderLocalpart: "limitedbot",
		Namespaces: asapi.Namespaces{Users: []asapi.Namespace{{Regex: "@shared_.*"}}}}
	managed := &asapi.Registration{ID: "managed", ASToken: managedTok, HSToken: "hs3", SenderLocalpart: "managedbot",
		MSC4190: true, Namespaces: asapi.Namespaces{Users: []asapi.Namespace{{Exclusive: true, Regex: "@_mgd_.*"}}}}
	for _, r := range []*asapi.Registration{bridge, limited, managed} {
		if err := r.Compile(); err != nil {
			t.Fatal(err)
		}
	}
	f := fixture.New(t)
	reg := asapi.NewRegistry(f.ServerName, []*asapi.Registration{bridge, limited, managed})
	if err := appservice.EnsureSenders(context.Background(), f.Users, reg); err != nil {
		t.Fatal(err)
	}
	store, err := storage.New(context.Background(), f.DB)
	if err != nil {
		t.Fatal(err)
	}
	users := appservice.WrapUserAPI(f.Users, reg, store)
	f.Router.Use(appservice.Masquerade)
	clientapi.Setup(f.Router, f.Config, users, f.Rooms, f.Cache, nil, nil, f.Log)
	f.FailOnErrorLogs(t)
	return f
}

func TestAppServiceIdentityAssertion(t *testing.T) {
	f := newAppServiceServer(t, nil)
	alice := f.User(t, "alice")
	puppet := f.User(t, "_br_puppet")
	q := func(params ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		return "/account/whoami?" + v.Encode()
	}
	run(t, f, []call{
		{name: "sender by default", method: http.MethodGet, path: "/account/whoami", token: bridgeToken,
			status: http.StatusOK, check: equals("user_id", "@bridgebot:"+f.ServerName)},
		{name: "namespaced user", method: http.MethodGet, path: q("user_id", puppet.ID), token: bridgeToken,
			status: http.StatusOK, check: equals("user_id", puppet.ID)},
		{name: "namespaced user's device", method: http.MethodGet, path: q("user_id", puppet.ID, "device_id", puppet.Device),
			token: bridgeToken, status: http.StatusOK, check: equals("device_id", puppet.Device)},
		{name: "MSC4326 unstable device parameter", method: http.MethodGet,
			path: q("user_id", puppet.ID, "org.matrix.msc3202.device_id", puppet.Device), token: bridgeToken,
			status: http.StatusOK, check: equals("device_id", puppet.Device)},
		{name: "device the user does not have", method: http.MethodGet, path: q("user_id", puppet.ID, "device_id", "NOPE"),
			token: bridgeToken, status: http.StatusBadRequest, errcode: "M_UNKNOWN_DEVICE"},
		{name: "another user's device", method: http.MethodGet, path: q("user_id", puppet.ID, "device_id", alice.Device),
			token: bridgeToken, status: http.StatusBadRequest, errcode: "M_UNKNOWN_DEVICE"},
		{name: "user outside the namespaces", method: http.MethodGet, path: q("user_id", alice.ID), token: bridgeToken,
			status: http.StatusForbidden, errcode: "M_EXCLUSIVE"},
		{name: "namespaced user not registered", method: http.MethodGet, path: q("user_id", "@_br_ghost:"+f.ServerName),
			token: bridgeToken, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "user of another server", method: http.MethodGet, path: q("user_id", "@_br_x:other.example"),
			token: bridgeToken, status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "non-exclusive namespace", method: http.MethodGet, path: "/account/whoami", token: limitedTok,
			status: http.StatusOK, check: equals("user_id", "@limitedbot:"+f.ServerName)},
		{name: "user_id ignored for an ordinary token", method: http.MethodGet, path: q("user_id", puppet.ID),
			token: alice.Token, status: http.StatusOK, check: equals("user_id", alice.ID)},
		{name: "unknown token still unknown", method: http.MethodGet, path: "/account/whoami", token: "as-token-nope",
			status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
	})
}

func TestAppServiceRegistration(t *testing.T) {
	f := newAppServiceServer(t, nil)
	f.User(t, "_br_taken")
	asReg := func(user string, inhibit bool) map[string]any {
		return map[string]any{"type": "m.login.application_service", "username": user, "inhibit_login": inhibit}
	}
	run(t, f, []call{
		{name: "namespaced user, inhibit_login", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: asReg("_br_bob", true), status: http.StatusOK, check: equals("user_id", "@_br_bob:"+f.ServerName)},
		{name: "namespaced user with a session", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: asReg("brx_carol", false), status: http.StatusOK, check: hasKeys("access_token", "device_id")},
		{name: "taken", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: asReg("_br_taken", true), status: http.StatusBadRequest, errcode: "M_USER_IN_USE"},
		{name: "outside the namespaces", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: asReg("dave", true), status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "in another service's exclusive namespace", method: http.MethodPost, path: "/register", token: limitedTok,
			body: asReg("_br_eve", true), status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "without username", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: map[string]any{"type": "m.login.application_service"}, status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "bad username", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: asReg("_br_ Bad", true), status: http.StatusBadRequest, errcode: "M_INVALID_USERNAME"},
		{name: "as_token without the type", method: http.MethodPost, path: "/register", token: bridgeToken,
			body: map[string]any{"username": "_br_frank"}, status: http.StatusBadRequest, errcode: "M_UNKNOWN"},
		{name: "type without a token", method: http.MethodPost, path: "/register",
			body: asReg("_br_gina", true), status: http.StatusUnauthorized, errcode: "M_MISSING_TOKEN"},
		{name: "type with an unknown token", method: http.MethodPost, path: "/register", token: "nope",
			body: asReg("_br_gina", true), status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
		{name: "ordinary registration in an exclusive namespace", method: http.MethodPost, path: "/register",
			body:   map[string]any{"username": "brx_henry", "password": "a-long-password"},
			status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "availability in an exclusive namespace", method: http.MethodGet, path: "/register/available?username=brx_henry",
			status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "ordinary registration in a shared namespace", method: http.MethodGet, path: "/register/available?username=shared_ivy",
			status: http.StatusOK},
	})
}

func TestAppServiceLogin(t *testing.T) {
	f := newAppServiceServer(t, nil)
	puppet := f.User(t, "_br_puppet")
	f.User(t, "alice")
	login := func(user string) map[string]any {
		return map[string]any{"type": "m.login.application_service",
			"identifier": map[string]any{"type": "m.id.user", "user": user}}
	}
	run(t, f, []call{
		{name: "flows list it", method: http.MethodGet, path: "/login", status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				if !strings.Contains(string(r.Body), `"m.login.application_service"`) {
					t.Fatalf("flows without m.login.application_service: %s", r.Body)
				}
			}},
		{name: "namespaced user", method: http.MethodPost, path: "/login", token: bridgeToken, body: login(puppet.ID),
			status: http.StatusOK, check: equals("user_id", puppet.ID)},
		{name: "namespaced localpart", method: http.MethodPost, path: "/login", token: bridgeToken, body: login("_br_puppet"),
			status: http.StatusOK, check: hasKeys("access_token", "device_id")},
		{name: "outside the namespaces", method: http.MethodPost, path: "/login", token: bridgeToken, body: login("alice"),
			status: http.StatusForbidden, errcode: "M_EXCLUSIVE"},
		{name: "not registered", method: http.MethodPost, path: "/login", token: bridgeToken, body: login("_br_ghost"),
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "without a token", method: http.MethodPost, path: "/login", body: login("_br_puppet"),
			status: http.StatusUnauthorized, errcode: "M_MISSING_TOKEN"},
		{name: "with a user's token", method: http.MethodPost, path: "/login", token: puppet.Token, body: login("_br_puppet"),
			status: http.StatusUnauthorized, errcode: "M_UNKNOWN_TOKEN"},
	})
}

func TestAppServiceAliasesAndTimestamps(t *testing.T) {
	f := newAppServiceServer(t, nil)
	alice := f.User(t, "alice")
	puppet := f.User(t, "_br_puppet")
	room := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, puppet, room)
	asAlias := "/directory/room/" + url.PathEscape("#brx_room:"+f.ServerName)
	send := "/rooms/" + url.PathEscape(room) + "/send/m.room.message/"
	asUser := "user_id=" + url.QueryEscape(puppet.ID)
	msg := map[string]any{"msgtype": "m.text", "body": "hi"}
	wantTS := func(ts int64) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			t.Helper()
			ev, err := f.Rooms.Event(context.Background(), r.JSON()["event_id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			var pdu struct {
				TS int64 `json:"origin_server_ts"`
			}
			if err := json.Unmarshal(ev.PDU, &pdu); err != nil {
				t.Fatal(err)
			}
			if (ts != 0 && pdu.TS != ts) || (ts == 0 && (pdu.TS < 1_700_000_000_000 || pdu.TS == 1234567890999)) {
				t.Fatalf("origin_server_ts = %d, want %d (0: now)", pdu.TS, ts)
			}
		}
	}
	run(t, f, []call{
		{name: "alias in an exclusive namespace, ordinary user", method: http.MethodPut, path: asAlias, token: alice.Token,
			body: map[string]any{"room_id": room}, status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "alias in an exclusive namespace, its service", method: http.MethodPut, path: asAlias + "?" + asUser,
			token: bridgeToken, body: map[string]any{"room_id": room}, status: http.StatusOK},
		{name: "createRoom with an alias in an exclusive namespace, ordinary user", method: http.MethodPost, path: "/createRoom",
			token: alice.Token, body: map[string]any{"room_alias_name": "brx_new"}, status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "createRoom with an alias in an exclusive namespace, its service", method: http.MethodPost, path: "/createRoom",
			token: bridgeToken, body: map[string]any{"room_alias_name": "brx_new"}, status: http.StatusOK, check: hasKeys("room_id")},
		{name: "alias in an exclusive namespace, another service", method: http.MethodPut,
			path: "/directory/room/" + url.PathEscape("#brx_other:"+f.ServerName), token: limitedTok,
			body: map[string]any{"room_id": room}, status: http.StatusBadRequest, errcode: "M_EXCLUSIVE"},
		{name: "send with ts", method: http.MethodPut, path: send + "t1?ts=1234567890123&" + asUser, token: bridgeToken,
			body: msg, status: http.StatusOK, check: wantTS(1234567890123)},
		{name: "state with ts", method: http.MethodPut,
			path:  "/rooms/" + url.PathEscape(room) + "/state/m.room.topic?ts=1234567890999&user_id=" + url.QueryEscape(alice.ID),
			token: alice.Token, body: map[string]any{"topic": "now"}, status: http.StatusOK, check: wantTS(0)},
		{name: "ts ignored for an ordinary user", method: http.MethodPut, path: send + "t2?ts=1234567890123", token: alice.Token,
			body: msg, status: http.StatusOK, check: wantTS(0)},
		{name: "bad ts", method: http.MethodPut, path: send + "t3?ts=yesterday&" + asUser, token: bridgeToken,
			body: msg, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "negative ts", method: http.MethodPut, path: send + "t4?ts=-5&" + asUser, token: bridgeToken,
			body: msg, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
	})
}

func TestAppServicePing(t *testing.T) {
	// The bridge: answers a ping with its hs_token, refuses one whose
	// transaction ID is "refuse".
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			TransactionID string `json:"transaction_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		switch {
		case r.URL.Path != "/_matrix/app/v1/ping" || r.Method != http.MethodPost:
			w.WriteHeader(http.StatusNotFound)
		case r.Header.Get("Authorization") != "Bearer hs1" || body.TransactionID == "refuse":
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errcode":"M_FORBIDDEN"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	t.Cleanup(as.Close)
	bridgeURL := as.URL + "/"
	f := newAppServiceServer(t, &bridgeURL)
	alice := f.User(t, "alice")
	ping := func(id string) string { return "/_matrix/client/v1/appservice/" + id + "/ping" }
	run(t, f, []call{
		{name: "ok", method: http.MethodPost, path: ping("bridge"), token: bridgeToken,
			body: map[string]any{"transaction_id": "t1"}, status: http.StatusOK, check: hasKeys("duration_ms")},
		{name: "refused by the service", method: http.MethodPost, path: ping("bridge"), token: bridgeToken,
			body: map[string]any{"transaction_id": "refuse"}, status: http.StatusBadGateway, errcode: "M_BAD_STATUS",
			check: func(t *testing.T, r *fixture.Response) {
				if m := r.JSON(); m["status"] != float64(403) || m["body"] != `{"errcode":"M_FORBIDDEN"}` {
					t.Fatalf("status and body not passed on: %s", r.Body)
				}
			}},
		{name: "no URL", method: http.MethodPost, path: ping("limited"), token: limitedTok, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_URL_NOT_SET"},
		{name: "another service", method: http.MethodPost, path: ping("bridge"), token: limitedTok, body: map[string]any{},
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "unknown service", method: http.MethodPost, path: ping("nope"), token: bridgeToken, body: map[string]any{},
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "a user", method: http.MethodPost, path: ping("bridge"), token: alice.Token, body: map[string]any{},
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "bad body", method: http.MethodPost, path: ping("bridge"), token: bridgeToken, body: "[1]",
			status: http.StatusBadRequest, errcode: "M_BAD_JSON"},
	})
	as.Close()
	run(t, f, []call{
		{name: "service down", method: http.MethodPost, path: ping("bridge"), token: bridgeToken, body: map[string]any{},
			status: http.StatusBadGateway, errcode: "M_CONNECTION_FAILED"},
	})
}

func TestAppServiceAliasQuery(t *testing.T) {
	var f *fixture.Fixture
	var portal, puppetID string
	queries := make(chan string, 10)
	// The bridge: asked about #brx_portal, it maps the portal room to it
	// through the client API before answering 200; other aliases are 404.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		alias, _ := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/rooms/")
		queries <- alias
		if r.Header.Get("Authorization") != "Bearer hs1" || alias != "#brx_portal:"+f.ServerName {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		res := f.Do(t, http.MethodPut, "/_matrix/client/v3/directory/room/"+url.PathEscape(alias)+"?user_id="+url.QueryEscape(puppetID),
			bridgeToken, map[string]any{"room_id": portal})
		if res.Status != http.StatusOK {
			t.Errorf("the bridge could not create %s: %d %s", alias, res.Status, res.Body)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(as.Close)
	f = newAppServiceServer(t, &as.URL)
	alice := f.User(t, "alice")
	puppet := f.User(t, "_br_puppet")
	puppetID = puppet.ID
	portal = f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "public_chat"})
	f.Join(t, puppet, portal)
	dir := func(alias string) string { return "/directory/room/" + url.PathEscape(alias+":"+f.ServerName) }
	run(t, f, []call{
		{name: "created by the bridge when asked", method: http.MethodGet, path: dir("#brx_portal"), token: alice.Token,
			status: http.StatusOK, check: equals("room_id", portal)},
		{name: "then found without asking", method: http.MethodGet, path: dir("#brx_portal"), status: http.StatusOK,
			check: equals("room_id", portal)},
		{name: "refused by the bridge", method: http.MethodGet, path: dir("#brx_nothing"), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "outside the namespaces", method: http.MethodGet, path: dir("#elsewhere"), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
	})
	mustHaveAsked(t, queries, "#brx_portal:"+f.ServerName, "#brx_nothing:"+f.ServerName)
}

func TestAppServiceUserQuery(t *testing.T) {
	var f *fixture.Fixture
	queries := make(chan string, 10)
	// The bridge: asked about @_br_known, it registers the user before
	// answering 200; other users are 404.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := strings.CutPrefix(r.URL.Path, "/_matrix/app/v1/users/")
		queries <- user
		local, _, _ := strings.Cut(strings.TrimPrefix(user, "@"), ":")
		if r.Header.Get("Authorization") != "Bearer hs1" || user != "@"+local+":"+f.ServerName ||
			(local != "_br_known" && local != "_br_invited" && local != "_br_listed") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		res := f.Do(t, http.MethodPost, "/_matrix/client/v3/register", bridgeToken,
			map[string]any{"type": "m.login.application_service", "username": local, "inhibit_login": true})
		if res.Status != http.StatusOK {
			t.Errorf("the bridge could not register %s: %d %s", user, res.Status, res.Body)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(as.Close)
	f = newAppServiceServer(t, &as.URL)
	profile := func(user string) string { return "/profile/" + url.PathEscape(user+":"+f.ServerName) }
	alice := f.User(t, "alice")
	room := f.Room(t, alice)
	invite := func(user string) map[string]any { return map[string]any{"user_id": user + ":" + f.ServerName} }
	run(t, f, []call{
		{name: "registered by the bridge when asked", method: http.MethodGet, path: profile("@_br_known"), status: http.StatusOK},
		{name: "then found without asking", method: http.MethodGet, path: profile("@_br_known"), status: http.StatusOK},
		{name: "refused by the bridge", method: http.MethodGet, path: profile("@_br_unknown"), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "outside the namespaces", method: http.MethodGet, path: profile("@nobody"), status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		// An invite of a user the bridge has not registered yet asks it
		// first (spec: "Querying"), so the invite finds the user.
		{name: "invited after the bridge registers the user", method: http.MethodPost, path: "/rooms/" + room + "/invite",
			token: alice.Token, body: invite("@_br_invited"), status: http.StatusOK},
		{name: "the invited user exists", method: http.MethodGet, path: profile("@_br_invited"), status: http.StatusOK},
		{name: "an existing user is invited without asking", method: http.MethodPost, path: "/rooms/" + room + "/invite",
			token: alice.Token, body: invite("@_br_known"), status: http.StatusOK},
		{name: "a room's invite list asks too", method: http.MethodPost, path: "/createRoom", token: alice.Token,
			body: map[string]any{"invite": []string{"@_br_listed:" + f.ServerName}}, status: http.StatusOK},
		{name: "the listed user exists", method: http.MethodGet, path: profile("@_br_listed"), status: http.StatusOK},
	})
	mustHaveAsked(t, queries, "@_br_known:"+f.ServerName, "@_br_unknown:"+f.ServerName, "@_br_invited:"+f.ServerName,
		"@_br_listed:"+f.ServerName)
	if m, err := f.Rooms.Membership(context.Background(), room, "@_br_invited:"+f.ServerName); err != nil || m != "invite" {
		t.Fatalf("the bridge's user is %q in the room (%v), want invited", m, err)
	}
}

func TestAppServiceThirdParty(t *testing.T) {
	// The bridge of the "fakenet" protocol, with one instance, one channel
	// (#lobby) and one user (ann).
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "Bearer hs1" || q.Get("access_token") != "" || q.Get("user_id") != "" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch {
		case r.URL.Path == "/_matrix/app/v1/thirdparty/protocol/fakenet":
			_, _ = w.Write([]byte(`{"user_fields":["nick"],"location_fields":["channel"],"icon":"mxc://x/y",` +
				`"field_types":{},"instances":[{"desc":"Fake","network_id":"fake1","fields":{}}]}`))
		case r.URL.Path == "/_matrix/app/v1/thirdparty/location/fakenet" && q.Get("channel") == "#lobby":
			_, _ = w.Write([]byte(`[{"alias":"#brx_lobby:test.local","protocol":"fakenet","fields":{"channel":"#lobby"}}]`))
		case r.URL.Path == "/_matrix/app/v1/thirdparty/user/fakenet" && q.Get("nick") == "ann":
			_, _ = w.Write([]byte(`[{"userid":"@_br_ann:test.local","protocol":"fakenet","fields":{"nick":"ann"}}]`))
		case r.URL.Path == "/_matrix/app/v1/thirdparty/location" && q.Get("alias") == "#brx_lobby:test.local":
			_, _ = w.Write([]byte(`[{"alias":"#brx_lobby:test.local","protocol":"fakenet","fields":{"channel":"#lobby"}}]`))
		case r.URL.Path == "/_matrix/app/v1/thirdparty/user" && q.Get("userid") == "@_br_ann:test.local":
			_, _ = w.Write([]byte(`[{"userid":"@_br_ann:test.local","protocol":"fakenet","fields":{"nick":"ann"}}]`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(as.Close)
	f := newAppServiceServer(t, &as.URL)
	alice := f.User(t, "alice")
	tp := "/thirdparty"
	list := func(n int) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			var l []map[string]any
			r.Decode(t, &l)
			if len(l) != n || l[0]["protocol"] != "fakenet" {
				t.Fatalf("want %d results of fakenet: %s", n, r.Body)
			}
		}
	}
	run(t, f, []call{
		{name: "protocols", method: http.MethodGet, path: tp + "/protocols", token: alice.Token, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				var m map[string]struct {
					Instances []map[string]any `json:"instances"`
				}
				r.Decode(t, &m)
				if len(m) != 1 || len(m["fakenet"].Instances) != 1 || m["fakenet"].Instances[0]["instance_id"] != "bridge|fake1" {
					t.Fatalf("protocols = %s", r.Body)
				}
			}},
		{name: "protocol", method: http.MethodGet, path: tp + "/protocol/fakenet", token: alice.Token, status: http.StatusOK,
			check: hasKeys("user_fields", "location_fields", "instances")},
		{name: "unknown protocol", method: http.MethodGet, path: tp + "/protocol/irc", token: alice.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "location", method: http.MethodGet, path: tp + "/location/fakenet?channel=%23lobby", token: alice.Token,
			status: http.StatusOK, check: list(1)},
		{name: "no such location", method: http.MethodGet, path: tp + "/location/fakenet?channel=%23nope", token: alice.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "location of an unknown protocol", method: http.MethodGet, path: tp + "/location/irc?channel=x", token: alice.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "user", method: http.MethodGet, path: tp + "/user/fakenet?nick=ann&access_token=" + alice.Token,
			status: http.StatusOK, check: list(1)},
		{name: "reverse location", method: http.MethodGet, path: tp + "/location?alias=" + url.QueryEscape("#brx_lobby:test.local"),
			token: alice.Token, status: http.StatusOK, check: list(1)},
		{name: "reverse user", method: http.MethodGet, path: tp + "/user?userid=" + url.QueryEscape("@_br_ann:test.local"),
			token: alice.Token, status: http.StatusOK, check: list(1)},
		{name: "reverse user not found", method: http.MethodGet, path: tp + "/user?userid=" + url.QueryEscape("@x:test.local"),
			token: alice.Token, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "reverse without the parameter", method: http.MethodGet, path: tp + "/location", token: alice.Token,
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "needs a token", method: http.MethodGet, path: tp + "/protocols", status: http.StatusUnauthorized,
			errcode: "M_MISSING_TOKEN"},
	})
}

func TestAppServiceNetworkDirectory(t *testing.T) {
	f := newAppServiceServer(t, nil)
	alice := f.User(t, "alice")
	name := "fake lobby"
	portal := f.Room(t, alice, roomapi.CreateRoomRequest{Preset: "private_chat", Name: &name})
	list := "/directory/list/appservice/fake1/" + url.PathEscape(portal)
	rooms := func(want ...string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			var page struct {
				Chunk []struct {
					RoomID string `json:"room_id"`
				} `json:"chunk"`
			}
			r.Decode(t, &page)
			var got []string
			for _, c := range page.Chunk {
				got = append(got, c.RoomID)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("rooms %v, want %v", got, want)
			}
		}
	}
	public := map[string]any{"visibility": "public"}
	run(t, f, []call{
		{name: "a user may not", method: http.MethodPut, path: list, token: alice.Token, body: public,
			status: http.StatusForbidden, errcode: "M_FORBIDDEN"},
		{name: "no visibility", method: http.MethodPut, path: list, token: bridgeToken, body: map[string]any{},
			status: http.StatusBadRequest, errcode: "M_MISSING_PARAM"},
		{name: "bad visibility", method: http.MethodPut, path: list, token: bridgeToken, body: map[string]any{"visibility": "x"},
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "unknown room", method: http.MethodPut, path: "/directory/list/appservice/fake1/" + url.PathEscape("!nope:test.local"),
			token: bridgeToken, body: public, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "publish", method: http.MethodPut, path: list, token: bridgeToken, body: public, status: http.StatusOK},
		{name: "the network's directory", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{"third_party_instance_id": "bridge|fake1"}, status: http.StatusOK, check: rooms(portal)},
		{name: "the network's directory, searched", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body:   map[string]any{"third_party_instance_id": "bridge|fake1", "filter": map[string]any{"generic_search_term": "LOBBY"}},
			status: http.StatusOK, check: rooms(portal)},
		{name: "the network's directory, searched for nothing", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body:   map[string]any{"third_party_instance_id": "bridge|fake1", "filter": map[string]any{"generic_search_term": "zzz"}},
			status: http.StatusOK, check: rooms()},
		{name: "another network", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{"third_party_instance_id": "bridge|fake2"}, status: http.StatusOK, check: rooms()},
		{name: "bad since", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{"third_party_instance_id": "bridge|fake1", "since": "x"}, status: http.StatusBadRequest,
			errcode: "M_INVALID_PARAM"},
		{name: "the server's own directory", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{}, status: http.StatusOK, check: rooms()},
		{name: "all networks", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{"include_all_networks": true}, status: http.StatusOK, check: rooms(portal)},
		{name: "withdraw", method: http.MethodPut, path: list, token: bridgeToken, body: map[string]any{"visibility": "private"},
			status: http.StatusOK},
		{name: "withdrawn", method: http.MethodPost, path: "/publicRooms", token: alice.Token,
			body: map[string]any{"third_party_instance_id": "bridge|fake1"}, status: http.StatusOK, check: rooms()},
	})
}

// mustHaveAsked closes queries and checks that the bridge was asked about
// want, in that order and nothing else.
func mustHaveAsked(t *testing.T, queries chan string, want ...string) {
	t.Helper()
	close(queries)
	var asked []string
	for q := range queries {
		asked = append(asked, q)
	}
	if strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Fatalf("the bridge was asked about %v, want %v", asked, want)
	}
}

// TestAppServiceDeviceManagement: a service creates and deletes its users'
// devices without logins or user-interactive auth (spec: application
// service API, "Device management"); one with io.element.msc4190 may not
// log in as its users and gets no access tokens (MSC4190).
func TestAppServiceDeviceManagement(t *testing.T) {
	f := newAppServiceServer(t, nil)
	puppet := f.User(t, "_br_puppet")
	alice := f.User(t, "alice")
	managed := f.User(t, "_mgd_mia")
	as := func(path string) string { return path + "?user_id=" + url.QueryEscape(puppet.ID) }
	name := map[string]any{"display_name": "Bridge device"}
	run(t, f, []call{
		{name: "created when missing", method: http.MethodPut, path: as("/devices/BRIDGEDEV"), token: bridgeToken,
			body: name, status: http.StatusCreated},
		{name: "then there", method: http.MethodGet, path: as("/devices/BRIDGEDEV"), token: bridgeToken,
			status: http.StatusOK, check: equals("display_name", "Bridge device")},
		{name: "the service acts as it", method: http.MethodGet, path: as("/account/whoami") + "&device_id=BRIDGEDEV",
			token: bridgeToken, status: http.StatusOK, check: equals("device_id", "BRIDGEDEV")},
		{name: "an existing one is updated", method: http.MethodPut, path: as("/devices/BRIDGEDEV"), token: bridgeToken,
			body: map[string]any{"display_name": "Renamed"}, status: http.StatusOK},
		{name: "a device ID too long", method: http.MethodPut, path: as("/devices/" + strings.Repeat("D", 256)),
			token: bridgeToken, body: name, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "users cannot create devices so", method: http.MethodPut, path: "/devices/ALICEDEV", token: alice.Token,
			body: name, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "deleted without auth", method: http.MethodDelete, path: as("/devices/BRIDGEDEV"), token: bridgeToken,
			body: map[string]any{}, status: http.StatusOK},
		{name: "gone", method: http.MethodGet, path: as("/devices/BRIDGEDEV"), token: bridgeToken,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "users still need auth", method: http.MethodDelete, path: "/devices/" + alice.Device, token: alice.Token,
			body: map[string]any{}, status: http.StatusUnauthorized},
		{name: "bulk create", method: http.MethodPut, path: as("/devices/BULK1"), token: bridgeToken, body: name,
			status: http.StatusCreated},
		{name: "bulk deleted without auth", method: http.MethodPost, path: as("/delete_devices"), token: bridgeToken,
			body: map[string]any{"devices": []string{"BULK1", puppet.Device}}, status: http.StatusOK},
		{name: "users' bulk deletes still need auth", method: http.MethodPost, path: "/delete_devices", token: alice.Token,
			body: map[string]any{"devices": []string{alice.Device}}, status: http.StatusUnauthorized},
		{name: "an MSC4190 service may not log in", method: http.MethodPost, path: "/login", token: managedTok,
			body: map[string]any{"type": "m.login.application_service",
				"identifier": map[string]any{"type": "m.id.user", "user": managed.ID}},
			status: http.StatusBadRequest, errcode: "M_APPSERVICE_LOGIN_UNSUPPORTED"},
		{name: "an MSC4190 service registers without a token", method: http.MethodPost, path: "/register", token: managedTok,
			body:   map[string]any{"type": "m.login.application_service", "username": "_mgd_max"},
			status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				if m := r.JSON(); m["user_id"] != "@_mgd_max:"+f.ServerName || m["access_token"] != nil || m["device_id"] != nil {
					t.Fatalf("registration answered %s, want the user and no session", r.Body)
				}
			}},
	})
	devs, err := f.Users.Devices(context.Background(), "_br_puppet")
	if err != nil || len(devs) != 0 {
		t.Fatalf("the puppet has devices %v (%v), want none left", devs, err)
	}
}
