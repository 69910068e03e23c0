package internal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/api"
)

// keyOf is k as userID's cross-signing key of usage, signed by signer's
// key (none: unsigned).
func keyOf(t *testing.T, userID string, k testKey, usage string, signer *testKey) json.RawMessage {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"user_id": userID, "usage": []string{usage},
		"keys": map[string]string{k.id: k.id[len("ed25519:"):]}})
	if signer == nil {
		return raw
	}
	return signAs(t, userID, raw, *signer)
}

// signAs is raw signed by userID's key k.
func signAs(t *testing.T, userID string, raw json.RawMessage, k testKey) json.RawMessage {
	t.Helper()
	out, err := gomatrixserverlib.SignJSON(userID, gomatrixserverlib.KeyID(k.id), k.priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withCrossSigning creates localpart's account with master, self-signing
// and user-signing keys and returns the user-signing key.
func withCrossSigning(t *testing.T, u *UserAPI, localpart string) testKey {
	t.Helper()
	ctx := context.Background()
	if _, err := u.CreateAccount(ctx, api.CreateAccountRequest{Localpart: api.Localpart(localpart), Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	userID := u.userID(api.Localpart(localpart))
	master, ssk, usk := newTestKey(t), newTestKey(t), newTestKey(t)
	up := api.CrossSigningUpload{
		Master:      keyOf(t, userID, master, api.UsageMaster, nil),
		SelfSigning: keyOf(t, userID, ssk, api.UsageSelfSigning, &master),
		UserSigning: keyOf(t, userID, usk, api.UsageUserSigning, &master),
	}
	if err := u.UploadCrossSigningKeys(ctx, api.Localpart(localpart), up, false); err != nil {
		t.Fatal(err)
	}
	return usk
}

// TestSignRemoteMasterKey: a user's user-signing key signs another
// server's user's master key as cached here (spec: "Cross-signing"); the
// signature is merged into that user's /keys/query answers for its signer
// alone (spec: "Key and signature security"). Keys not cached, other
// keys of theirs and bad signatures fail one by one.
func TestSignRemoteMasterKey(t *testing.T) {
	sqltest.WithAllDatabases(t, func(t *testing.T, db *sqlutil.DB) {
		u, changes := keysAPIOn(t, db)
		ctx := context.Background()
		const bob, carol, rita, ned = "@bob:example.org", "@carol:example.org", "@rita:remote.test", "@ned:remote.test"
		bobUSK := withCrossSigning(t, u, "bob")
		withCrossSigning(t, u, "carol")
		ritaMaster, ritaSSK, nedMaster := newTestKey(t), newTestKey(t), newTestKey(t)
		master := keyOf(t, rita, ritaMaster, api.UsageMaster, nil)
		list := api.RemoteDeviceList{UserID: rita, Fresh: true, StreamID: 3, MasterKey: master,
			SelfSigningKey: keyOf(t, rita, ritaSSK, api.UsageSelfSigning, &ritaMaster),
			Devices:        map[string]json.RawMessage{"RD": deviceKeys(rita, "RD", "k")}}
		if err := u.SetRemoteDeviceList(ctx, list, false); err != nil {
			t.Fatal(err)
		}
		masterID, other := ritaMaster.id[len("ed25519:"):], newTestKey(t)
		tests := []struct {
			name   string
			target string
			keyID  string
			signed json.RawMessage
			want   error // nil: stored
		}{
			{"not cached", ned, nedMaster.id[len("ed25519:"):], signAs(t, bob, keyOf(t, ned, nedMaster, api.UsageMaster, nil), bobUSK),
				api.ErrUnknownSignedKey},
			{"their device", rita, "RD", signAs(t, bob, deviceKeys(rita, "RD", "k"), bobUSK), api.ErrRemoteSignedKey},
			{"their self-signing key", rita, ritaSSK.id[len("ed25519:"):], signAs(t, bob, list.SelfSigningKey, bobUSK),
				api.ErrRemoteSignedKey},
			{"not the cached key", rita, masterID, signAs(t, bob, keyOf(t, "@rita:elsewhere.test", ritaMaster, api.UsageMaster, nil),
				bobUSK), api.ErrInvalidSignature},
			{"wrong signature", rita, masterID, forgedAs(t, bob, master, bobUSK, other), api.ErrInvalidSignature},
			{"signed", rita, masterID, signAs(t, bob, master, bobUSK), nil},
		}
		for _, tc := range tests {
			failures, err := u.UploadSignatures(ctx, "bob", map[string]map[string]json.RawMessage{tc.target: {tc.keyID: tc.signed}})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := failures[tc.target][tc.keyID]; !errors.Is(got, tc.want) || (tc.want == nil && len(failures) != 0) {
				t.Fatalf("%s: failures %v, want %v", tc.name, failures, tc.want)
			}
		}
		changeOf(t, changes, rita) // bob's other devices query rita again
		got, err := u.WithRequesterSignatures(ctx, bob, map[string]json.RawMessage{rita: master})
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Signatures map[string]map[string]string `json:"signatures"`
		}
		if err := json.Unmarshal(got[rita], &k); err != nil || k.Signatures[bob][bobUSK.id] == "" {
			t.Fatalf("bob's view of rita's master key: %s, %v", got[rita], err)
		}
		pub := bobUSK.priv.Public().(ed25519.PublicKey)
		if err := gomatrixserverlib.VerifyJSON(bob, gomatrixserverlib.KeyID(bobUSK.id), pub, got[rita]); err != nil {
			t.Fatalf("the merged signature does not verify: %v", err)
		}
		got, err = u.WithRequesterSignatures(ctx, carol, map[string]json.RawMessage{rita: master})
		if err != nil || !bytes.Equal(got[rita], master) {
			t.Fatalf("carol's view of rita's master key: %s, %v", got[rita], err)
		}
	})
}

// forgedAs is raw with a signature under signer's key ID made by another
// key.
func forgedAs(t *testing.T, userID string, raw json.RawMessage, signer, other testKey) json.RawMessage {
	t.Helper()
	out, err := gomatrixserverlib.SignJSON(userID, gomatrixserverlib.KeyID(signer.id), other.priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// changeOf waits for a device-list change of userID, skipping others'.
func changeOf(t *testing.T, changes <-chan api.DeviceListChange, userID string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.UserID == userID {
				return
			}
		case <-timeout:
			t.Fatalf("no device-list change of %s", userID)
		}
	}
}
