package routing_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/myelin-im/myelin/test/fixture"
)

const backupAlgorithm = "m.megolm_backup.v1.curve25519-aes-sha2"

// newBackup is the body of POST /room_keys/version.
func newBackup(publicKey string) map[string]any {
	authData := map[string]any{"public_key": publicKey, "signatures": map[string]any{}}
	return map[string]any{"algorithm": backupAlgorithm, "auth_data": authData}
}

// roomKey is a KeyBackupData body.
func roomKey(verified bool, index, forwarded int) map[string]any {
	return map[string]any{
		"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified,
		"session_data": map[string]any{"ephemeral": "e", "ciphertext": fmt.Sprintf("c%v-%d-%d", verified, index, forwarded), "mac": "m"},
	}
}

// backupState checks a RoomKeysUpdateResponse (or a backup's description).
func backupState(etag string, count float64) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		if m := r.JSON(); m["etag"] != etag || m["count"] != count {
			t.Fatalf("etag %v count %v, want %q %v: %s", m["etag"], m["count"], etag, count, r.Body)
		}
	}
}

// TestKeyBackupVersionHandlers covers keybackup.go's /room_keys/version
// endpoints.
func TestKeyBackupVersionHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	update := func(version any, alg string) map[string]any {
		b := map[string]any{"algorithm": alg, "auth_data": map[string]any{"public_key": "new"}}
		if version != nil {
			b["version"] = version
		}
		return b
	}
	run(t, f, []call{
		{"no backup yet", "GET", "/room_keys/version", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"without token", "POST", "/room_keys/version", "", newBackup("k1"), 401, "M_MISSING_TOKEN", nil},
		{"create: not JSON", "POST", "/room_keys/version", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"create: without algorithm", "POST", "/room_keys/version", alice.Token, `{"auth_data":{}}`, 400, "M_BAD_JSON", nil},
		{"create: algorithm not a string", "POST", "/room_keys/version", alice.Token,
			`{"algorithm":1,"auth_data":{}}`, 400, "M_BAD_JSON", nil},
		{"create: auth_data not an object", "POST", "/room_keys/version", alice.Token,
			`{"algorithm":"a","auth_data":"x"}`, 400, "M_BAD_JSON", nil},
		{"create", "POST", "/room_keys/version", alice.Token, newBackup("k1"), 200, "", equals("version", "1")},
		{"create another", "POST", "/room_keys/version", alice.Token, newBackup("k2"), 200, "", equals("version", "2")},
		{"current", "GET", "/room_keys/version", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			equals("version", "2")(t, r)
			equals("algorithm", backupAlgorithm)(t, r)
			backupState("0", 0)(t, r)
			if got := at(r, "auth_data", "public_key"); got != "k2" {
				t.Fatalf("auth_data.public_key %v: %s", got, r.Body)
			}
		}},
		{"an older version", "GET", "/room_keys/version/1", alice.Token, nil, 200, "", equals("version", "1")},
		{"another user has none", "GET", "/room_keys/version", bob.Token, nil, 404, "M_NOT_FOUND", nil},
		{"another user's version", "GET", "/room_keys/version/1", bob.Token, nil, 404, "M_NOT_FOUND", nil},
		{"unknown version", "GET", "/room_keys/version/9", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"malformed version", "GET", "/room_keys/version/x", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"update: another algorithm", "PUT", "/room_keys/version/1", alice.Token, update(nil, "other"), 400, "M_INVALID_PARAM", nil},
		{"update: body names another version", "PUT", "/room_keys/version/1", alice.Token,
			update("2", backupAlgorithm), 400, "M_INVALID_PARAM", nil},
		{"update: without auth_data", "PUT", "/room_keys/version/1", alice.Token,
			map[string]any{"algorithm": backupAlgorithm}, 400, "M_BAD_JSON", nil},
		{"update", "PUT", "/room_keys/version/1", alice.Token, update("1", backupAlgorithm), 200, "", nil},
		{"updated", "GET", "/room_keys/version/1", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			if got := at(r, "auth_data", "public_key"); got != "new" {
				t.Fatalf("auth_data.public_key %v after update: %s", got, r.Body)
			}
		}},
		{"update an unknown version", "PUT", "/room_keys/version/9", alice.Token, update(nil, backupAlgorithm), 404, "M_NOT_FOUND", nil},
		{"delete", "DELETE", "/room_keys/version/2", alice.Token, nil, 200, "", nil},
		{"delete again", "DELETE", "/room_keys/version/2", alice.Token, nil, 200, "", nil},
		{"deleted", "GET", "/room_keys/version/2", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"the one before is current", "GET", "/room_keys/version", alice.Token, nil, 200, "", equals("version", "1")},
		{"update a deleted version", "PUT", "/room_keys/version/2", alice.Token, update(nil, backupAlgorithm), 404, "M_NOT_FOUND", nil},
		{"delete an unknown version", "DELETE", "/room_keys/version/9", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete another user's version", "DELETE", "/room_keys/version/1", bob.Token, nil, 404, "M_NOT_FOUND", nil},
		{"numbers are not reused", "POST", "/room_keys/version", alice.Token, newBackup("k3"), 200, "", equals("version", "3")},
		{"wrong method", "POST", "/room_keys/version/3", alice.Token, `{}`, 405, "M_UNRECOGNIZED", nil},
	})
}

