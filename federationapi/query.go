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
