package internal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/myelin-im/myelin/internal/coded"
	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Signatures uploaded on keys (spec: "POST /keys/signatures/upload") and
// their place in /keys/query. Three kinds are accepted, each verified: a
// user's self-signing key on their own device, a user's device on their
// own master key, and a user's user-signing key on another user's master
// key, of this server or, as cached here, of another
// (crosssigning_remote.go).

// signedKey is the part of an uploaded signed object the server reads.
type signedKey struct {
	Signatures map[string]map[string]string `json:"signatures"`
}

// UploadSignatures implements api.CrossSigning.
func (u *UserAPI) UploadSignatures(
	ctx context.Context, localpart api.Localpart, signed map[string]map[string]json.RawMessage,
) (map[string]map[string]error, error) {
	signer := u.userID(localpart)
	failures := map[string]map[string]error{}
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		own, err := u.storedCrossSigningKeys(ctx, localpart)
		if err != nil {
			return err
		}
		changed := map[string]bool{}
		for _, target := range sortedKeys(signed) {
			for _, keyID := range sortedKeys(signed[target]) {
				stored, err := u.storeSignatures(ctx, signer, own, target, keyID, signed[target][keyID])
				var ce *coded.Error
				if errors.As(err, &ce) {
					if failures[target] == nil {
						failures[target] = map[string]error{}
					}
					failures[target][keyID] = err
					continue
				}
				if err != nil {
					return err
				}
				changed[target] = changed[target] || stored
			}
		}
		return u.signaturesChanged(ctx, changed)
	})
	if err != nil {
		return nil, err
	}
	return failures, nil
}

// signaturesChanged records a device-list change for each user whose keys
// gained a signature, so that those who track them query them again: the
// signer's own devices among them, which see the signature. Another
// server's user's change stays on this server (the federation component
// announces only local users): their server does not see the signature.
func (u *UserAPI) signaturesChanged(ctx context.Context, users map[string]bool) error {
	for _, userID := range sortedKeys(users) {
		if !users[userID] {
			continue
		}
		if err := u.deviceListChanged(ctx, userID, "", false); err != nil {
			return err
		}
	}
	return nil
}

