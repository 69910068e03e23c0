package admin_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/myelin-im/myelin/test/fixture"
)

var regTokenKeys = []string{"token", "uses_allowed", "pending", "completed", "expiry_time"}

// regToken checks a registration token object: its keys, its token and uses_allowed.
func regToken(token *string, uses any) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		m := r.JSON()
		hasKeys(t, m, regTokenKeys...)
		if *token == "" {
			*token, _ = m["token"].(string)
		}
		if m["token"] != *token || m["uses_allowed"] != uses || m["pending"] != float64(0) {
			t.Fatalf("body %s", r.Body)
		}
	}
}

func TestRegistrationTokens(t *testing.T) {
	s := newServer(t, nil)
	named, random, short := "defg", "", ""
	later := time.Now().Add(time.Hour).UnixMilli()
	tokens := func(want ...string) func(t *testing.T, r *fixture.Response) {
		return func(t *testing.T, r *fixture.Response) {
			ts := list(t, r.JSON(), "registration_tokens")
			if len(ts) != len(want) {
				t.Fatalf("body %s", r.Body)
			}
			for i, tok := range ts {
				o, _ := tok.(map[string]any)
				hasKeys(t, o, regTokenKeys...)
				if o["token"] != want[i] {
					t.Fatalf("token %d: %v", i, o)
				}
			}
		}
	}
	run(t, s, []call{
		{name: "new with defaults", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				regToken(&random, nil)(t, r)
				if !regexp.MustCompile(`^[A-Za-z0-9._~-]{16}$`).MatchString(random) || r.JSON()["expiry_time"] != nil {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "new with a length", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"length": 5}, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				regToken(&short, nil)(t, r)
				if len(short) != 5 {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "new, named, one use", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"token": named, "uses_allowed": 1}, status: http.StatusOK, check: regToken(&named, float64(1))},
		{name: "the same again", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"token": named}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "a bad token", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"token": "a b"}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "a bad length", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"length": 65}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "negative uses", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"uses_allowed": -1}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "expiry in the past", method: http.MethodPost, path: "/v1/registration_tokens/new", token: s.Root.Token,
			body: map[string]any{"expiry_time": 1000}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "get", method: http.MethodGet, path: "/v1/registration_tokens/" + named, token: s.Root.Token,
			status: http.StatusOK, check: regToken(&named, float64(1))},
		{name: "get a missing one", method: http.MethodGet, path: "/v1/registration_tokens/nope", token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
	// Registration sees what the admin API made.
	if ok, err := s.Users.RegistrationTokenValid(t.Context(), named); err != nil || !ok {
		t.Fatalf("%s valid for registration: %v %v", named, ok, err)
	}
	run(t, s, []call{
		{name: "list all", method: http.MethodGet, path: "/v1/registration_tokens", token: s.Root.Token,
			status: http.StatusOK, check: tokens(random, short, named)},
		{name: "used up: uses_allowed 0", method: http.MethodPut, path: "/v1/registration_tokens/" + short, token: s.Root.Token,
			body: map[string]any{"uses_allowed": 0, "expiry_time": later}, status: http.StatusOK,
			check: func(t *testing.T, r *fixture.Response) {
				regToken(&short, float64(0))(t, r)
				if r.JSON()["expiry_time"] != float64(later) {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "null clears expiry, uses kept", method: http.MethodPut, path: "/v1/registration_tokens/" + short, token: s.Root.Token,
			body: map[string]any{"expiry_time": nil}, status: http.StatusOK, check: func(t *testing.T, r *fixture.Response) {
				regToken(&short, float64(0))(t, r)
				if r.JSON()["expiry_time"] != nil {
					t.Fatalf("body %s", r.Body)
				}
			}},
		{name: "update with a bad value", method: http.MethodPut, path: "/v1/registration_tokens/" + short, token: s.Root.Token,
			body: map[string]any{"uses_allowed": "many"}, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "update a missing one", method: http.MethodPut, path: "/v1/registration_tokens/nope", token: s.Root.Token,
			body: map[string]any{}, status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "valid ones", method: http.MethodGet, path: "/v1/registration_tokens?valid=true", token: s.Root.Token,
			status: http.StatusOK, check: tokens(random, named)},
		{name: "invalid ones", method: http.MethodGet, path: "/v1/registration_tokens?valid=false", token: s.Root.Token,
			status: http.StatusOK, check: tokens(short)},
		{name: "bad valid", method: http.MethodGet, path: "/v1/registration_tokens?valid=maybe", token: s.Root.Token,
			status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "delete", method: http.MethodDelete, path: "/v1/registration_tokens/" + named, token: s.Root.Token,
			status: http.StatusOK, check: wantJSON(`{}`)},
		auditEntry(s, named, http.MethodDelete, "/v1/registration_tokens/"+named, http.StatusOK, ""),
		{name: "delete again", method: http.MethodDelete, path: "/v1/registration_tokens/" + named, token: s.Root.Token,
			status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
	for tok, want := range map[string]bool{named: false, short: false, random: true} {
		if ok, err := s.Users.RegistrationTokenValid(t.Context(), tok); err != nil || ok != want {
			t.Fatalf("%s valid for registration: %v %v, want %v", tok, ok, err, want)
		}
	}
}
