package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/matrix-org/gomatrixserverlib"

	"github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/storage"
)

// Keys of the end-to-end encryption module (spec: "Key Distribution"). The
// server checks who keys belong to and how they are named, never what they
// say: each key is stored as sent (compacted) and handed back unchanged.

// defaultKeyAlgorithm is counted even with no keys of it: clients (older
// Olm ones) take a missing count for "the server does not know", and
// Synapse always sends it.
const defaultKeyAlgorithm = "signed_curve25519"

var _ api.Keys = (*UserAPI)(nil)

// UploadKeys implements api.Keys.
func (u *UserAPI) UploadKeys(
	ctx context.Context, localpart api.Localpart, device api.DeviceID, up api.KeyUpload,
) (map[string]int, error) {
	deviceKeys, err := u.checkDeviceKeys(localpart, device, up.DeviceKeys)
	if err != nil {
		return nil, err
	}
	otks, err := parseKeys(up.OneTimeKeys)
	if err != nil {
		return nil, err
	}
	fallbacks, err := parseKeys(up.FallbackKeys)
	if err != nil {
		return nil, err
	}
	if err := oneFallbackPerAlgorithm(fallbacks); err != nil {
		return nil, err
	}
	var counts map[string]int
	err = u.store.WithTx(ctx, func(ctx context.Context) error {
		if err := u.storeDeviceKeys(ctx, localpart, device, deviceKeys); err != nil {
			return err
		}
		if err := u.storeOneTimeKeys(ctx, localpart, device, otks); err != nil {
			return err
		}
		for _, k := range fallbacks {
			if err := u.store.SetFallbackKey(ctx, localpart, device, k); err != nil {
				return err
			}
		}
		counts, err = u.store.OneTimeKeyCounts(ctx, localpart, device)
		return err
	})
	if err != nil {
		return nil, err
	}
	return withDefaultCount(counts), nil
}

// checkDeviceKeys checks an uploaded DeviceKeys object (spec: "POST
// /keys/upload": user_id and device_id "must match the user ID and device
// ID used when logging in"; algorithms, keys and signatures are required)
// and returns it compacted; nil when none was sent.
func (u *UserAPI) checkDeviceKeys(localpart api.Localpart, device api.DeviceID, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var dk struct {
		UserID     *string                      `json:"user_id"`
		DeviceID   *string                      `json:"device_id"`
		Algorithms []string                     `json:"algorithms"`
		Keys       map[string]string            `json:"keys"`
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &dk); err != nil || dk.UserID == nil || dk.DeviceID == nil {
		return nil, api.ErrBadDeviceKeys
	}
	if *dk.UserID != u.userID(localpart) || *dk.DeviceID != string(device) {
		return nil, api.ErrKeysNotYours
	}
	if dk.Algorithms == nil || dk.Keys == nil || dk.Signatures == nil {
		return nil, api.ErrBadDeviceKeys
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, api.ErrBadDeviceKeys
	}
	return buf.Bytes(), nil
}

// storeDeviceKeys stores a device's identity keys and, when they are new
// or different, records a device-list change so that others fetch them.
func (u *UserAPI) storeDeviceKeys(ctx context.Context, localpart api.Localpart, device api.DeviceID, keys json.RawMessage) error {
	if keys == nil {
		return nil
	}
	old, err := u.store.DeviceKeys(ctx, localpart, device)
	if err != nil || bytes.Equal(old, keys) {
		return err
	}
	if err := u.store.SetDeviceKeys(ctx, localpart, device, keys); err != nil {
		return err
	}
	return u.deviceListChanged(ctx, u.userID(localpart), device, false)
}

// storeOneTimeKeys stores the keys the device does not hold yet. A key ID
// it holds with the same key is an idempotent retry; with another key it is
// refused, as Synapse does, since a claimer could otherwise get a key the
// device no longer has.
func (u *UserAPI) storeOneTimeKeys(ctx context.Context, localpart api.Localpart, device api.DeviceID, keys []storage.OneTimeKey) error {
	if len(keys) == 0 {
		return nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.Algorithm + ":" + k.KeyID
	}
	held, err := u.store.OneTimeKeys(ctx, localpart, device, ids)
	if err != nil {
		return err
	}
	fresh := keys[:0:0]
	for i, k := range keys {
		old, ok := held[ids[i]]
		if !ok {
			fresh = append(fresh, k)
			continue
		}
		if !sameKey(old, k.KeyJSON) {
			return fmt.Errorf("%w: %s", api.ErrKeyConflict, ids[i])
		}
	}
	return u.store.InsertOneTimeKeys(ctx, localpart, device, fresh)
}

