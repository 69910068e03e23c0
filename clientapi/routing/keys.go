package routing

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

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
	v3.Handle("/keys/changes", rt.authed(rt.keyChanges)).Methods(http.MethodGet)
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
func (rt *Routes) queryKeys(w http.ResponseWriter, r *http.Request, _ *api.Device) error {
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
	// Cross-signing keys are not stored yet: no user has any.
	httputil.WriteJSON(w, http.StatusOK, map[string]any{
		"device_keys":       keys,
		"failures":          failures,
		"master_keys":       map[string]any{},
		"self_signing_keys": map[string]any{},
		"user_signing_keys": map[string]any{},
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

// GET /v3/keys/changes?from=&to=: the users whose device lists changed
// between two /sync tokens, among those who share a room with the caller
// (spec: "GET /keys/changes"; "Tracking the device list for a user").
func (rt *Routes) keyChanges(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	q := r.URL.Query()
	from, err := deviceListPos(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := deviceListPos(q.Get("to"), "to")
	if err != nil {
		return err
	}
	users, _, err := rt.users.DeviceListChanges(r.Context(), from, to)
	if err != nil {
		return err
	}
	shared, err := rt.sharedRoomUsers(r.Context(), dev.UserID)
	if err != nil {
		return err
	}
	changed := []string{}
	for _, u := range users {
		if shared[u] {
			changed = append(changed, u)
		}
	}
	// TODO(device lists): "left" needs the users who stopped sharing a room
	// with the caller between the tokens, from the sync stream's membership
	// changes; none are reported yet.
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"changed": changed, "left": []string{}})
	return nil
}

// deviceListPos reads the device-list position of a /sync token given as
// parameter name.
//
// TODO(device lists): the sync token ("s<N>_<A>", syncapi/routing/tokens.go)
// does not carry a device-list position yet; it is being extended. Until
// it does, a well-formed token reads as "unknown", and unknown positions
// widen the answer (from: the stream's start; to: its end). Naming too many
// users is safe, since a client only queries their keys again; naming too
// few would leave it encrypting for devices it does not know.
func deviceListPos(tok, name string) (int64, error) {
	if tok == "" {
		return 0, httputil.MissingParam("The %s parameter is required", name)
	}
	rest, ok := strings.CutPrefix(tok, "s")
	if !ok || rest == "" || strings.Trim(rest, "0123456789_-") != "" {
		return 0, httputil.InvalidParam("Invalid sync token %q", tok)
	}
	if name == "from" {
		return 0, nil
	}
	return -1, nil
}

// sharedRoomUsers returns the users joined to a room the user is joined
// to, and the user.
func (rt *Routes) sharedRoomUsers(ctx context.Context, userID string) (map[string]bool, error) {
	rooms, err := rt.rooms.JoinedRooms(ctx, userID)
	if err != nil {
		return nil, err
	}
	users := map[string]bool{userID: true}
	for _, room := range rooms {
		members, err := rt.rooms.Members(ctx, room, "join")
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			users[m] = true
		}
	}
	return users, nil
}
