package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// TestQueryRefusals: profile, alias and device queries for what is not
// this server's, or not there (spec: GET /_matrix/federation/v1/query/profile,
// /query/directory, /user/devices/{userId}).
func TestQueryRefusals(t *testing.T) {
	f := newFed(t)
	f.User(t, "carol")
	if err := f.Users.Deactivate(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	const profile = "/_matrix/federation/v1/query/profile?user_id="
	const directory = "/_matrix/federation/v1/query/directory?room_alias="
	const devices = "/_matrix/federation/v1/user/devices/"
	f.runRefusals(t, []refusal{
		{name: "profile: no user_id", path: profile, status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "profile: not a user ID", path: profile + "alice", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "profile: another server's user", path: profile + "%40rita%3Aremote.test", status: http.StatusBadRequest,
			errcode: "M_INVALID_PARAM"},
		{name: "profile: no such user", path: profile + "%40nobody%3Atest.local", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "profile: deactivated", path: profile + "%40carol%3Atest.local", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "directory: not an alias", path: directory + "hall", status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "directory: another server's alias", path: directory + "%23hall%3Aremote.test", status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "directory: no such alias", path: directory + "%23nothing%3Atest.local", status: http.StatusNotFound,
			errcode: "M_NOT_FOUND"},
		{name: "devices: not a user ID", path: devices + "alice", status: http.StatusBadRequest, errcode: "M_INVALID_PARAM"},
		{name: "devices: another server's user", path: devices + esc("@rita:remote.test"), status: http.StatusBadRequest,
			errcode: "M_INVALID_PARAM"},
		{name: "devices: no such user", path: devices + esc("@nobody:test.local"), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
		{name: "devices: deactivated", path: devices + esc("@carol:test.local"), status: http.StatusNotFound, errcode: "M_NOT_FOUND"},
	})
}

// TestQueryAnswers: a profile (whole, or one field), an alias's room and
// this server as the one to join through (devices: userkeys_test.go).
func TestQueryAnswers(t *testing.T) {
	f := newFed(t)
	ctx := context.Background()
	alice := f.User(t, "alice")
	if err := f.Users.SetProfileField(ctx, "alice", "displayname", json.RawMessage(`"Alice"`)); err != nil {
		t.Fatal(err)
	}
	room := f.publicRoom(t, alice)
	if err := f.Rooms.CreateAlias(ctx, "#hall:test.local", room, alice.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // the body, as JSON
	}{
		{"profile", "/_matrix/federation/v1/query/profile?user_id=%40alice%3Atest.local", `{"displayname":"Alice"}`},
		{"profile field", "/_matrix/federation/v1/query/profile?user_id=%40alice%3Atest.local&field=displayname",
			`{"displayname":"Alice"}`},
		{"profile field unset", "/_matrix/federation/v1/query/profile?user_id=%40alice%3Atest.local&field=avatar_url", `{}`},
		{"alias", "/_matrix/federation/v1/query/directory?room_alias=%23hall%3Atest.local",
			`{"room_id":` + quote(room) + `,"servers":["test.local"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.DoSigned(t, f.remote, http.MethodGet, tc.path, nil)
			res.Want(t, http.StatusOK)
			wantJSON(t, res.Body, tc.want)
		})
	}
}

// wantJSON checks that got and want are the same JSON value.
func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("body %s, want %s", gb, wb)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
