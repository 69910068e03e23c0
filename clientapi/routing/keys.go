package routing

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/userapi/api"
)

// End-to-end encryption keys (spec: "Key management API"). The server
// stores and returns keys exactly as devices upload them; it never sees
// what they protect.

func (rt *Routes) setupKeys(v3 prefixed) {
	v3.Handle("/keys/upload", rt.authed(rt.uploadKeys)).Methods(http.MethodPost)
	v3.Handle("/keys/query", rt.authed(rt.queryKeys)).Methods(http.MethodPost)
	v3.Handle("/keys/claim", rt.authed(rt.claimKeys)).Methods(http.MethodPost)
}

// defaultRemoteKeysTimeout is how long other servers are waited for when
// the request names no timeout (spec: "POST /keys/query", timeout,
// "Defaults to 10 seconds").
const defaultRemoteKeysTimeout = 10 * time.Second

// remoteKeysTimeout is a request's timeout in milliseconds, or the default.
func remoteKeysTimeout(ms *int64) time.Duration {
	if ms == nil || *ms <= 0 {
		return defaultRemoteKeysTimeout
	}
	return time.Duration(min(*ms, 60_000)) * time.Millisecond
}

// noFederation is the failures entry of another server's users when this
// process does not run federation.
var noFederation = fedapi.KeyFailure{Status: http.StatusServiceUnavailable, Message: "federation is not running"}

// POST /v3/keys/upload
func (rt *Routes) uploadKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	counts, err := rt.users.UploadKeys(r.Context(), dev.Localpart, dev.ID, api.KeyUpload{
		DeviceKeys:   req.DeviceKeys,
		OneTimeKeys:  req.OneTimeKeys,
		FallbackKeys: req.FallbackKeys,
	})
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"one_time_key_counts": counts})
	return nil
}

// splitByServer checks user IDs and returns this server's and the
// others'.
func (rt *Routes) splitByServer(userIDs []string) (local, remote []string, err error) {
	for _, id := range userIDs {
		_, server, err := mxid.ParseUserID(id)
		if err != nil {
			return nil, nil, invalidParam(err)
		}
		if server == rt.opts.ServerName {
			local = append(local, id)
		} else {
			remote = append(remote, id)
		}
	}
	return local, remote, nil
}

// noFederationFailures are the failures of remote's servers without
// federation.
func noFederationFailures(remote []string) map[string]fedapi.KeyFailure {
	out := map[string]fedapi.KeyFailure{}
	for _, id := range remote {
		_, server, _ := strings.Cut(id, ":")
		out[server] = noFederation
	}
	return out
}

// POST /v3/keys/query. A device list that is not a list (Element iOS once
// sent an object) is 400 M_BAD_JSON (Complement
// TestKeysQueryWithDeviceIDAsObjectFails).
func (rt *Routes) queryKeys(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	var req struct {
		DeviceKeys map[string][]api.DeviceID `json:"device_keys"`
		Timeout    *int64                    `json:"timeout"` // only for remote servers
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.DeviceKeys == nil {
		return httputil.BadJSON("device_keys is required")
	}
	local, remote, err := rt.splitByServer(slices.Collect(maps.Keys(req.DeviceKeys)))
	if err != nil {
		return err
	}
	query := make(map[string][]api.DeviceID, len(local))
	for _, id := range local {
		query[id] = req.DeviceKeys[id]
	}
	keys, err := rt.users.QueryKeys(r.Context(), query)
	if err != nil {
		return err
	}
	xs, err := rt.users.QueryCrossSigningKeys(r.Context(), dev.UserID, local)
	if err != nil {
		return err
	}
	out := map[string]any{
		"master_keys":       nonNil(xs.Master),
		"self_signing_keys": nonNil(xs.SelfSigning),
		"user_signing_keys": nonNil(xs.UserSigning),
	}
	deviceKeys := make(map[string]any, len(req.DeviceKeys))
	for u, k := range keys {
		deviceKeys[u] = k
	}
	failures, err := rt.queryRemoteKeys(r, dev.UserID, req.DeviceKeys, remote, remoteKeysTimeout(req.Timeout), deviceKeys, out)
	if err != nil {
		return err
	}
	out["device_keys"], out["failures"] = deviceKeys, failures
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// queryRemoteKeys asks federation for the keys of the remote users and
// adds them to deviceKeys and out's cross-signing keys, with requester's
// own signatures on their master keys (which their servers never see);
// it returns the failures by server name.
func (rt *Routes) queryRemoteKeys(
	r *http.Request, requester string, asked map[string][]api.DeviceID, remote []string, timeout time.Duration,
	deviceKeys map[string]any, out map[string]any,
) (map[string]fedapi.KeyFailure, error) {
	if len(remote) == 0 {
		return map[string]fedapi.KeyFailure{}, nil
	}
	if rt.opts.RemoteKeys == nil {
		return noFederationFailures(remote), nil
	}
	query := make(map[string][]string, len(remote))
	for _, id := range remote {
		query[id] = make([]string, 0, len(asked[id]))
		for _, d := range asked[id] {
			query[id] = append(query[id], string(d))
		}
	}
	res, err := rt.opts.RemoteKeys.QueryRemoteKeys(r.Context(), query, timeout)
	if err != nil {
		return nil, err
	}
	for u, k := range res.DeviceKeys {
		deviceKeys[u] = k
	}
	masters, err := rt.users.WithRequesterSignatures(r.Context(), requester, res.MasterKeys)
	if err != nil {
		return nil, err
	}
	maps.Copy(out["master_keys"].(map[string]json.RawMessage), masters)
	maps.Copy(out["self_signing_keys"].(map[string]json.RawMessage), res.SelfSigningKeys)
	return res.Failures, nil
}

// nonNil is m, or an empty map for none, so that the answer has {} there.
func nonNil(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

// POST /v3/keys/claim
func (rt *Routes) claimKeys(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
	var req struct {
		OneTimeKeys map[string]map[api.DeviceID]string `json:"one_time_keys"`
		Timeout     *int64                             `json:"timeout"` // only for remote servers
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.OneTimeKeys == nil {
		return httputil.BadJSON("one_time_keys is required")
	}
	local, remote, err := rt.splitByServer(slices.Collect(maps.Keys(req.OneTimeKeys)))
	if err != nil {
		return err
	}
	claim := make(map[string]map[api.DeviceID]string, len(local))
	for _, id := range local {
		claim[id] = req.OneTimeKeys[id]
	}
	keys, err := rt.users.ClaimKeys(r.Context(), claim)
	if err != nil {
		return err
	}
	out := make(map[string]any, len(keys))
	for u, k := range keys {
		out[u] = k
	}
	failures := map[string]fedapi.KeyFailure{}
	switch {
	case len(remote) == 0:
	case rt.opts.RemoteKeys == nil:
		failures = noFederationFailures(remote)
	default:
		remoteClaim := make(map[string]map[string]string, len(remote))
		for _, id := range remote {
			remoteClaim[id] = map[string]string{}
			for d, alg := range req.OneTimeKeys[id] {
				remoteClaim[id][string(d)] = alg
			}
		}
		var got map[string]map[string]map[string]json.RawMessage
		got, failures, err = rt.opts.RemoteKeys.ClaimRemoteKeys(r.Context(), remoteClaim, remoteKeysTimeout(req.Timeout))
		if err != nil {
			return err
		}
		for u, k := range got {
			out[u] = k
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"one_time_keys": out, "failures": failures})
	return nil
}
