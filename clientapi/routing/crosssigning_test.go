package routing_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/test/fixture"
	"github.com/myelin-im/myelin/userapi/api"
)

// signingKey is an ed25519 key pair of a test client.
type signingKey struct {
	priv ed25519.PrivateKey
	pub  string // unpadded base64
}

func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, pub: base64.RawStdEncoding.EncodeToString(pub)}
}

func (k signingKey) id() string { return "ed25519:" + k.pub }

// crossSigningKey is k as userID's CrossSigningKey of usage, unsigned.
func (k signingKey) crossSigningKey(userID, usage string) map[string]any {
	return map[string]any{"user_id": userID, "usage": []string{usage}, "keys": map[string]string{k.id(): k.pub}}
}

// signed is obj signed by signer's key keyID.
func signed(t *testing.T, obj any, signer, keyID string, priv ed25519.PrivateKey) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out, err := gomatrixserverlib.SignJSON(signer, gomatrixserverlib.KeyID(keyID), priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// crossSigner is a user with cross-signing keys and a device with a real
// ed25519 identity key.
type crossSigner struct {
	*fixture.User
	master, self, user, device signingKey
}

func newCrossSigner(t *testing.T, f *fixture.Fixture, localpart string) *crossSigner {
	t.Helper()
	return &crossSigner{User: f.User(t, localpart),
		master: newSigningKey(t), self: newSigningKey(t), user: newSigningKey(t), device: newSigningKey(t)}
}

// keys is the device_signing/upload body with all three keys.
func (c *crossSigner) keys(t *testing.T) map[string]any {
	t.Helper()
	return map[string]any{
		"master_key":       c.master.crossSigningKey(c.ID, "master"),
		"self_signing_key": signed(t, c.self.crossSigningKey(c.ID, "self_signing"), c.ID, c.master.id(), c.master.priv),
		"user_signing_key": signed(t, c.user.crossSigningKey(c.ID, "user_signing"), c.ID, c.master.id(), c.master.priv),
	}
}

// deviceKeys are the device's keys, self-signed with its identity key.
func (c *crossSigner) deviceKeys(t *testing.T) json.RawMessage {
	t.Helper()
	dk := deviceKeysOf(c.ID, c.Device)
	dk["keys"] = map[string]string{"curve25519:" + c.Device: "curve", "ed25519:" + c.Device: c.device.pub}
	delete(dk, "signatures")
	return signed(t, dk, c.ID, "ed25519:"+c.Device, c.device.priv)
}

// TestCrossSigningHandlers covers crosssigning.go and the cross-signing
// part of /keys/query.
func TestCrossSigningHandlers(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice, bob, carol := newCrossSigner(t, f, "alice"), newCrossSigner(t, f, "bob"), newCrossSigner(t, f, "carol")
	f.Do(t, "POST", clientPath("/keys/upload"), alice.Token, map[string]any{"device_keys": alice.deviceKeys(t)}).Want(t, 200)
	other := newSigningKey(t)
	// Carol has a device named like the other key (spec: "Cross-signing":
	// device IDs and cross-signing public keys share a namespace).
	if _, err := f.Users.NewSession(context.Background(), api.NewSessionRequest{
		Localpart: "carol", DeviceID: api.DeviceID(other.pub)}); err != nil {
		t.Fatal(err)
	}
	badSSK := alice.keys(t)
	badSSK["self_signing_key"] = signed(t, alice.self.crossSigningKey(alice.ID, "self_signing"), alice.ID, other.id(), other.priv)
	aliceDevice := signed(t, alice.deviceKeys(t), alice.ID, alice.self.id(), alice.self.priv)
	aliceMaster := signed(t, alice.master.crossSigningKey(alice.ID, "master"), alice.ID, "ed25519:"+alice.Device, alice.device.priv)
	wrongSig := signed(t, alice.deviceKeys(t), alice.ID, alice.self.id(), other.priv)
	bobSignsAlice := signed(t, alice.master.crossSigningKey(alice.ID, "master"), bob.ID, bob.user.id(), bob.user.priv)
	carolSignsAlice := signed(t, alice.master.crossSigningKey(alice.ID, "master"), carol.ID, carol.user.id(), carol.user.priv)
	queryAlice := map[string]any{"device_keys": map[string][]string{alice.ID: {}}}
	const dave = "@dave:remote.example"
	daveMaster := newSigningKey(t)
	daveMasterKey, _ := json.Marshal(daveMaster.crossSigningKey(dave, "master"))
	daveDevice, _ := json.Marshal(deviceKeysOf(dave, "DD"))
	if err := f.Users.SetRemoteDeviceList(context.Background(), api.RemoteDeviceList{UserID: dave, MasterKey: daveMasterKey,
		Devices: map[string]json.RawMessage{"DD": daveDevice}}, false); err != nil {
		t.Fatal(err)
	}
	bobSignsDave := signed(t, daveMaster.crossSigningKey(dave, "master"), bob.ID, bob.user.id(), bob.user.priv)
	bobSignsDaveDevice := signed(t, deviceKeysOf(dave, "DD"), bob.ID, bob.user.id(), bob.user.priv)
	run(t, f, []call{
		{"without token", "POST", "/keys/device_signing/upload", "", `{}`, 401, "M_MISSING_TOKEN", nil},
		{"someone else's key", "POST", "/keys/device_signing/upload", alice.Token,
			map[string]any{"master_key": alice.master.crossSigningKey(bob.ID, "master")}, 400, "M_INVALID_PARAM", nil},
		{"wrong usage", "POST", "/keys/device_signing/upload", alice.Token,
			map[string]any{"master_key": alice.master.crossSigningKey(alice.ID, "self_signing")}, 400, "M_INVALID_PARAM", nil},
		{"self-signing key without a master key", "POST", "/keys/device_signing/upload", alice.Token,
			map[string]any{"self_signing_key": alice.keys(t)["self_signing_key"]}, 400, "M_MISSING_PARAM", nil},
		{"self-signing key signed by another key", "POST", "/keys/device_signing/upload", alice.Token, badSSK,
			400, "M_INVALID_SIGNATURE", nil},
		{"not an ed25519 public key", "POST", "/keys/device_signing/upload", carol.Token,
			map[string]any{"master_key": signingKey{pub: carol.Device}.crossSigningKey(carol.ID, "master")}, 400, "M_INVALID_PARAM", nil},
		{"public key equal to a device ID", "POST", "/keys/device_signing/upload", carol.Token,
			map[string]any{"master_key": other.crossSigningKey(carol.ID, "master")}, 403, "M_FORBIDDEN", nil},
		{"first upload without UIA", "POST", "/keys/device_signing/upload", alice.Token, alice.keys(t), 200, "", nil},
		{"the same keys again without UIA", "POST", "/keys/device_signing/upload", alice.Token, alice.keys(t), 200, "", nil},
		{"bob's first upload", "POST", "/keys/device_signing/upload", bob.Token, bob.keys(t), 200, "", nil},
		{"carol's first upload", "POST", "/keys/device_signing/upload", carol.Token, carol.keys(t), 200, "", nil},
		{"replacing a key requires UIA", "POST", "/keys/device_signing/upload", alice.Token,
			map[string]any{"master_key": other.crossSigningKey(alice.ID, "master")}, 401, "", challenge("m.login.password")},
		{"replacing a key with a wrong password", "POST", "/keys/device_signing/upload", alice.Token,
			map[string]any{"master_key": other.crossSigningKey(alice.ID, "master"), "auth": passwordAuth(alice.User, "nope")},
			401, "M_FORBIDDEN", nil},
		{"signatures: not objects", "POST", "/keys/signatures/upload", alice.Token, `{"@alice:test.local":[]}`, 400, "M_BAD_JSON", nil},
		{"signatures, one failing", "POST", "/keys/signatures/upload", alice.Token, map[string]any{
			alice.ID: map[string]any{alice.Device: aliceDevice, alice.master.pub: aliceMaster, "NOPE": aliceDevice},
		}, 200, "", wantFailures(map[string]string{alice.ID + "/NOPE": "M_INVALID_PARAM"})},
		{"a wrong signature", "POST", "/keys/signatures/upload", alice.Token, map[string]any{
			alice.ID: map[string]any{alice.Device: wrongSig},
		}, 200, "", wantFailures(map[string]string{alice.ID + "/" + alice.Device: "M_INVALID_SIGNATURE"})},
		{"another user's master key by user-signing keys", "POST", "/keys/signatures/upload", bob.Token, map[string]any{
			alice.ID: map[string]any{alice.master.pub: bobSignsAlice}, "@dave:elsewhere.example": map[string]any{"K": aliceMaster},
		}, 200, "", wantFailures(map[string]string{"@dave:elsewhere.example/K": "M_INVALID_PARAM"})},
		{"another server's user's cached master key", "POST", "/keys/signatures/upload", bob.Token, map[string]any{
			dave: map[string]any{daveMaster.pub: bobSignsDave, "DD": bobSignsDaveDevice},
		}, 200, "", wantFailures(map[string]string{dave + "/DD": "M_UNKNOWN"})},
		{"carol signs alice", "POST", "/keys/signatures/upload", carol.Token, map[string]any{
			alice.ID: map[string]any{alice.master.pub: carolSignsAlice},
		}, 200, "", wantFailures(nil)},
		{"bob queries alice", "POST", "/keys/query", bob.Token, queryAlice, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if at(r, "self_signing_keys", alice.ID, "keys", alice.self.id()) != alice.self.pub {
					t.Errorf("alice's self-signing key missing: %s", r.Body)
				}
				if at(r, "user_signing_keys", alice.ID) != nil {
					t.Errorf("bob sees alice's user-signing key: %s", r.Body)
				}
				masterSigs := []string{alice.ID + "/ed25519:" + alice.Device, bob.ID + "/" + bob.user.id()}
				slices.Sort(masterSigs)
				if got := signers(at(r, "master_keys", alice.ID, "signatures")); !slices.Equal(got, masterSigs) {
					t.Errorf("signatures on alice's master key %v, want %v: %s", got, masterSigs, r.Body)
				}
				deviceSigs := []string{alice.ID + "/ed25519:" + alice.Device, alice.ID + "/" + alice.self.id()}
				slices.Sort(deviceSigs)
				if got := signers(at(r, "device_keys", alice.ID, alice.Device, "signatures")); !slices.Equal(got, deviceSigs) {
					t.Errorf("signatures on alice's device %v, want %v: %s", got, deviceSigs, r.Body)
				}
			}},
		{"alice queries herself", "POST", "/keys/query", alice.Token, queryAlice, 200, "",
			func(t *testing.T, r *fixture.Response) {
				if at(r, "user_signing_keys", alice.ID, "keys", alice.user.id()) != alice.user.pub {
					t.Errorf("alice does not see her user-signing key: %s", r.Body)
				}
				masterSigs := []string{alice.ID + "/ed25519:" + alice.Device}
				if got := signers(at(r, "master_keys", alice.ID, "signatures")); !slices.Equal(got, masterSigs) {
					t.Errorf("signatures on alice's master key %v, want %v: %s", got, masterSigs, r.Body)
				}
			}},
	})
}

