package federationapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestQueryRemoteKeys: other servers' users' keys are asked of their
// servers (spec: POST /_matrix/federation/v1/user/keys/query), a server
// that cannot be reached is a failure under its name, and a user's cached
// device list is used instead while fresh and the user shares a room with
// this server (their server sends updates only then).
func TestQueryRemoteKeys(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	rita := remoteUser("rita")
	ritaKeys := `{"DEV":{"user_id":"@rita:remote.test","device_id":"DEV","keys":{"curve25519:DEV":"r"}}}`
	remote.answer(http.StatusOK, `{"device_keys":{"@rita:remote.test":`+ritaKeys+`},"master_keys":{"@rita:remote.test":{"k":1}}}`)
	query := map[string][]string{rita: {}, "@sam:" + stranger: {}}
	steps := []struct {
		name      string
		prepare   func(t *testing.T)
		wantAsked int
	}{
		{"first query asks the server", func(*testing.T) {}, 1},
		{"a list not kept fresh is asked again", func(*testing.T) {}, 1},
		{"a fresh list of a user sharing a room is served from the cache", func(t *testing.T) {
			f.joinRemote(t, f.publicRoom(t, f.User(t, "alice")), rita)
			lists, err := f.Users.RemoteDeviceLists(ctx, []string{rita})
			if err != nil || len(lists) != 1 {
				t.Fatalf("cached %v, %v", lists, err)
			}
			l := lists[rita]
			l.Fresh = true
			if err := f.Users.SetRemoteDeviceList(ctx, l, false); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.prepare(t)
			remote.answer(http.StatusOK, `{"device_keys":{"@rita:remote.test":`+ritaKeys+`},"master_keys":{"@rita:remote.test":{"k":1}}}`)
			got, err := f.api.QueryRemoteKeys(ctx, query, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(remote.asked()); n != st.wantAsked {
				t.Fatalf("asked remote.test %d times, want %d", n, st.wantAsked)
			}
			b, _ := json.Marshal(got.DeviceKeys[rita])
			wantJSON(t, b, ritaKeys)
			b, _ = json.Marshal(got.MasterKeys[rita])
			wantJSON(t, b, `{"k":1}`)
			if _, ok := got.Failures[stranger]; !ok || len(got.Failures) != 1 {
				t.Fatalf("failures %v, want %s only", got.Failures, stranger)
			}
		})
	}
}

// TestClaimRemoteKeys: one-time keys of other servers' users are claimed
// from their servers (spec: POST /_matrix/federation/v1/user/keys/claim);
// a refusal is a failure with the server's status.
func TestClaimRemoteKeys(t *testing.T) {
	f, remote := newFedAnswering(t)
	ctx := context.Background()
	claim := map[string]map[string]string{remoteUser("rita"): {"DEV": "signed_curve25519"}}
	tests := []struct {
		name        string
		status      int
		body        string
		wantKeys    string
		wantFailure int
	}{
		{"claimed", http.StatusOK, `{"one_time_keys":{"@rita:remote.test":{"DEV":{"signed_curve25519:A":{"key":"x"}}}}}`,
			`{"@rita:remote.test":{"DEV":{"signed_curve25519:A":{"key":"x"}}}}`, 0},
		{"refused", http.StatusForbidden, `{"errcode":"M_FORBIDDEN","error":"no"}`, `{}`, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote.answer(tc.status, tc.body)
			keys, failures, err := f.api.ClaimRemoteKeys(ctx, claim, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(keys)
			wantJSON(t, b, tc.wantKeys)
			if got := failures["remote.test"].Status; got != tc.wantFailure {
				t.Fatalf("failure status %d, want %d", got, tc.wantFailure)
			}
		})
	}
}
