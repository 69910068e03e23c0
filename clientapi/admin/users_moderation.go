package admin

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupModeration registers the spec's account moderation endpoints
// (/_matrix/client/v1/admin/suspend|lock/{userId}, spec v1.18) and
// Synapse's PUT /_synapse/admin/v1/suspend/{userId}. Their effects are in
// the user API's token lookup (Device.Locked, Device.Suspended), enforced
// by userapi.Authenticate and the client API's routing.
func (a *Admin) setupModeration(r *mux.Router, p prefixed) {
	v1 := prefixed{r, "/_matrix/client/v1/admin"}
	for _, m := range []moderation{suspension, locking} {
		v1.Handle("/"+m.path+"/{userId}", a.admin(a.getModeration(m))).Methods(http.MethodGet)
		v1.Handle("/"+m.path+"/{userId}", a.admin(a.putModeration(m))).Methods(http.MethodPut)
	}
	p.Handle("/v1/suspend/{userId}", a.admin(a.synapseSuspend)).Methods(http.MethodPut)
	r.Handle("/_matrix/client/v3/admin/whois/{userId}", httputil.Handler(a.specWhois)).Methods(http.MethodGet)
}

// moderation is a reversible account state the spec lets admins set.
type moderation struct {
	path, key string
	get       func(*userapi.AccountSummary) bool
	set       func(u userapi.AccountAdmin, ctx context.Context, l userapi.Localpart, on bool) error
}

var (
	suspension = moderation{"suspend", "suspended",
		func(a *userapi.AccountSummary) bool { return a.Suspended }, userapi.AccountAdmin.SetSuspended}
	locking = moderation{"lock", "locked",
		func(a *userapi.AccountSummary) bool { return a.Locked }, userapi.AccountAdmin.SetLocked}
)

// moderationTarget is the account a moderation request names, with the
// spec's answers (authorisation is checked before, by the admin guard):
// another server's user 400 M_INVALID_PARAM, a missing or deactivated
// account 404 M_NOT_FOUND, another admin 403 M_FORBIDDEN.
func (a *Admin) moderationTarget(r *http.Request) (*userapi.AccountSummary, error) {
	local, _, err := a.targetUser(r)
	if err != nil {
		return nil, httputil.InvalidParam("User does not belong to the local server.")
	}
	acct, err := a.d.Users.AccountSummary(r.Context(), local)
	if err != nil {
		return nil, noUser(err)
	}
	if acct.Deactivated {
		return nil, errNoUser
	}
	return acct, nil
}

// GET /_matrix/client/v1/admin/{suspend|lock}/{userId}
func (a *Admin) getModeration(m moderation) handler {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		acct, err := a.moderationTarget(r)
		if err != nil {
			return err
		}
		if acct.IsAdmin && acct.UserID != c.Device.UserID {
			return httputil.Forbidden("The target user is a server administrator.")
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]bool{m.key: m.get(acct)})
		return nil
	}
}

// PUT /_matrix/client/v1/admin/{suspend|lock}/{userId} {"suspended"|"locked": bool}
func (a *Admin) putModeration(m moderation) handler {
	return func(w http.ResponseWriter, r *http.Request, c *Caller) error {
		acct, err := a.moderationTarget(r)
		if err != nil {
			return err
		}
		var body map[string]any
		if err := httputil.ReadJSON(r, &body); err != nil {
			return err
		}
		on, ok := body[m.key].(bool)
		if _, present := body[m.key]; !present {
			return httputil.MissingParam("Missing key '%s'", m.key)
		} else if !ok {
			return httputil.BadJSON("'%s' must be a boolean", m.key)
		}
		switch {
		case acct.UserID == c.Device.UserID:
			return httputil.Forbidden("You cannot %s your own account.", m.path)
		case acct.IsAdmin:
			return httputil.Forbidden("The target user is a server administrator.")
		}
		if err := m.set(a.d.Users, r.Context(), acct.Localpart, on); err != nil {
			return noUser(err)
		}
		httputil.WriteJSON(w, http.StatusOK, map[string]bool{m.key: on})
		return nil
	}
}

// PUT /_synapse/admin/v1/suspend/{userId} {"suspend": bool}: Synapse's
// form, which answers {"user_<userId>_suspended": bool}.
func (a *Admin) synapseSuspend(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	local, userID, err := a.targetUser(r)
	if err != nil {
		return err
	}
	var req struct {
		Suspend *bool `json:"suspend"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Suspend == nil {
		return httputil.MissingParam("Missing key 'suspend'")
	}
	acct, err := a.d.Users.AccountSummary(r.Context(), local)
	if err != nil {
		return noUser(err)
	}
	if acct.Deactivated {
		return httputil.BadRequestUnknown("User %s is deactivated", userID)
	}
	if err := a.d.Users.SetSuspended(r.Context(), local, *req.Suspend); err != nil {
		return noUser(err)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"user_" + userID + "_suspended": *req.Suspend})
	return nil
}