// TestCrossSigningReplaceWithUIA: replacing keys succeeds after the
// password stage, in the session of the challenge, and is a device-list
// change of the user.
func TestCrossSigningReplaceWithUIA(t *testing.T) {
	f := newServer(t, serverOpts{})
	alice := newCrossSigner(t, f, "alice")
	f.Do(t, "POST", clientPath("/keys/device_signing/upload"), alice.Token, alice.keys(t)).Want(t, 200)
	_, before, err := f.Users.DeviceListChanges(context.Background(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	alice.master, alice.self, alice.user = newSigningKey(t), newSigningKey(t), newSigningKey(t)
	body := alice.keys(t)
	r := f.Do(t, "POST", clientPath("/keys/device_signing/upload"), alice.Token, body)
	r.Want(t, 401)
	auth := passwordAuth(alice.User, alice.Password)
	auth["session"] = r.JSON()["session"]
	body["auth"] = auth
	f.Do(t, "POST", clientPath("/keys/device_signing/upload"), alice.Token, body).Want(t, 200)
	users, _, err := f.Users.DeviceListChanges(context.Background(), before, -1)
	if err != nil || !slices.Equal(users, []string{alice.ID}) {
		t.Fatalf("device-list changes after the replacement: %v, %v", users, err)
	}
	r = f.Do(t, "POST", clientPath("/keys/query"), alice.Token, map[string]any{"device_keys": map[string][]string{alice.ID: {}}})
	r.Want(t, 200)
	if at(r, "master_keys", alice.ID, "keys", alice.master.id()) != alice.master.pub {
		t.Fatalf("master key not replaced: %s", r.Body)
	}
}

// wantFailures checks a signatures/upload answer's failures: "user/key" →
// errcode.
func wantFailures(want map[string]string) func(t *testing.T, r *fixture.Response) {
	return func(t *testing.T, r *fixture.Response) {
		t.Helper()
		got := map[string]string{}
		failures, _ := r.JSON()["failures"].(map[string]any)
		for user, keys := range failures {
			for key, e := range keys.(map[string]any) {
				got[user+"/"+key], _ = e.(map[string]any)["errcode"].(string)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("failures %v, want %v: %s", got, want, r.Body)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("failures %v, want %v: %s", got, want, r.Body)
			}
		}
	}
}

// signers lists a signatures object's "user/key ID" entries, sorted.
func signers(sigs any) []string {
	var out []string
	m, _ := sigs.(map[string]any)
	for user, keys := range m {
		km, _ := keys.(map[string]any)
		for k := range km {
			out = append(out, user+"/"+k)
		}
	}
	slices.Sort(out)
	return out
}