// TestKeyBackupKeysHandlers covers keybackup.go's /room_keys/keys
// endpoints: the current version rule, etag and count, the three shapes
// of body and answer.
func TestKeyBackupKeysHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	for range 2 {
		f.Do(t, "POST", clientPath("/room_keys/version"), alice.Token, newBackup("k")).Want(t, http.StatusOK)
	}
	const keys = "/room_keys/keys"
	const s1 = keys + "/!r:x/s1"
	run(t, f, []call{
		{"put: without version", "PUT", s1, alice.Token, roomKey(false, 10, 5), 400, "M_MISSING_PARAM", nil},
		{"put: an older version", "PUT", s1 + "?version=1", alice.Token, roomKey(false, 10, 5), 403, "M_WRONG_ROOM_KEYS_VERSION",
			equals("current_version", "2")},
		{"put: an unknown version", "PUT", s1 + "?version=9", alice.Token, roomKey(false, 10, 5), 403, "M_WRONG_ROOM_KEYS_VERSION",
			equals("current_version", "2")},
		{"put: without a backup", "PUT", s1 + "?version=1", bob.Token, roomKey(false, 10, 5), 404, "M_NOT_FOUND", nil},
		{"put: not JSON", "PUT", s1 + "?version=2", alice.Token, `{"first_message_index":`, 400, "M_NOT_JSON", nil},
		{"put: a list", "PUT", s1 + "?version=2", alice.Token, `[]`, 400, "M_BAD_JSON", nil},
		{"put: without is_verified", "PUT", s1 + "?version=2", alice.Token,
			`{"first_message_index":1,"forwarded_count":0,"session_data":{}}`, 400, "M_BAD_JSON", nil},
		{"put: index not an integer", "PUT", s1 + "?version=2", alice.Token,
			`{"first_message_index":1.5,"forwarded_count":0,"is_verified":false,"session_data":{}}`, 400, "M_BAD_JSON", nil},
		{"put: negative count", "PUT", s1 + "?version=2", alice.Token, roomKey(false, 1, -1), 400, "M_BAD_JSON", nil},
		{"put: session_data not an object", "PUT", s1 + "?version=2", alice.Token,
			`{"first_message_index":1,"forwarded_count":0,"is_verified":false,"session_data":"x"}`, 400, "M_BAD_JSON", nil},
		{"put: room without sessions", "PUT", keys + "/!r:x?version=2", alice.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"put: without rooms", "PUT", keys + "?version=2", alice.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"put: rooms not an object", "PUT", keys + "?version=2", alice.Token, `{"rooms":[]}`, 400, "M_BAD_JSON", nil},
		{"put: malformed room ID", "PUT", keys + "?version=2", alice.Token,
			`{"rooms":{"nope":{"sessions":{}}}}`, 400, "M_INVALID_PARAM", nil},
		{"put: malformed room ID in the path", "PUT", keys + "/nope/s1?version=2", alice.Token, roomKey(false, 1, 0),
			400, "M_INVALID_PARAM", nil},
		{"put a session", "PUT", s1 + "?version=2", alice.Token, roomKey(false, 10, 5), 200, "", backupState("1", 1)},
		{"put it again", "PUT", s1 + "?version=2", alice.Token, roomKey(false, 10, 5), 200, "", backupState("1", 1)},
		{"put a worse key", "PUT", s1 + "?version=2", alice.Token, roomKey(false, 11, 0), 200, "", backupState("1", 1)},
		{"put a room", "PUT", keys + "/!r:x?version=2", alice.Token,
			map[string]any{"sessions": map[string]any{"s2": roomKey(true, 0, 0)}}, 200, "", backupState("2", 2)},
		{"put rooms", "PUT", keys + "?version=2", alice.Token,
			map[string]any{"rooms": map[string]any{"!q:x": map[string]any{"sessions": map[string]any{"s1": roomKey(false, 3, 0)}}}},
			200, "", backupState("3", 3)},
		{"get a session", "GET", s1 + "?version=2", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			equals("first_message_index", 10.0)(t, r)
			equals("forwarded_count", 5.0)(t, r)
			equals("is_verified", false)(t, r)
			if got := at(r, "session_data", "ciphertext"); got != "cfalse-10-5" {
				t.Fatalf("session_data.ciphertext %v: %s", got, r.Body)
			}
		}},
		{"get a room", "GET", keys + "/!r:x?version=2", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			if s, _ := at(r, "sessions").(map[string]any); len(s) != 2 || at(r, "sessions", "s2", "is_verified") != true {
				t.Fatalf("room keys: %s", r.Body)
			}
		}},
		{"get a room without keys", "GET", keys + "/!none:x?version=2", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			if s, ok := at(r, "sessions").(map[string]any); !ok || len(s) != 0 {
				t.Fatalf("want empty sessions: %s", r.Body)
			}
		}},
		{"get all", "GET", keys + "?version=2", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			rooms, _ := at(r, "rooms").(map[string]any)
			if len(rooms) != 2 || at(r, "rooms", "!q:x", "sessions", "s1", "first_message_index") != 3.0 {
				t.Fatalf("all keys: %s", r.Body)
			}
		}},
		{"get all of an empty version", "GET", keys + "?version=1", alice.Token, nil, 200, "", func(t *testing.T, r *fixture.Response) {
			if rooms, ok := at(r, "rooms").(map[string]any); !ok || len(rooms) != 0 {
				t.Fatalf("want empty rooms: %s", r.Body)
			}
		}},
		{"get an unknown session", "GET", keys + "/!r:x/nope?version=2", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"get from an unknown version", "GET", s1 + "?version=9", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"get without version", "GET", keys, alice.Token, nil, 400, "M_MISSING_PARAM", nil},
		{"another user's keys", "GET", s1 + "?version=2", bob.Token, nil, 404, "M_NOT_FOUND", nil},
		{"the version counts them", "GET", "/room_keys/version", alice.Token, nil, 200, "", backupState("3", 3)},
		{"delete a session", "DELETE", s1 + "?version=2", alice.Token, nil, 200, "", backupState("4", 2)},
		{"delete it again", "DELETE", s1 + "?version=2", alice.Token, nil, 200, "", backupState("4", 2)},
		{"delete a room", "DELETE", keys + "/!r:x?version=2", alice.Token, nil, 200, "", backupState("5", 1)},
		{"delete all", "DELETE", keys + "?version=2", alice.Token, nil, 200, "", backupState("6", 0)},
		{"delete from an unknown version", "DELETE", keys + "?version=9", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"delete the version", "DELETE", "/room_keys/version/2", alice.Token, nil, 200, "", nil},
		{"get from a deleted version", "GET", keys + "?version=2", alice.Token, nil, 404, "M_NOT_FOUND", nil},
		{"put: the deleted version", "PUT", s1 + "?version=2", alice.Token, roomKey(false, 1, 0), 403, "M_WRONG_ROOM_KEYS_VERSION",
			equals("current_version", "1")},
		{"put: the current version again", "PUT", s1 + "?version=1", alice.Token, roomKey(false, 1, 0), 200, "", backupState("1", 1)},
	})
}

