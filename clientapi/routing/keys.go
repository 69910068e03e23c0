package routing

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"

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

// remoteKeysFailure is the failures entry of another server's users: key
// queries and claims over federation come in a later step.
var remoteKeysFailure = map[string]any{
	"status":  http.StatusServiceUnavailable,
	"message": "keys of other servers' users are not available yet",
}

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

// splitByServer checks user IDs and returns this server's, and the server
// names of the others (spec: failures are keyed by server name).
func (rt *Routes) splitByServer(userIDs []string) (local []string, remote map[string]any, err error) {
	remote = map[string]any{}
	for _, id := range userIDs {
		_, server, err := mxid.ParseUserID(id)
		if err != nil {
			return nil, nil, invalidParam(err)
		}
		if server == rt.opts.ServerName {
			local = append(local, id)
		} else {
			remote[server] = remoteKeysFailure
		}
	}
	return local, remote, nil
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
	local, failures, err := rt.splitByServer(slices.Collect(maps.Keys(req.DeviceKeys)))
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
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"device_keys":       keys,
		"failures":          failures,
		"master_keys":       xs.Master,
		"self_signing_keys": xs.SelfSigning,
		"user_signing_keys": xs.UserSigning,
	})
	return nil
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
	local, failures, err := rt.splitByServer(slices.Collect(maps.Keys(req.OneTimeKeys)))
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
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"one_time_keys": keys, "failures": failures})
	return nil
}
