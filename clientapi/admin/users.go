package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/myelin-im/myelin/internal/httputil"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// setupUsers registers the user administration routes: Synapse's
// /_synapse/admin/v1|v2/users… (user_admin_api) and the spec's
// /_matrix/client/v3/admin/whois and /v1/admin/suspend|lock.
func (a *Admin) setupUsers(r *mux.Router, p prefixed) {
	p.Handle("/v2/users", a.admin(a.listUsers)).Methods(http.MethodGet)
	p.Handle("/v2/users/{userId}", a.admin(a.queryUser)).Methods(http.MethodGet)
	p.Handle("/v2/users/{userId}", a.admin(a.putUser)).Methods(http.MethodPut)
	p.Handle("/v1/users/{userId}/admin", a.admin(a.getUserAdmin)).Methods(http.MethodGet)
	p.Handle("/v1/users/{userId}/admin", a.admin(a.putUserAdmin)).Methods(http.MethodPut)
	p.Handle("/v1/users/{userId}/joined_rooms", a.admin(a.joinedRooms)).Methods(http.MethodGet)
	p.Handle("/v1/users/{userId}/login", a.admin(a.loginAsUser)).Methods(http.MethodPost)
	p.Handle("/v1/deactivate/{userId}", a.admin(a.deactivate)).Methods(http.MethodPost)
	p.Handle("/v1/reset_password/{userId}", a.admin(a.resetPassword)).Methods(http.MethodPost)
	p.Handle("/v1/whois/{userId}", a.admin(a.whois)).Methods(http.MethodGet)
	a.setupUserDevices(p)
	a.setupModeration(r, p)
}

// targetUser is the local user a request's path names: 400 M_INVALID_PARAM
// for another server's user, as Synapse answers ("Can only look up local
// users").
func (a *Admin) targetUser(r *http.Request) (userapi.Localpart, string, error) {
	userID := httputil.Vars(r)["userId"]
	local, ok := a.isLocal(userID)
	if !ok {
		return "", userID, httputil.InvalidParam("Can only manage local users")
	}
	return local, userID, nil
}

// errNoUser is Synapse's answer for an account that does not exist.
var errNoUser = httputil.NotFound("User not found")

// noUser maps the user API's missing account to 404 M_NOT_FOUND.
func noUser(err error) error {
	if errors.Is(err, userapi.ErrNoSuchAccount) {
		return errNoUser
	}
	return err
}

// existingUser is targetUser for an account that must exist.
func (a *Admin) existingUser(r *http.Request) (*userapi.AccountSummary, error) {
	local, _, err := a.targetUser(r)
	if err != nil {
		return nil, err
	}
	acct, err := a.d.Users.AccountSummary(r.Context(), local)
	return acct, noUser(err)
}

// userJSON is Synapse's user object of the list (and, with more fields,
// of the query).
func userJSON(u *userapi.AccountSummary) map[string]any {
	out := map[string]any{
		"name": u.UserID, "is_guest": false, "admin": u.IsAdmin, "user_type": nil,
		"deactivated": u.Deactivated, "erased": u.Erased, "shadow_banned": false,
		"displayname": u.DisplayName, "avatar_url": u.AvatarURL, "creation_ts": u.CreatedTS,
		"last_seen_ts": nil, "locked": u.Locked, "suspended": u.Suspended,
	}
	if u.LastSeenTS > 0 {
		out["last_seen_ts"] = u.LastSeenTS
	}
	return out
}

// boolParam parses a "true"/"false" query parameter (absent: nil).
func boolParam(q map[string][]string, name string) (*bool, error) {
	vs, ok := q[name]
	if !ok || len(vs) == 0 {
		return nil, nil
	}
	b, err := strconv.ParseBool(vs[0])
	if err != nil || (vs[0] != "true" && vs[0] != "false") {
		return nil, httputil.InvalidParam("Query parameter %q must be true or false", name)
	}
	return &b, nil
}

