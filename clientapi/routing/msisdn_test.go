package routing_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

const (
	submitToken  = "/_matrix/client/unstable/im.myelin/msisdn/submit_token"
	loginRequest = "/_matrix/client/unstable/im.myelin/msisdn/login/requestToken"
)

func tokenRequest(country, number string) map[string]any {
	return map[string]any{"client_secret": "s3cret", "country": country, "phone_number": number, "send_attempt": 1}
}

// TestMsisdnBadInput: each malformed request to the phone endpoints gets
// its error and starts nothing.
func TestMsisdnBadInput(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	without := func(key string) map[string]any {
		m := tokenRequest("CN", "13800138000")
		delete(m, key)
		return m
	}
	with := func(key string, v any) map[string]any {
		m := tokenRequest("CN", "13800138000")
		m[key] = v
		return m
	}
	const reg = "/register/msisdn/requestToken"
	run(t, f, []call{
		{"not JSON", "POST", reg, "", `{`, 400, "M_NOT_JSON", nil},
		{"no client_secret", "POST", reg, "", without("client_secret"), 400, "M_MISSING_PARAM", nil},
		{"bad client_secret", "POST", reg, "", with("client_secret", "has space"), 400, "M_INVALID_PARAM", nil},
		{"no country", "POST", reg, "", without("country"), 400, "M_MISSING_PARAM", nil},
		{"no number", "POST", reg, "", without("phone_number"), 400, "M_MISSING_PARAM", nil},
		{"no send_attempt", "POST", reg, "", without("send_attempt"), 400, "M_MISSING_PARAM", nil},
		{"send_attempt not a number", "POST", reg, "", with("send_attempt", "1"), 400, "M_BAD_JSON", nil},
		{"malformed number", "POST", reg, "", tokenRequest("CN", "12"), 400, "M_INVALID_PARAM", nil},
		{"letters", "POST", reg, "", tokenRequest("CN", "phone"), 400, "M_INVALID_PARAM", nil},
		{"unknown country", "POST", reg, "", tokenRequest("QQ", "13800138000"), 400, "M_INVALID_PARAM", nil},
		{"login code for an unbound number", "POST", loginRequest, "", tokenRequest("CN", "13800138000"),
			400, "M_THREEPID_NOT_FOUND", nil},
		{"add: malformed number", "POST", "/account/3pid/msisdn/requestToken", "", tokenRequest("GB", "0"),
			400, "M_INVALID_PARAM", nil},

		{"submit: missing token", "POST", submitToken, "", `{"sid":"x","client_secret":"s3cret"}`, 400, "M_MISSING_PARAM", nil},
		{"submit: unknown sid", "POST", submitToken, "", `{"sid":"nope","client_secret":"s3cret","token":"123456"}`,
			400, "M_NO_VALID_SESSION", nil},

		{"login: no sid", "POST", "/login", "", `{"type":"im.myelin.login.msisdn","client_secret":"s3cret"}`,
			400, "M_MISSING_PARAM", nil},
		{"login: unknown sid", "POST", "/login", "", `{"type":"im.myelin.login.msisdn","sid":"nope","client_secret":"s3cret"}`,
			400, "M_NO_VALID_SESSION", nil},
		{"login: unknown sid with token", "POST", "/login", "",
			`{"type":"im.myelin.login.msisdn","sid":"nope","client_secret":"s3cret","token":"123456"}`, 400, "M_NO_VALID_SESSION", nil},
		{"password login: malformed phone", "POST", "/login", "",
			`{"type":"m.login.password","identifier":{"type":"m.id.phone","country":"CN","phone":"1"},"password":"x"}`,
			400, "M_INVALID_PARAM", nil},
		{"password login: unbound phone", "POST", "/login", "",
			`{"type":"m.login.password","identifier":{"type":"m.id.phone","country":"CN","phone":"13800138000"},"password":"x"}`,
			403, "M_FORBIDDEN", nil},
		{"password login: unbound msisdn", "POST", "/login", "",
			`{"type":"m.login.password","identifier":{"type":"m.id.thirdparty","medium":"msisdn","address":"8613800138000"},` +
				`"password":"x"}`,
			403, "M_FORBIDDEN", nil},

		{"3pids of a new account", "GET", "/account/3pid", alice.Token, nil, 200, "", emptyList("threepids")},
		{"3pids need a token", "GET", "/account/3pid", "", nil, 401, "M_MISSING_TOKEN", nil},
		{"add without sid", "POST", "/account/3pid/add", alice.Token, `{"client_secret":"s3cret"}`, 400, "M_MISSING_PARAM", nil},
		{"add with an unknown session", "POST", "/account/3pid/add", alice.Token, `{"client_secret":"s3cret","sid":"nope"}`,
			400, "M_NO_VALID_SESSION", nil},
		{"delete without address", "POST", "/account/3pid/delete", alice.Token, `{"medium":"msisdn"}`, 400, "M_MISSING_PARAM", nil},
		{"delete a number not held", "POST", "/account/3pid/delete", alice.Token, `{"medium":"msisdn","address":"8613800138000"}`,
			400, "M_THREEPID_NOT_FOUND", nil},
		{"unbind", "POST", "/account/3pid/unbind", alice.Token, `{"medium":"msisdn","address":"8613800138000"}`, 200, "",
			equals("id_server_unbind_result", "no-support")},
		{"3pids unchanged", "GET", "/account/3pid", alice.Token, nil, 200, "", emptyList("threepids")},
	})
}

