package federationapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/myelin-im/myelin/internal/httputil"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// GET /_matrix/federation/v1/query/profile?user_id=&field=
func (f *FederationAPI) queryProfile(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	q := r.URL.Query()
	userID, err := spec.NewUserID(q.Get("user_id"), true)
	if err != nil {
		return httputil.InvalidParam("user_id is not a user ID")
	}
	if userID.Domain() != f.name {
		return httputil.InvalidParam("%s is not a user of this server", userID.String())
	}
	if f.opts.Profiles == nil {
		return httputil.NotFound("profile not found")
	}
	acct, err := f.opts.Profiles.Account(r.Context(), userapi.Localpart(userID.Local()))
	if errors.Is(err, userapi.ErrNoSuchAccount) || (err == nil && acct.Deactivated) {
		return httputil.NotFound("profile not found")
	}
	if err != nil {
		return err
	}
	fields, err := f.opts.Profiles.Profile(r.Context(), userapi.Localpart(userID.Local()))
	if err != nil {
		return err
	}
	out := map[string]json.RawMessage{}
	if field := q.Get("field"); field != "" {
		if v, ok := fields[field]; ok {
			out[field] = v
		}
	} else {
		out = fields
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// GET /_matrix/federation/v1/query/directory?room_alias=
func (f *FederationAPI) queryDirectory(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	alias := r.URL.Query().Get("room_alias")
	if !strings.HasPrefix(alias, "#") || !strings.HasSuffix(alias, ":"+string(f.name)) {
		return httputil.NotFound("%q is not an alias of this server", alias)
	}
	if f.opts.Directory == nil {
		return httputil.NotFound("room alias not found")
	}
	roomID, err := f.opts.Directory.ResolveAlias(r.Context(), alias)
	if errors.Is(err, roomapi.ErrAliasNotFound) {
		return httputil.NotFound("room alias %s not found", alias)
	}
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"room_id": roomID, "servers": []spec.ServerName{f.name}})
	return nil
}

// localpart is a local user's localpart.
func localpart(u spec.UserID) userapi.Localpart { return userapi.Localpart(u.Local()) }

// GET /_matrix/federation/v1/user/devices/{userId}: the user's devices by ID
// and display name; a minimum until end-to-end encryption (no keys,
// stream_id 0, which the spec allows for a user without key changes).
func (f *FederationAPI) userDevices(w http.ResponseWriter, r *http.Request, _ spec.ServerName, _ []byte) error {
	userID, err := spec.NewUserID(httputil.Vars(r)["userId"], true)
	if err != nil || userID.Domain() != f.name {
		return httputil.InvalidParam("not a user of this server")
	}
	if f.opts.Profiles == nil {
		return httputil.NotFound("no such user")
	}
	acct, err := f.opts.Profiles.Account(r.Context(), localpart(*userID))
	if errors.Is(err, userapi.ErrNoSuchAccount) || (err == nil && acct.Deactivated) {
		return httputil.NotFound("no such user")
	}
	if err != nil {
		return err
	}
	devs, err := f.opts.Profiles.Devices(r.Context(), localpart(*userID))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(devs))
	for _, d := range devs {
		entry := map[string]any{"device_id": d.ID}
		if d.DisplayName != "" {
			entry["device_display_name"] = d.DisplayName
		}
		out = append(out, entry)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"user_id": userID.String(), "stream_id": 0, "devices": out})
	return nil
}