// sameKey compares two uploads of a key by their canonical JSON, without
// signatures: a client re-signing the same key has not changed it.
func sameKey(a, b json.RawMessage) bool {
	ca, errA := keyForComparison(a)
	cb, errB := keyForComparison(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func keyForComparison(k json.RawMessage) ([]byte, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(k, &obj) == nil && obj != nil {
		delete(obj, "signatures")
		var err error
		if k, err = json.Marshal(obj); err != nil {
			return nil, err
		}
	}
	return gomatrixserverlib.CanonicalJSON(k)
}

// parseKeys splits "<algorithm>:<key_id>" names (spec: "Key algorithms")
// and compacts the keys, each a string or an object, in name order.
func parseKeys(keys map[string]json.RawMessage) ([]storage.OneTimeKey, error) {
	out := make([]storage.OneTimeKey, 0, len(keys))
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		alg, id, ok := strings.Cut(name, ":")
		raw := bytes.TrimSpace(keys[name])
		if !ok || alg == "" || id == "" || len(raw) == 0 || raw[0] != '"' && raw[0] != '{' {
			return nil, fmt.Errorf("%w: %q", api.ErrBadKeyID, name)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("%w: %q", api.ErrBadKeyID, name)
		}
		out = append(out, storage.OneTimeKey{Algorithm: alg, KeyID: id, KeyJSON: buf.Bytes()})
	}
	return out, nil
}

// oneFallbackPerAlgorithm: the server keeps one fallback key per
// algorithm (spec: "POST /keys/upload", fallback_keys).
func oneFallbackPerAlgorithm(keys []storage.OneTimeKey) error {
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Algorithm] {
			return api.ErrTwoFallbackKeys
		}
		seen[k.Algorithm] = true
	}
	return nil
}

func withDefaultCount(counts map[string]int) map[string]int {
	if counts == nil {
		counts = map[string]int{}
	}
	if _, ok := counts[defaultKeyAlgorithm]; !ok {
		counts[defaultKeyAlgorithm] = 0
	}
	return counts
}

// localpartOf returns the localpart of a user ID of this server.
func (u *UserAPI) localpartOf(userID string) (api.Localpart, bool) {
	return api.LocalpartOf(userID, u.opts.ServerName)
}

// QueryKeys implements api.Keys.
func (u *UserAPI) QueryKeys(ctx context.Context, query map[string][]api.DeviceID) (map[string]map[api.DeviceID]json.RawMessage, error) {
	out := make(map[string]map[api.DeviceID]json.RawMessage, len(query))
	for userID, ids := range query {
		localpart, ok := u.localpartOf(userID)
		if !ok {
			continue
		}
		if len(ids) == 0 {
			ids = nil // every device
		}
		rows, err := u.store.QueryDeviceKeys(ctx, localpart, ids)
		if err != nil {
			return nil, err
		}
		// Signatures on devices are their owner's self-signing key's
		// (spec: "Key and signature security": visible to everyone).
		sigs, err := u.store.Signatures(ctx, userID, []string{userID})
		if err != nil {
			return nil, err
		}
		devices := make(map[api.DeviceID]json.RawMessage, len(rows))
		for _, r := range rows {
			k, err := withSignatures(r.KeyJSON, sigs, string(r.DeviceID))
			if err != nil {
				return nil, err
			}
			if devices[r.DeviceID], err = withDisplayName(k, r.DisplayName); err != nil {
				return nil, err
			}
		}
		out[userID] = devices
	}
	return out, nil
}

