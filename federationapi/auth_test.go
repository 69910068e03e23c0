package federationapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

// TestAuthed: every federation endpoint but the key and version ones
// checks the request's X-Matrix signature (spec: server-server API,
// "Request Authentication"). A missing or malformed header, a destination
// other than this server, a key that cannot be had, a signature by another
// key or over another request are 401 M_UNAUTHORIZED; a body that is not
// JSON is 400 M_NOT_JSON before anything else. Of several headers, one
// that verifies is enough.
func TestAuthed(t *testing.T) {
	f := newFed(t)
	f.User(t, "alice")
	const path = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Atest.local"
	const post = "/_matrix/federation/v1/publicRooms"
	impostor := fixture.NewServer(t, "remote.test") // remote.test's name and key ID, another key
	signed := func(t *testing.T) *http.Request {
		return f.remote.Request(t, http.MethodGet, path, serverName, nil)
	}
	withAuth := func(auth ...string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			for _, a := range auth {
				req.Header.Add("Authorization", a)
			}
			return req
		}
	}
	good := signed(t).Header.Get("Authorization")
	tests := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		status  int
		errcode string
	}{
		{"signed by remote.test", signed, http.StatusOK, ""},
		{"no Authorization", withAuth(), http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"a client's token", withAuth("Bearer mya_token"), http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"no signature", withAuth(`X-Matrix origin="remote.test",key="ed25519:fixture"`), http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"origin not a server name", withAuth(strings.Replace(good, `origin="remote.test"`, `origin="bad_name!"`, 1)),
			http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"another destination", func(t *testing.T) *http.Request {
			return f.remote.Request(t, http.MethodGet, path, "other.test", nil)
		}, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"a key that cannot be fetched", func(t *testing.T) *http.Request {
			return fixture.NewServer(t, stranger).Request(t, http.MethodGet, path, serverName, nil)
		}, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"signed with another key", func(t *testing.T) *http.Request {
			return impostor.Request(t, http.MethodGet, path, serverName, nil)
		}, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"signed for another path", func(t *testing.T) *http.Request {
			other := f.remote.Request(t, http.MethodGet, path+"&field=displayname", serverName, nil)
			return withAuth(other.Header.Get("Authorization"))(t)
		}, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"body changed after signing", func(t *testing.T) *http.Request {
			auth := f.remote.Request(t, http.MethodPost, post, serverName, `{"limit":1}`).Header.Get("Authorization")
			req := httptest.NewRequest(http.MethodPost, post, strings.NewReader(`{"limit":2}`))
			req.Header.Set("Authorization", auth)
			return req
		}, http.StatusUnauthorized, "M_UNAUTHORIZED"},
		{"body not JSON", func(t *testing.T) *http.Request {
			return f.remote.Request(t, http.MethodPost, post, serverName, "{not json")
		}, http.StatusBadRequest, "M_NOT_JSON"},
		{"a bad header, then a good one", withAuth(strings.Replace(good, "sig=", "sig=AA", 1), good), http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.DoRequest(t, tc.req(t))
			if tc.errcode == "" {
				res.Want(t, tc.status)
				return
			}
			res.Want(t, tc.status, tc.errcode)
		})
	}
}

// TestUnauthenticated: the version and the well-known delegation answer
// without a signature (spec: GET /_matrix/federation/v1/version,
// /.well-known/matrix/server: 404 when no delegation is configured).
func TestUnauthenticated(t *testing.T) {
	f := newFed(t)
	res := f.Do(t, http.MethodGet, "/_matrix/federation/v1/version", "", nil)
	res.Want(t, http.StatusOK)
	var v struct {
		Server struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"server"`
	}
	res.Decode(t, &v)
	if v.Server.Name != "Myelin" || v.Server.Version != "test" {
		t.Fatalf("version %s", res.Body)
	}
	f.Do(t, http.MethodGet, "/.well-known/matrix/server", "", nil).Want(t, http.StatusNotFound, "M_NOT_FOUND")
	f.Do(t, http.MethodPut, "/_matrix/federation/v1/version", "", nil).Want(t, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
	f.Do(t, http.MethodGet, "/_matrix/federation/v1/nothing", "", nil).Want(t, http.StatusNotFound, "M_UNRECOGNIZED")
}
