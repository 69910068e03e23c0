package federationapi

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Local users' devices and keys for other servers (spec: server-server
// API, "End-to-End Encryption" and "Device Management"). Users of other
// servers in a request are skipped: each server answers for its own.

// POST /_matrix/federation/v1/user/keys/query
func (f *FederationAPI) userKeysQuery(w http.ResponseWriter, r *http.Request, _ spec.ServerName, body []byte) error {
	var req struct {
		DeviceKeys map[string][]userapi.DeviceID `json:"device_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.DeviceKeys == nil {
		return httputil.BadJSON("device_keys must map user IDs to lists of device IDs")
	}
	keys := map[string]map[userapi.DeviceID]json.RawMessage{}
	xs := userapi.CrossSigningKeys{}
	if f.opts.Profiles != nil {
		var err error
		if keys, err = f.opts.Profiles.QueryKeys(r.Context(), req.DeviceKeys); err != nil {
			return err
		}
		// Another server sees master and self-signing keys with their
		// owners' signatures, never a user-signing key.
		if xs, err = f.opts.Profiles.QueryCrossSigningKeys(r.Context(), "", slices.Collect(maps.Keys(req.DeviceKeys))); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"device_keys": keys, "master_keys": emptyIfNil(xs.Master), "self_signing_keys": emptyIfNil(xs.SelfSigning),
	})
	return nil
}

// emptyIfNil is m, or an empty map, so that an answer has {} there.
func emptyIfNil(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

// POST /_matrix/federation/v1/user/keys/claim
func (f *FederationAPI) userKeysClaim(w http.ResponseWriter, r *http.Request, _ spec.ServerName, body []byte) error {
	var req struct {
		OneTimeKeys map[string]map[userapi.DeviceID]string `json:"one_time_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.OneTimeKeys == nil {
		return httputil.BadJSON("one_time_keys must map user IDs to devices and algorithms")
	}
	keys := map[string]map[userapi.DeviceID]map[string]json.RawMessage{}
	if f.opts.Profiles != nil {
		var err error
		if keys, err = f.opts.Profiles.ClaimKeys(r.Context(), req.OneTimeKeys); err != nil {
			return err
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"one_time_keys": keys})
	return nil
}

// userDevice is one entry of GET /user/devices' devices.
type userDevice struct {
	DeviceID    userapi.DeviceID `json:"device_id"`
	DisplayName string           `json:"device_display_name,omitempty"`
	Keys        json.RawMessage  `json:"keys,omitempty"`
}

// GET /_matrix/federation/v1/user/devices/{userId}: the user's devices
// with their keys and display names, and stream_id, the user's latest
// position in the device-list stream, which m.device_list_update EDUs
// continue from (spec: "GET /_matrix/federation/v1/user/devices/{userId}").
func (f *FederationAPI) userDevices(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	userID, err := spec.NewUserID(httputil.Vars(r)["userId"], true)
	if err != nil || userID.Domain() != f.name {
		return httputil.InvalidParam("not a user of this server")
	}
	if f.opts.Profiles == nil {
		return httputil.NotFound("no such user")
	}
	ctx := r.Context()
	acct, err := f.opts.Profiles.Account(ctx, localpart(*userID))
	if errors.Is(err, userapi.ErrNoSuchAccount) || (err == nil && acct.Deactivated) {
		return httputil.NotFound("no such user")
	}
	if err != nil {
		return err
	}
	// The position first: a change after it is sent as an update that
	// follows it, so the answer is never newer than its stream_id.
	streamID, err := f.opts.Profiles.DeviceListStreamID(ctx, userID.String())
	if err != nil {
		return err
	}
	devs, err := f.opts.Profiles.Devices(ctx, localpart(*userID))
	if err != nil {
		return err
	}
	keys, err := f.opts.Profiles.QueryKeys(ctx, map[string][]userapi.DeviceID{userID.String(): nil})
	if err != nil {
		return err
	}
	out := make([]userDevice, 0, len(devs))
	for _, d := range devs {
		out = append(out, userDevice{DeviceID: d.ID, DisplayName: d.DisplayName, Keys: keys[userID.String()][d.ID]})
	}
	answer := map[string]any{"user_id": userID.String(), "stream_id": streamID, "devices": out}
	xs, err := f.opts.Profiles.QueryCrossSigningKeys(ctx, "", []string{userID.String()})
	if err != nil {
		return err
	}
	if k, ok := xs.Master[userID.String()]; ok {
		answer["master_key"] = k
	}
	if k, ok := xs.SelfSigning[userID.String()]; ok {
		answer["self_signing_key"] = k
	}
	httputil.WriteJSON(w, http.StatusOK, answer)
	return nil
}