// withDisplayName adds the device's display name to its keys as
// unsigned.device_display_name (spec: DeviceKeys, "unsigned"), which the
// signatures do not cover.
func withDisplayName(keys json.RawMessage, name string) (json.RawMessage, error) {
	if name == "" {
		return keys, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(keys, &obj); err != nil {
		return nil, fmt.Errorf("userapi: stored device keys: %w", err)
	}
	unsigned := map[string]json.RawMessage{}
	if old, ok := obj["unsigned"]; ok {
		_ = json.Unmarshal(old, &unsigned) // not an object: replaced
	}
	n, err := json.Marshal(name)
	if err != nil {
		return nil, err
	}
	unsigned["device_display_name"] = n
	if obj["unsigned"], err = json.Marshal(unsigned); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// ClaimKeys implements api.Keys. Everything is claimed in one transaction,
// devices in a fixed order so that concurrent claims lock rows in the same
// order and cannot deadlock on PostgreSQL.
func (u *UserAPI) ClaimKeys(
	ctx context.Context, claim map[string]map[api.DeviceID]string,
) (map[string]map[api.DeviceID]map[string]json.RawMessage, error) {
	out := map[string]map[api.DeviceID]map[string]json.RawMessage{}
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		for _, userID := range sortedKeys(claim) {
			localpart, ok := u.localpartOf(userID)
			if !ok {
				continue
			}
			for _, device := range sortedKeys(claim[userID]) {
				k, ok, err := u.store.ClaimKey(ctx, localpart, device, claim[userID][device])
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if out[userID] == nil {
					out[userID] = map[api.DeviceID]map[string]json.RawMessage{}
				}
				out[userID][device] = map[string]json.RawMessage{k.Algorithm + ":" + k.KeyID: k.KeyJSON}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sortedKeys[K ~string, V any](m map[K]V) []K { return slices.Sorted(maps.Keys(m)) }

// OneTimeKeyCounts implements api.Keys.
func (u *UserAPI) OneTimeKeyCounts(ctx context.Context, localpart api.Localpart, device api.DeviceID) (map[string]int, error) {
	counts, err := u.store.OneTimeKeyCounts(ctx, localpart, device)
	if err != nil {
		return nil, err
	}
	return withDefaultCount(counts), nil
}

// UnusedFallbackKeyTypes implements api.Keys.
func (u *UserAPI) UnusedFallbackKeyTypes(ctx context.Context, localpart api.Localpart, device api.DeviceID) ([]string, error) {
	return u.store.UnusedFallbackKeyTypes(ctx, localpart, device)
}

// DeviceListChanges implements api.Keys.
func (u *UserAPI) DeviceListChanges(ctx context.Context, from, to int64) ([]string, int64, error) {
	return u.store.DeviceListChanges(ctx, from, to)
}

// deviceListChanged records that a user's device list changed (device,
// when one, added, changed or deleted), in the transaction of the change
// (ctx), and announces it on the bus in the same transaction, so /sync and
// federation hear of it exactly when it is stored.
func (u *UserAPI) deviceListChanged(ctx context.Context, userID string, device api.DeviceID, deleted bool) error {
	return u.store.WithTx(ctx, func(ctx context.Context) error {
		prev, err := u.store.DeviceListStreamID(ctx, userID)
		if err != nil {
			return err
		}
		pos, err := u.store.AppendDeviceListChange(ctx, userID)
		if err != nil || u.bus == nil {
			return err
		}
		body, err := json.Marshal(api.DeviceListChange{UserID: userID, Pos: pos, DeviceID: string(device), Deleted: deleted, PrevPos: prev})
		if err != nil {
			return err
		}
		return u.bus.Publish(ctx, api.DeviceListTopic, userID, body, nil)
	})
}

// DeviceListStreamID implements api.Keys.
func (u *UserAPI) DeviceListStreamID(ctx context.Context, userID string) (int64, error) {
	return u.store.DeviceListStreamID(ctx, userID)
}

// deleteDevices deletes devices with their tokens and keys (see
// storage.DeleteDevices) and records the device-list change when any
// existed; it returns the revoked access tokens' hashes.
func (u *UserAPI) deleteDevices(ctx context.Context, localpart api.Localpart, ids []api.DeviceID, except api.DeviceID) ([]string, error) {
	var revoked []string
	err := u.store.WithTx(ctx, func(ctx context.Context) error {
		gone, err := u.devicesToDelete(ctx, localpart, ids, except)
		if err != nil {
			return err
		}
		if revoked, _, err = u.store.DeleteDevices(ctx, localpart, ids, except); err != nil {
			return err
		}
		// One change per device: other servers hear of each deletion.
		for _, id := range gone {
			if err := u.deviceListChanged(ctx, u.userID(localpart), id, true); err != nil {
				return err
			}
		}
		return nil
	})
	return revoked, err
}

// devicesToDelete are the user's devices that DeleteDevices(ids, except)
// deletes: those of ids that exist, or (ids nil) all but except.
func (u *UserAPI) devicesToDelete(
	ctx context.Context, localpart api.Localpart, ids []api.DeviceID, except api.DeviceID,
) ([]api.DeviceID, error) {
	devices, err := u.store.Devices(ctx, localpart)
	if err != nil {
		return nil, err
	}
	var out []api.DeviceID
	for _, d := range devices {
		if ids == nil && d.ID != except || ids != nil && slices.Contains(ids, d.ID) {
			out = append(out, d.ID)
		}
	}
	return out, nil
}
