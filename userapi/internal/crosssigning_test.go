package internal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/userapi/api"
)

// testKey is an ed25519 key pair and its CrossSigningKey for alice.
type testKey struct {
	priv ed25519.PrivateKey
	id   string // ed25519:<public key>
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, id: "ed25519:" + base64.RawStdEncoding.EncodeToString(pub)}
}

// object is k as alice's key of usage, signed by signer (none: unsigned).
func (k testKey) object(t *testing.T, usage string, signer *testKey) json.RawMessage {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"user_id": "@alice:example.org", "usage": []string{usage},
		"keys": map[string]string{k.id: k.id[len("ed25519:"):]}})
	if signer == nil {
		return raw
	}
	return signJSON(t, raw, signer.id, signer.priv)
}

func signJSON(t *testing.T, raw json.RawMessage, keyID string, priv ed25519.PrivateKey) json.RawMessage {
	t.Helper()
	out, err := gomatrixserverlib.SignJSON("@alice:example.org", gomatrixserverlib.KeyID(keyID), priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCrossSigningDeviceListChanges: new master and self-signing keys and
// new signatures are announced; identical uploads, a new user-signing key
// and refused replacements are not.
func TestCrossSigningDeviceListChanges(t *testing.T) {
	u, changes := keysAPI(t)
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.NewSession(ctx, api.NewSessionRequest{Localpart: "alice", DeviceID: "D1"}); err != nil {
		t.Fatal(err)
	}
	dk := deviceKeys("@alice:example.org", "D1", "k1")
	if _, err := u.UploadKeys(ctx, "alice", "D1", api.KeyUpload{DeviceKeys: dk}); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes)
	expectChange(t, changes)
	master, ssk, usk := newTestKey(t), newTestKey(t), newTestKey(t)
	up := api.CrossSigningUpload{Master: master.object(t, api.UsageMaster, nil), SelfSigning: ssk.object(t, api.UsageSelfSigning, &master)}
	if err := u.UploadCrossSigningKeys(ctx, "alice", up, false); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes)
	if err := u.UploadCrossSigningKeys(ctx, "alice", up, false); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, changes, "the same keys again")
	withUSK := api.CrossSigningUpload{UserSigning: usk.object(t, api.UsageUserSigning, &master)}
	if err := u.UploadCrossSigningKeys(ctx, "alice", withUSK, false); !errors.Is(err, api.ErrCrossSigningAuthRequired) {
		t.Fatalf("a new key without authentication: %v", err)
	}
	if err := u.UploadCrossSigningKeys(ctx, "alice", withUSK, true); err != nil {
		t.Fatal(err)
	}
	expectNoChange(t, changes, "a new user-signing key")
	signed := map[string]map[string]json.RawMessage{"@alice:example.org": {"D1": signJSON(t, dk, ssk.id, ssk.priv)}}
	for i := range 2 {
		failures, err := u.UploadSignatures(ctx, "alice", signed)
		if err != nil || len(failures) != 0 {
			t.Fatalf("signing D1: %v, %v", failures, err)
		}
		if i == 0 {
			expectChange(t, changes)
		}
	}
	expectNoChange(t, changes, "the same signature again")
}
