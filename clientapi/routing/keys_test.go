package routing_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/test/fixture"
)

// deviceKeysOf is a DeviceKeys object claiming to be userID's device.
func deviceKeysOf(userID, device string) map[string]any {
	return map[string]any{
		"user_id": userID, "device_id": device,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{"curve25519:" + device: "curve-" + device, "ed25519:" + device: "ed-" + device},
		"signatures": map[string]any{userID: map[string]string{"ed25519:" + device: "sig-" + device}},
	}
}

// otkCount checks one_time_key_counts.signed_curve25519.
func otkCount(want float64) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		counts, _ := r.JSON()["one_time_key_counts"].(map[string]any)
		if counts["signed_curve25519"] != want {
			t.Fatalf("signed_curve25519 count %v, want %v: %s", counts["signed_curve25519"], want, r.Body)
		}
	}
}

// at follows keys through nested objects of a JSON response.
func at(r *fixture.Response, keys ...string) any {
	var v any = r.JSON()
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// TestKeysHandlers covers keys.go: upload, query and claim.
func TestKeysHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	otk := map[string]any{"signed_curve25519:AAAA": map[string]any{"key": "k1", "signatures": map[string]any{}}}
	claimAlice := map[string]any{"one_time_keys": map[string]any{alice.ID: map[string]string{alice.Device: "signed_curve25519"}}}
	run(t, f, []call{
		{"without token", "POST", "/keys/upload", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"not JSON", "POST", "/keys/upload", alice.Token, `{nope`, 400, "M_NOT_JSON", nil},
		{"one-time keys not an object", "POST", "/keys/upload", alice.Token, `{"one_time_keys":[]}`, 400, "M_BAD_JSON", nil},
		{"someone else's device keys", "POST", "/keys/upload", alice.Token,
			map[string]any{"device_keys": deviceKeysOf(bob.ID, bob.Device)}, 400, "M_INVALID_PARAM", nil},
		{"another device's keys", "POST", "/keys/upload", alice.Token,
			map[string]any{"device_keys": deviceKeysOf(alice.ID, "OTHER")}, 400, "M_INVALID_PARAM", nil},
		{"device keys without keys", "POST", "/keys/upload", alice.Token,
			map[string]any{"device_keys": map[string]any{"user_id": alice.ID, "device_id": alice.Device}}, 400, "M_BAD_JSON", nil},
		{"key name without algorithm", "POST", "/keys/upload", alice.Token,
			`{"one_time_keys":{"AAAA":"k"}}`, 400, "M_INVALID_PARAM", nil},
		{"nothing", "POST", "/keys/upload", alice.Token, `{}`, 200, "", otkCount(0)},
		{"upload", "POST", "/keys/upload", alice.Token,
			map[string]any{"device_keys": deviceKeysOf(alice.ID, alice.Device), "one_time_keys": otk}, 200, "", otkCount(1)},
		{"upload again", "POST", "/keys/upload", alice.Token,
			map[string]any{"device_keys": deviceKeysOf(alice.ID, alice.Device), "one_time_keys": otk}, 200, "", otkCount(1)},
		{"conflicting one-time key", "POST", "/keys/upload", alice.Token,
			`{"one_time_keys":{"signed_curve25519:AAAA":{"key":"other"}}}`, 400, "M_INVALID_PARAM", nil},
		{"query: device list an object", "POST", "/keys/query", alice.Token,
			map[string]any{"device_keys": map[string]any{bob.ID: map[string]bool{"D": true}}}, 400, "M_BAD_JSON", nil},
		{"query: without device_keys", "POST", "/keys/query", alice.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"query: malformed user", "POST", "/keys/query", alice.Token, `{"device_keys":{"alice":[]}}`, 400, "M_INVALID_PARAM", nil},
		{"query", "POST", "/keys/query", bob.Token,
			map[string]any{"device_keys": map[string][]string{alice.ID: {}}, "timeout": 10000}, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got := at(r, "device_keys", alice.ID, alice.Device, "keys", "ed25519:"+alice.Device); got != "ed-"+alice.Device {
					t.Fatalf("alice's ed25519 key %v: %s", got, r.Body)
				}
				sig := at(r, "device_keys", alice.ID, alice.Device, "signatures", alice.ID, "ed25519:"+alice.Device)
				if sig != "sig-"+alice.Device {
					t.Fatalf("signature %v: %s", sig, r.Body)
				}
			}},
		{"query: one device", "POST", "/keys/query", bob.Token,
			map[string]any{"device_keys": map[string][]string{alice.ID: {"NOPE"}}}, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got, ok := at(r, "device_keys", alice.ID).(map[string]any); !ok || len(got) != 0 {
					t.Fatalf("unknown device answered %v: %s", got, r.Body)
				}
			}},
		{"query: unknown and remote users", "POST", "/keys/query", bob.Token,
			map[string]any{"device_keys": map[string][]string{"@nobody:test.local": {}, "@carol:elsewhere.example": {}}}, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got, ok := at(r, "device_keys", "@nobody:test.local").(map[string]any); !ok || len(got) != 0 {
					t.Fatalf("unknown user answered %v: %s", got, r.Body)
				}
				if at(r, "failures", "elsewhere.example") == nil || at(r, "device_keys", "@carol:elsewhere.example") != nil {
					t.Fatalf("remote user not in failures: %s", r.Body)
				}
			}},
		{"claim: without one_time_keys", "POST", "/keys/claim", bob.Token, `{}`, 400, "M_BAD_JSON", nil},
		{"claim", "POST", "/keys/claim", bob.Token, claimAlice, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got := at(r, "one_time_keys", alice.ID, alice.Device, "signed_curve25519:AAAA", "key"); got != "k1" {
					t.Fatalf("claimed %v: %s", got, r.Body)
				}
			}},
		{"claim: none left", "POST", "/keys/claim", bob.Token, claimAlice, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if got := at(r, "one_time_keys", alice.ID); got != nil {
					t.Fatalf("a claimed key went out again: %s", r.Body)
				}
			}},
		{"counts after the claim", "POST", "/keys/upload", alice.Token, `{}`, 200, "", otkCount(0)},
	})
}