// storeSignatures checks the signatures signer made on one key and stores
// them; it reports whether any was new. A *coded.Error is the key's
// failure.
func (u *UserAPI) storeSignatures(
	ctx context.Context, signer string, own map[string]parsedKey, target, keyID string, raw json.RawMessage,
) (bool, error) {
	sigs, err := u.checkSignatures(ctx, signer, own, target, keyID, raw)
	if err != nil {
		return false, err
	}
	changed := false
	for _, sig := range sigs {
		c, err := u.store.SetSignature(ctx, sig)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

// checkSignatures finds what kind of key target's keyID is and checks the
// signatures on it.
func (u *UserAPI) checkSignatures(
	ctx context.Context, signer string, own map[string]parsedKey, target, keyID string, raw json.RawMessage,
) ([]storage.Signature, error) {
	var sk signedKey
	if err := json.Unmarshal(raw, &sk); err != nil {
		return nil, fmt.Errorf("%w: not a signed object", api.ErrUnknownSignedKey)
	}
	targetLocal, ok := u.localpartOf(target)
	if !ok {
		return u.checkRemoteUserSigned(ctx, signer, own, target, keyID, raw)
	}
	if target != signer {
		return u.checkUserSigned(ctx, signer, own, targetLocal, keyID, raw)
	}
	if master, ok := own[api.UsageMaster]; ok && keyID == master.publicKeyID() {
		return u.checkMasterSignedByDevices(ctx, signer, master, sk, raw)
	}
	return u.checkDeviceSelfSigned(ctx, signer, own, keyID, raw)
}

// checkDeviceSelfSigned: the signer's self-signing key on their device.
func (u *UserAPI) checkDeviceSelfSigned(
	ctx context.Context, signer string, own map[string]parsedKey, device string, raw json.RawMessage,
) ([]storage.Signature, error) {
	localpart, _ := u.localpartOf(signer)
	keys, err := u.store.DeviceKeys(ctx, localpart, api.DeviceID(device))
	if err != nil {
		return nil, err
	}
	ssk, ok := own[api.UsageSelfSigning]
	if keys == nil || !ok {
		return nil, api.ErrUnknownSignedKey
	}
	return signatureOn(signer, device, signer, ssk, keys, raw)
}

// checkUserSigned: the signer's user-signing key on another local user's
// master key.
func (u *UserAPI) checkUserSigned(
	ctx context.Context, signer string, own map[string]parsedKey, target api.Localpart, keyID string, raw json.RawMessage,
) ([]storage.Signature, error) {
	theirs, err := u.storedCrossSigningKeys(ctx, target)
	if err != nil {
		return nil, err
	}
	master, ok := theirs[api.UsageMaster]
	usk, haveUSK := own[api.UsageUserSigning]
	if !ok || keyID != master.publicKeyID() || !haveUSK {
		return nil, api.ErrUnknownSignedKey
	}
	return signatureOn(u.userID(target), keyID, signer, usk, master.KeyJSON, raw)
}

// signatureOn checks that raw is the stored key with a valid signature of
// the signing key and returns that signature.
func signatureOn(
	target, targetKeyID, signer string, signing parsedKey, stored, raw json.RawMessage,
) ([]storage.Signature, error) {
	if !sameKey(stripUnsigned(stored), stripUnsigned(raw)) {
		return nil, fmt.Errorf("%w: the signed object is not the key the server has", api.ErrInvalidSignature)
	}
	if err := verifySignature(signer, signing.KeyID, signing.pub, raw); err != nil {
		return nil, err
	}
	var sk signedKey
	_ = json.Unmarshal(raw, &sk) // verified: it parses
	return []storage.Signature{{
		TargetUser: target, TargetKeyID: targetKeyID,
		SignerUser: signer, SignerKeyID: signing.KeyID, Signature: sk.Signatures[signer][signing.KeyID],
	}}, nil
}

// checkMasterSignedByDevices: the signer's devices on their own master key
// (spec: "Cross-signing": migrating from device verifications). Every
// signature of the signer other than the master key's own must be a
// device's and valid.
func (u *UserAPI) checkMasterSignedByDevices(
	ctx context.Context, signer string, master parsedKey, sk signedKey, raw json.RawMessage,
) ([]storage.Signature, error) {
	if !sameKey(stripUnsigned(master.KeyJSON), stripUnsigned(raw)) {
		return nil, fmt.Errorf("%w: the signed object is not the key the server has", api.ErrInvalidSignature)
	}
	localpart, _ := u.localpartOf(signer)
	var out []storage.Signature
	for _, keyID := range sortedKeys(sk.Signatures[signer]) {
		if keyID == master.KeyID {
			continue
		}
		device, ok := strings.CutPrefix(keyID, "ed25519:")
		if !ok {
			return nil, fmt.Errorf("%w: %s is not a device's ed25519 key", api.ErrUnknownSignedKey, keyID)
		}
		pub, err := u.deviceSigningKey(ctx, localpart, api.DeviceID(device))
		if err != nil {
			return nil, err
		}
		if err := verifySignature(signer, keyID, pub, raw); err != nil {
			return nil, err
		}
		out = append(out, storage.Signature{TargetUser: signer, TargetKeyID: master.publicKeyID(),
			SignerUser: signer, SignerKeyID: keyID, Signature: sk.Signatures[signer][keyID]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no device signature", api.ErrInvalidSignature)
	}
	return out, nil
}

// deviceSigningKey is a device's ed25519 identity key from its device keys.
func (u *UserAPI) deviceSigningKey(ctx context.Context, localpart api.Localpart, device api.DeviceID) (ed25519.PublicKey, error) {
	raw, err := u.store.DeviceKeys(ctx, localpart, device)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: no device %s", api.ErrUnknownSignedKey, device)
	}
	var dk struct {
		Keys map[string]string `json:"keys"`
	}
	_ = json.Unmarshal(raw, &dk) // stored after checking
	pub, ok := decodePublicKey(dk.Keys["ed25519:"+string(device)])
	if !ok {
		return nil, fmt.Errorf("%w: device %s has no ed25519 key", api.ErrInvalidSignature, device)
	}
	return pub, nil
}

// stripUnsigned removes "unsigned" (which signatures do not cover, and
// /keys/query adds to device keys) from a key object; sameKey ignores
// "signatures".
func stripUnsigned(k json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(k, &obj) != nil || obj == nil {
		return k
	}
	delete(obj, "unsigned")
	out, err := json.Marshal(obj)
	if err != nil {
		return k
	}
	return out
}

// QueryCrossSigningKeys implements api.CrossSigning. Visibility (spec:
// "Key and signature security"): anyone sees a user's master and
// self-signing keys, and on the master key the signatures of its owner
// and of the requester; only the user sees their user-signing key.
func (u *UserAPI) QueryCrossSigningKeys(ctx context.Context, requester string, userIDs []string) (api.CrossSigningKeys, error) {
	out := api.CrossSigningKeys{
		Master: map[string]json.RawMessage{}, SelfSigning: map[string]json.RawMessage{}, UserSigning: map[string]json.RawMessage{},
	}
	for _, userID := range userIDs {
		localpart, ok := u.localpartOf(userID)
		if !ok {
			continue
		}
		keys, err := u.storedCrossSigningKeys(ctx, localpart)
		if err != nil {
			return out, err
		}
		if k, ok := keys[api.UsageMaster]; ok {
			if out.Master[userID], err = u.masterWithSignatures(ctx, userID, requester, k); err != nil {
				return out, err
			}
		}
		if k, ok := keys[api.UsageSelfSigning]; ok {
			out.SelfSigning[userID] = k.KeyJSON
		}
		if k, ok := keys[api.UsageUserSigning]; ok && userID == requester {
			out.UserSigning[userID] = k.KeyJSON
		}
	}
	return out, nil
}

func (u *UserAPI) masterWithSignatures(ctx context.Context, userID, requester string, master parsedKey) (json.RawMessage, error) {
	signers := []string{userID}
	if requester != "" && requester != userID {
		signers = append(signers, requester)
	}
	sigs, err := u.store.Signatures(ctx, userID, signers)
	if err != nil {
		return nil, err
	}
	return withSignatures(master.KeyJSON, sigs, master.publicKeyID())
}

// withSignatures merges the stored signatures on the key targetKeyID into
// its signatures object.
func withSignatures(key json.RawMessage, sigs []storage.Signature, targetKeyID string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	var all map[string]map[string]string
	for _, s := range sigs {
		if s.TargetKeyID != targetKeyID {
			continue
		}
		if obj == nil {
			if err := json.Unmarshal(key, &obj); err != nil {
				return nil, fmt.Errorf("userapi: stored key: %w", err)
			}
			if json.Unmarshal(obj["signatures"], &all) != nil || all == nil {
				all = map[string]map[string]string{} // absent or not an object: started afresh
			}
		}
		if all[s.SignerUser] == nil {
			all[s.SignerUser] = map[string]string{}
		}
		all[s.SignerUser][s.SignerKeyID] = s.Signature
	}
	if obj == nil {
		return key, nil
	}
	var err error
	if obj["signatures"], err = json.Marshal(all); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}
