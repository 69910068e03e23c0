package internal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Cross-signing (spec: "Cross-signing"). Unlike device keys, the server
// checks cross-signing signatures: a self-signing or user-signing key must
// carry a valid signature of the master key, and every signature uploaded
// through /keys/signatures/upload is verified before it is stored, so
// that /keys/query hands out only signatures that hold.

var _ api.CrossSigning = (*UserAPI)(nil)

// crossSigningKey is a CrossSigningKey object (spec: "POST
// /keys/device_signing/upload").
type crossSigningKey struct {
	UserID     *string                      `json:"user_id"`
	Usage      []string                     `json:"usage"`
	Keys       map[string]string            `json:"keys"`
	Signatures map[string]map[string]string `json:"signatures"`
}

// parsedKey is a checked cross-signing key: as stored, and its public key.
type parsedKey struct {
	storage.CrossSigningKey
	pub ed25519.PublicKey
}

// publicKeyID is the key's public key in unpadded base64, the name the
// spec gives it where a device ID would stand ("ed25519:" cut off).
func (k parsedKey) publicKeyID() string { return strings.TrimPrefix(k.KeyID, "ed25519:") }

// UploadCrossSigningKeys implements api.CrossSigning. The spec's UIA rule
// (since v1.11): authentication is needed unless the user has no master
// key yet, or every key sent is the one already stored.
func (u *UserAPI) UploadCrossSigningKeys(
	ctx context.Context, localpart api.Localpart, up api.CrossSigningUpload, authenticated bool,
) error {
	userID := u.userID(localpart)
	sent, err := parseUpload(userID, up)
	if err != nil {
		return err
	}
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		stored, err := u.storedCrossSigningKeys(ctx, localpart)
		if err != nil {
			return err
		}
		changed := changedKeys(sent, stored)
		if len(changed) == 0 {
			return nil // an identical upload again: idempotent, no UIA
		}
		if err := checkSignedByMaster(userID, sent, stored); err != nil {
			return err
		}
		if _, ok := stored[api.UsageMaster]; ok && !authenticated {
			return api.ErrCrossSigningAuthRequired
		}
		return u.storeCrossSigningKeys(ctx, localpart, changed)
	})
}

// parseUpload checks each key sent, by usage.
func parseUpload(userID string, up api.CrossSigningUpload) (map[string]parsedKey, error) {
	sent := map[string]parsedKey{}
	for usage, raw := range map[string]json.RawMessage{
		api.UsageMaster: up.Master, api.UsageSelfSigning: up.SelfSigning, api.UsageUserSigning: up.UserSigning,
	} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		k, err := parseCrossSigningKey(userID, usage, raw)
		if err != nil {
			return nil, fmt.Errorf("%s key: %w", usage, err)
		}
		sent[usage] = k
	}
	return sent, nil
}

// parseCrossSigningKey checks a CrossSigningKey (spec: "CrossSigningKey"):
// the uploader's user_id, the usage, exactly one key named
// "ed25519:<unpadded base64 public key>" after its value.
func parseCrossSigningKey(userID, usage string, raw json.RawMessage) (parsedKey, error) {
	var k crossSigningKey
	if err := json.Unmarshal(raw, &k); err != nil || k.UserID == nil {
		return parsedKey{}, api.ErrBadCrossSigningKey
	}
	if *k.UserID != userID {
		return parsedKey{}, api.ErrCrossSigningNotYours
	}
	if !slices.Contains(k.Usage, usage) || len(k.Keys) != 1 {
		return parsedKey{}, api.ErrBadCrossSigningKey
	}
	var p parsedKey
	for name, value := range k.Keys {
		pub, ok := decodePublicKey(value)
		if !ok || name != "ed25519:"+value {
			return parsedKey{}, api.ErrBadCrossSigningKey
		}
		p.KeyID, p.pub = name, pub
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return parsedKey{}, api.ErrBadCrossSigningKey
	}
	p.Usage, p.KeyJSON = usage, buf.Bytes()
	return p, nil
}

// decodePublicKey decodes an ed25519 public key in (unpadded) base64.
func decodePublicKey(s string) (ed25519.PublicKey, bool) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, false
	}
	return b, true
}