// TestKeyBackupReplacementRules: an upload for a session the backup holds
// replaces the stored key only as the spec's rules say ("Server-side key
// backups": verified first, then the lower first_message_index, then the
// lower forwarded_count), and the etag moves only when it does.
func TestKeyBackupReplacementRules(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := f.User(t, "alice")
	f.Do(t, "POST", clientPath("/room_keys/version"), alice.Token, newBackup("k")).Want(t, http.StatusOK)
	type key struct {
		verified         bool
		index, forwarded int
	}
	for i, tc := range []struct {
		name             string
		stored, uploaded key
		replaces         bool
	}{
		{"same key", key{false, 10, 5}, key{false, 10, 5}, false},
		{"higher index", key{false, 10, 5}, key{false, 11, 5}, false},
		{"more forwards", key{false, 10, 5}, key{false, 10, 6}, false},
		{"higher index, fewer forwards", key{false, 10, 5}, key{false, 11, 0}, false},
		{"lower index, more forwards", key{false, 10, 5}, key{false, 9, 9}, true},
		{"same index, fewer forwards", key{false, 10, 5}, key{false, 10, 4}, true},
		{"verified, though worse", key{false, 10, 5}, key{true, 11, 6}, true},
		{"unverified over verified, though better", key{true, 10, 5}, key{false, 0, 0}, false},
		{"verified: higher index", key{true, 10, 5}, key{true, 11, 5}, false},
		{"verified: more forwards", key{true, 10, 5}, key{true, 10, 6}, false},
		{"verified: lower index", key{true, 10, 5}, key{true, 9, 5}, true},
		{"verified: same index, fewer forwards", key{true, 10, 5}, key{true, 10, 4}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := clientPath(fmt.Sprintf("/room_keys/keys/!rules:x/s%d?version=1", i))
			before := f.Do(t, "PUT", path, alice.Token, roomKey(tc.stored.verified, tc.stored.index, tc.stored.forwarded))
			before.Want(t, http.StatusOK)
			after := f.Do(t, "PUT", path, alice.Token, roomKey(tc.uploaded.verified, tc.uploaded.index, tc.uploaded.forwarded))
			after.Want(t, http.StatusOK)
			want := tc.stored
			if tc.replaces {
				want = tc.uploaded
			}
			got := f.Do(t, "GET", path, alice.Token, nil)
			got.Want(t, http.StatusOK)
			wantData := fmt.Sprintf("c%v-%d-%d", want.verified, want.index, want.forwarded)
			if at(got, "is_verified") != want.verified || at(got, "first_message_index") != float64(want.index) ||
				at(got, "forwarded_count") != float64(want.forwarded) || at(got, "session_data", "ciphertext") != wantData {
				t.Fatalf("kept %s, want %+v", got.Body, want)
			}
			if moved := at(before, "etag") != at(after, "etag"); moved != tc.replaces {
				t.Fatalf("etag %v → %v, replaced %v", at(before, "etag"), at(after, "etag"), tc.replaces)
			}
		})
	}
}