// TestKeysClaimExactlyOnce: concurrent claims through the handler share
// the one-time keys out once each, then the fallback key.
func TestKeysClaimExactlyOnce(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob := f.User(t, "alice"), f.User(t, "bob")
	otks := map[string]any{}
	for _, id := range []string{"A", "B", "C", "D", "E"} {
		otks["signed_curve25519:"+id] = map[string]string{"key": id}
	}
	f.Do(t, "POST", clientPath("/keys/upload"), alice.Token, map[string]any{
		"one_time_keys": otks,
		"fallback_keys": map[string]any{"signed_curve25519:FB": map[string]any{"key": "FB", "fallback": true}},
	}).Want(t, http.StatusOK)
	claim := map[string]any{"one_time_keys": map[string]any{alice.ID: map[string]string{alice.Device: "signed_curve25519"}}}
	const claimers = 12
	got := make([]string, claimers)
	var wg sync.WaitGroup
	for i := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.Do(t, "POST", clientPath("/keys/claim"), bob.Token, claim)
			keys, _ := at(r, "one_time_keys", alice.ID, alice.Device).(map[string]any)
			for _, k := range keys {
				got[i], _ = k.(map[string]any)["key"].(string)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	for _, id := range []string{"A", "B", "C", "D", "E"} {
		if seen[id] != 1 {
			t.Errorf("key %s handed out %d times (%v)", id, seen[id], seen)
		}
	}
	if seen["FB"] != claimers-5 {
		t.Errorf("fallback key handed out %d times, want %d (%v)", seen["FB"], claimers-5, seen)
	}
}

// TestRemoteKeys: other servers' users' keys go over federation; a server
// that cannot be reached within the request's timeout is a failure under
// its name (spec: "POST /keys/query", "POST /keys/claim", failures).
func TestRemoteKeys(t *testing.T) {
	f := newServer(t, serverOpts{federation: true, config: func(c *config.Config) {
		c.FederationAPI.Hosts = map[string]string{"elsewhere.example": "127.0.0.1:1"}
	}})
	bob := f.User(t, "bob")
	failed := func(t *testing.T, r *fixture.Response) {
		if at(r, "failures", "elsewhere.example") == nil {
			t.Fatalf("unreachable server not in failures: %s", r.Body)
		}
	}
	run(t, f, []call{
		{"query", "POST", "/keys/query", bob.Token,
			`{"device_keys":{"@carol:elsewhere.example":[]},"timeout":2000}`, 200, "", failed},
		{"claim", "POST", "/keys/claim", bob.Token,
			`{"one_time_keys":{"@carol:elsewhere.example":{"DEV":"signed_curve25519"}},"timeout":2000}`, 200, "", failed},
	})
}