// storedCrossSigningKeys reads a user's keys with their public keys.
func (u *UserAPI) storedCrossSigningKeys(ctx context.Context, localpart api.Localpart) (map[string]parsedKey, error) {
	rows, err := u.store.CrossSigningKeys(ctx, localpart)
	if err != nil {
		return nil, err
	}
	out := make(map[string]parsedKey, len(rows))
	for usage, row := range rows {
		pub, ok := decodePublicKey(strings.TrimPrefix(row.KeyID, "ed25519:"))
		if !ok {
			return nil, fmt.Errorf("userapi: stored %s key %q is not an ed25519 key", usage, row.KeyID)
		}
		out[usage] = parsedKey{CrossSigningKey: row, pub: pub}
	}
	return out, nil
}

// changedKeys lists the keys sent that differ from those stored, compared
// as canonical JSON, signatures included: the spec's "exactly matches".
func changedKeys(sent, stored map[string]parsedKey) []parsedKey {
	var changed []parsedKey
	for _, usage := range []string{api.UsageMaster, api.UsageSelfSigning, api.UsageUserSigning} {
		k, ok := sent[usage]
		if !ok {
			continue
		}
		old, had := stored[usage]
		if !had || !sameCanonical(old.KeyJSON, k.KeyJSON) {
			changed = append(changed, k)
		}
	}
	return changed
}

func sameCanonical(a, b json.RawMessage) bool {
	ca, errA := gomatrixserverlib.CanonicalJSON(a)
	cb, errB := gomatrixserverlib.CanonicalJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// checkSignedByMaster: self-signing and user-signing keys "must be signed
// by the accompanying master signing key, or by the user's most recently
// uploaded master signing key" (spec: "POST /keys/device_signing/upload").
func checkSignedByMaster(userID string, sent, stored map[string]parsedKey) error {
	master, ok := sent[api.UsageMaster]
	if !ok {
		master, ok = stored[api.UsageMaster]
	}
	for _, usage := range []string{api.UsageSelfSigning, api.UsageUserSigning} {
		k, sentKey := sent[usage]
		if !sentKey {
			continue
		}
		if !ok {
			return api.ErrNoMasterKey
		}
		if err := verifySignature(userID, master.KeyID, master.pub, k.KeyJSON); err != nil {
			return fmt.Errorf("%s key: %w", usage, err)
		}
	}
	return nil
}

// verifySignature checks signer's signature with the key keyID on a signed
// object (spec: "Checking for a signature"); ErrInvalidSignature when it is
// missing or wrong.
func verifySignature(signer, keyID string, pub ed25519.PublicKey, signed json.RawMessage) error {
	if err := gomatrixserverlib.VerifyJSON(signer, gomatrixserverlib.KeyID(keyID), pub, signed); err != nil {
		return fmt.Errorf("%w: %s", api.ErrInvalidSignature, err.Error())
	}
	return nil
}

// storeCrossSigningKeys stores the changed keys. A new master or
// self-signing key changes what others trust of the user's devices, so it
// is a device-list change (spec: "Cross-signing": the uploader appears in
// device_lists.changed); the user-signing key is the user's own business.
func (u *UserAPI) storeCrossSigningKeys(ctx context.Context, localpart api.Localpart, changed []parsedKey) error {
	notify := false
	for _, k := range changed {
		if err := u.checkNotDeviceID(ctx, localpart, k); err != nil {
			return err
		}
		if err := u.store.SetCrossSigningKey(ctx, localpart, k.CrossSigningKey); err != nil {
			return err
		}
		notify = notify || k.Usage != api.UsageUserSigning
	}
	if !notify {
		return nil
	}
	return u.deviceListChanged(ctx, u.userID(localpart), "", false)
}

// checkNotDeviceID: "servers must ensure that device IDs will not collide
// with cross-signing public keys" (spec: "Cross-signing"); 403 as the
// upload endpoint defines.
func (u *UserAPI) checkNotDeviceID(ctx context.Context, localpart api.Localpart, k parsedKey) error {
	_, err := u.store.Device(ctx, localpart, api.DeviceID(k.publicKeyID()))
	switch {
	case err == nil:
		return api.ErrKeyIDInUse
	case errors.Is(err, api.ErrNoSuchDevice):
		return nil
	default:
		return err
	}
}