// GET /_synapse/admin/v2/users: Synapse's List Accounts (V2).
func (a *Admin) listUsers(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	q, err := accountQuery(r)
	if err != nil {
		return err
	}
	users, total, err := a.d.Users.ListAccounts(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(users))
	for i := range users {
		out[i] = userJSON(&users[i])
	}
	resp := map[string]any{"users": out, "total": total}
	if next := q.From + len(users); len(users) == q.Limit && next < total {
		resp["next_token"] = strconv.Itoa(next)
	}
	httputil.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// accountQuery reads the list's parameters, with Synapse's defaults
// (deactivated and locked users excluded, order by name, forwards).
func accountQuery(r *http.Request) (userapi.AccountQuery, error) {
	v := r.URL.Query()
	q := userapi.AccountQuery{Name: v.Get("name"), UserID: v.Get("user_id"), OrderBy: v.Get("order_by")}
	var err error
	if q.From, q.Limit, err = paging(v); err != nil {
		return q, err
	}
	if q.Limit == 0 {
		// A page of nothing would hand back a next_token that goes nowhere.
		return q, httputil.InvalidParam("Query parameter limit must be a positive integer")
	}
	if q.OrderBy == "" {
		q.OrderBy = "name"
	}
	if !validOrder[q.OrderBy] {
		return q, httputil.InvalidParam("Unknown value for order_by: %q", q.OrderBy)
	}
	switch v.Get("dir") {
	case "", "f":
	case "b":
		q.Backwards = true
	default:
		return q, httputil.InvalidParam("Unknown direction: %q", v.Get("dir"))
	}
	// Myelin has no guest accounts: guests=true or false lists the same.
	if _, err := boolParam(v, "guests"); err != nil {
		return q, err
	}
	if q.Admins, err = boolParam(v, "admins"); err != nil {
		return q, err
	}
	if q.Suspended, err = boolParam(v, "suspended"); err != nil {
		return q, err
	}
	for name, dst := range map[string]*bool{"deactivated": &q.Deactivated, "locked": &q.Locked} {
		b, err := boolParam(v, name)
		if err != nil {
			return q, err
		}
		*dst = b != nil && *b
	}
	return q, nil
}

// validOrder are Synapse's order_by values.
var validOrder = map[string]bool{
	"name": true, "is_guest": true, "admin": true, "user_type": true, "deactivated": true, "shadow_banned": true,
	"displayname": true, "avatar_url": true, "creation_ts": true, "last_seen_ts": true, "locked": true, "suspended": true,
}

// GET /_synapse/admin/v2/users/{userId}: Synapse's Query User Account.
func (a *Admin) queryUser(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	out, err := a.fullUserJSON(r, acct)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, out)
	return nil
}

// fullUserJSON is the query's user object: the list's, with 3PIDs and the
// fields Myelin has no use for as Synapse gives them when unset.
func (a *Admin) fullUserJSON(r *http.Request, acct *userapi.AccountSummary) (map[string]any, error) {
	tps, err := a.d.Users.Threepids(r.Context(), acct.Localpart)
	if err != nil {
		return nil, err
	}
	threepids := make([]map[string]any, len(tps))
	for i, t := range tps {
		threepids[i] = map[string]any{"medium": t.Medium, "address": t.Address, "added_at": t.AddedTS, "validated_at": t.ValidatedTS}
	}
	out := userJSON(acct)
	out["threepids"] = threepids
	out["external_ids"] = []any{}
	for _, k := range []string{"appservice_id", "consent_server_notice_sent", "consent_version", "consent_ts"} {
		out[k] = nil
	}
	return out, nil
}

// GET /_synapse/admin/v1/users/{userId}/admin
func (a *Admin) getUserAdmin(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]bool{"admin": acct.IsAdmin})
	return nil
}

// PUT /_synapse/admin/v1/users/{userId}/admin {"admin": bool}: an admin
// cannot demote themself (Synapse: 400), so a server keeps one.
func (a *Admin) putUserAdmin(w http.ResponseWriter, r *http.Request, c *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	var req struct {
		Admin *bool `json:"admin"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Admin == nil {
		return httputil.MissingParam("Missing key 'admin'")
	}
	if acct.UserID == c.Device.UserID && !*req.Admin {
		return httputil.BadRequestUnknown("You may not demote yourself.")
	}
	if err := a.d.Users.SetAdmin(r.Context(), acct.Localpart, *req.Admin); err != nil {
		return noUser(err)
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// GET /_synapse/admin/v1/users/{userId}/joined_rooms
func (a *Admin) joinedRooms(w http.ResponseWriter, r *http.Request, _ *Caller) error {
	acct, err := a.existingUser(r)
	if err != nil {
		return err
	}
	rooms, err := a.d.Rooms.JoinedRooms(r.Context(), acct.UserID)
	if err != nil {
		return err
	}
	if rooms == nil {
		rooms = []string{}
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"joined_rooms": rooms, "total": len(rooms)})
	return nil
}

// notFoundAs maps the user API's ErrNotFound to answer.
func notFoundAs(err, answer error) error {
	if errors.Is(err, userapi.ErrNotFound) {
		return answer
	}
	return err
}
