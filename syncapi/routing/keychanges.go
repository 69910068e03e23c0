package routing

import (
	"net/http"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /v3/keys/changes?from=&to=: the users sharing a room with the caller
// (and the caller) whose device lists changed between two /sync tokens
// (spec: "GET /keys/changes"). It is served here, beside /sync, because
// its parameters are sync tokens and its answer must agree with
// device_lists.changed: both read the tokens' device-list positions.
//
// NOTSPEC: left is always empty. Users who stopped sharing a room between
// the tokens are reported in /sync's device_lists.left; a client that asks
// here after a gap has synced past those changes anyway.
func (rt *Routes) keyChanges(w http.ResponseWriter, r *http.Request, dev *userapi.Device) error {
	q := r.URL.Query()
	from, err := keyChangesToken(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := keyChangesToken(q.Get("to"), "to")
	if err != nil {
		return err
	}
	// A token without a device-list position (an older one) reads as the
	// stream's start (from) or its end (to): naming too many users only
	// makes the client query their keys again; too few would leave it
	// encrypting for devices it does not know.
	users, _, err := rt.users.DeviceListChanges(r.Context(), max(from.dl, 0), to.dl)
	if err != nil {
		return err
	}
	peers := rt.notifier.Peers(dev.UserID)
	changed := []string{}
	for _, u := range users {
		if _, ok := peers[u]; ok {
			changed = append(changed, u)
		}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"changed": changed, "left": []string{}})
	return nil
}

// keyChangesToken reads the sync token given as the parameter name.
func keyChangesToken(tok, name string) (syncToken, error) {
	if tok == "" {
		return syncToken{}, httputil.MissingParam("The %s parameter is required", name)
	}
	return parseSyncToken(tok)
}
