package internal

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Signatures of this server's users on other servers' users' master keys
// (spec: "Cross-signing": Alice's user-signing key signs Bob's master key,
// whatever Bob's server). They stay here: only their signer may see them
// (spec: "Key and signature security"), so they are never sent over
// federation, and are merged into the signer's /keys/query answers.

// checkRemoteUserSigned: the signer's user-signing key on another server's
// user's master key, as cached from their server's last answer (the key
// the signer's client saw in /keys/query). Nothing is fetched here: a key
// not cached is unknown. Their devices and self-signing key are signed by
// their own keys only.
func (u *UserAPI) checkRemoteUserSigned(
	ctx context.Context, signer string, own map[string]parsedKey, target, keyID string, raw json.RawMessage,
) ([]storage.Signature, error) {
	list, cached, err := u.store.RemoteDeviceList(ctx, target)
	if err != nil {
		return nil, err
	}
	if cached && (list.Devices[keyID] != nil || isKeyOf(list.SelfSigningKey, keyID)) {
		return nil, api.ErrRemoteSignedKey
	}
	if !cached || len(list.MasterKey) == 0 {
		return nil, fmt.Errorf("%w: %s's master key is not known here (query their keys first)", api.ErrUnknownSignedKey, target)
	}
	master, err := parseCrossSigningKey(target, api.UsageMaster, list.MasterKey)
	if err != nil || keyID != master.publicKeyID() {
		return nil, fmt.Errorf("%w: %s is not %s's master key", api.ErrUnknownSignedKey, keyID, target)
	}
	usk, ok := own[api.UsageUserSigning]
	if !ok {
		return nil, fmt.Errorf("%w: no user-signing key", api.ErrUnknownSignedKey)
	}
	return signatureOn(target, keyID, signer, usk, master.KeyJSON, raw)
}

// isKeyOf reports whether keyID is the public key of a cross-signing key
// object (as a signed key's ID names it, without "ed25519:").
func isKeyOf(key json.RawMessage, keyID string) bool {
	var k struct {
		Keys map[string]string `json:"keys"`
	}
	if len(key) == 0 || json.Unmarshal(key, &k) != nil {
		return false
	}
	_, ok := k.Keys["ed25519:"+keyID]
	return ok
}

// WithRequesterSignatures implements api.CrossSigning.
func (u *UserAPI) WithRequesterSignatures(
	ctx context.Context, requester string, masterKeys map[string]json.RawMessage,
) (map[string]json.RawMessage, error) {
	if requester == "" || len(masterKeys) == 0 {
		return masterKeys, nil
	}
	users := slices.Sorted(maps.Keys(masterKeys))
	sigs, err := u.store.SignaturesBy(ctx, requester, users)
	if err != nil || len(sigs) == 0 {
		return masterKeys, err
	}
	byUser := map[string][]storage.Signature{}
	for _, s := range sigs {
		byUser[s.TargetUser] = append(byUser[s.TargetUser], s)
	}
	out := maps.Clone(masterKeys)
	for userID, theirs := range byUser {
		master, err := parseCrossSigningKey(userID, api.UsageMaster, masterKeys[userID])
		if err != nil {
			continue // their server's key, malformed: passed on as it came
		}
		if out[userID], err = withSignatures(masterKeys[userID], theirs, master.publicKeyID()); err != nil {
			return nil, err
		}
	}
	return out, nil
}