// TestMsisdnRegistrationModes: the register flows and the register
// requestToken follow user_api.msisdn.registration.
func TestMsisdnRegistrationModes(t *testing.T) {
	for _, tt := range []struct {
		mode, registration string
		flows              [][]string
		requestStatus      int
	}{
		{config.MsisdnOptional, "open", [][]string{{"m.login.dummy"}, {"m.login.msisdn"}}, 0},
		{config.MsisdnRequired, "open", [][]string{{"m.login.msisdn"}}, 0},
		{config.MsisdnOff, "open", [][]string{{"m.login.dummy"}}, 403},
		{config.MsisdnOptional, "token", [][]string{{"m.login.registration_token"}, {"m.login.registration_token", "m.login.msisdn"}}, 0},
		{config.MsisdnOptional, "disabled", nil, 403},
	} {
		t.Run(tt.mode+"/"+tt.registration, func(t *testing.T) {
			f := newServer(t, serverOpts{config: func(c *config.Config) {
				c.UserAPI.Msisdn.Registration = tt.mode
				c.ClientAPI.Registration = tt.registration
			}})
			if tt.flows != nil {
				res := f.Do(t, "POST", clientPath("/register"), "", `{"username":"erin","password":"long enough"}`)
				res.Want(t, 401, "")
				offersFlows(t, res, tt.flows)
			}
			if tt.requestStatus != 0 {
				f.Do(t, "POST", clientPath("/register/msisdn/requestToken"), "", tokenRequest("CN", "13800138000")).
					Want(t, tt.requestStatus, "M_THREEPID_DENIED")
			}
		})
	}
}

// offersFlows checks that a UIA challenge offers exactly flows, in order.
func offersFlows(t *testing.T, r *fixture.Response, flows [][]string) {
	t.Helper()
	var c struct {
		Flows []struct {
			Stages []string `json:"stages"`
		} `json:"flows"`
	}
	r.Decode(t, &c)
	var got [][]string
	for _, f := range c.Flows {
		got = append(got, f.Stages)
	}
	if !reflect.DeepEqual(got, flows) {
		t.Fatalf("flows %v, want %v", got, flows)
	}
}

// emptyList checks that key is an empty JSON array (not null, not absent).
func emptyList(key string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		var m map[string]json.RawMessage
		r.Decode(t, &m)
		if string(m[key]) != "[]" {
			t.Fatalf("%s = %s, want []", key, m[key])
		}
	}
}

// TestMsisdnHandlersFlow drives the phone endpoints through a registration,
// a login by code and a change of number, checking that refused steps write
// nothing.
func TestMsisdnHandlersFlow(t *testing.T) {
	f := newServer(t, serverOpts{})
	const to = "+8613800138030"
	var sid string
	keepSID := func(t *testing.T, r *fixture.Response) {
		t.Helper()
		hasKeys("sid", "submit_url", "msisdn", "intl_fmt")(t, r)
		sid, _ = r.JSON()["sid"].(string)
	}
	submit := func(secret string, code func() string) func() map[string]any {
		return func() map[string]any { return map[string]any{"sid": sid, "client_secret": secret, "token": code()} }
	}
	code := func() string { return f.LastSMS(t, to).Code }
	creds := func(secret string) func() map[string]any {
		return func() map[string]any {
			return map[string]any{"username": "phoebe", "password": "long enough",
				"auth": map[string]any{"type": "m.login.msisdn", "threepid_creds": map[string]string{"sid": sid, "client_secret": secret}}}
		}
	}
	steps := []struct {
		name, method, path string
		body               func() map[string]any
		status             int
		errcode            string
		check              func(t *testing.T, r *fixture.Response)
	}{
		{"request a registration code", "POST", "/register/msisdn/requestToken",
			func() map[string]any { return tokenRequest("CN", "13800138030") }, 200, "", keepSID},
		{"register before the code", "POST", "/register", creds("s3cret"), 401, "M_SESSION_NOT_VALIDATED", nil},
		{"not registered", "GET", "/register/available?username=phoebe", nil, 200, "", nil},
		{"submit with another secret", "POST", submitToken, submit("other", code), 400, "M_NO_VALID_SESSION", nil},
		{"submit a wrong code", "POST", submitToken, submit("s3cret", func() string { return "x" + code() }),
			400, "M_TOKEN_INCORRECT", nil},
		{"submit the code", "POST", submitToken, submit("s3cret", code), 200, "", equals("success", true)},
		{"register with the session of another secret", "POST", "/register", creds("other"), 401, "M_NO_VALID_SESSION", nil},
		{"register", "POST", "/register", creds("s3cret"), 200, "", equals("user_id", "@phoebe:test.local")},
		{"the session is used up", "POST", submitToken, submit("s3cret", code), 400, "M_NO_VALID_SESSION", nil},
		{"request a login code", "POST", loginRequest,
			func() map[string]any { return tokenRequest("CN", "13800138030") }, 200, "", keepSID},
		{"log in with a wrong code", "POST", "/login", func() map[string]any {
			return map[string]any{"type": "im.myelin.login.msisdn", "sid": sid, "client_secret": "s3cret", "token": "x"}
		}, 400, "M_TOKEN_INCORRECT", nil},
		{"log in with the code", "POST", "/login", func() map[string]any {
			return map[string]any{"type": "im.myelin.login.msisdn", "sid": sid, "client_secret": "s3cret", "token": code()}
		}, 200, "", equals("user_id", "@phoebe:test.local")},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var body any
			if s.body != nil {
				body = s.body()
			}
			res := f.Do(t, s.method, clientPath(s.path), "", body)
			res.Want(t, s.status, s.errcode)
			if s.check != nil {
				s.check(t, res)
			}
		})
	}
}
