package routing

import (
	"context"
	"errors"
	"github.com/myelin-im/myelin/appservice"
	"net/http"
	"strconv"
	"strings"

	asapi "github.com/myelin-im/myelin/appservice/api"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/mxid"
	"github.com/myelin-im/myelin/userapi/api"
)

// loginAppService is the registration (and login) type of application
// services (spec: application service API, "Server admin style
// permissions").
const loginAppService = "m.login.application_service"

// appServiceHolder is a user API that knows the registered application
// services (appservice.Users).
type appServiceHolder interface {
	AppServices() *asapi.Registry
}

// appServices returns the registered application services (nil: none).
func (rt *Routes) appServices() *asapi.Registry {
	if h, ok := rt.users.(appServiceHolder); ok {
		return h.AppServices()
	}
	return nil
}

// exclusiveUser refuses a localpart an application service holds
// exclusively to anyone but that service (spec: 400 M_EXCLUSIVE).
func (rt *Routes) exclusiveUser(localpart string, as *asapi.Registration) error {
	userID := "@" + localpart + ":" + rt.opts.ServerName
	if owner := rt.appServices().ExclusiveUserOwner(userID); owner != nil && owner != as {
		return httputil.Exclusive("%s is reserved by an application service", userID)
	}
	return nil
}

// exclusiveAlias refuses an alias an application service holds exclusively
// to anyone but that service.
func (rt *Routes) exclusiveAlias(alias string, dev *api.Device) error {
	if owner := rt.appServices().ExclusiveAliasOwner(alias); owner != nil && owner.ID != dev.AppServiceID {
		return httputil.Exclusive("%s is reserved by an application service", alias)
	}
	return nil
}

// rateLimited reports whether a request made with tok by dev counts against
// the rate limits: an application service's do only when it asks for it
// (rate_limited).
func (rt *Routes) rateLimited(tok string, dev *api.Device) bool {
	if dev.AppServiceID == "" {
		return true
	}
	as := rt.appServices().ByToken(tok)
	return as == nil || as.IsRateLimited()
}

// registerAppService registers a user in the namespaces of as (spec:
// "Server admin style permissions"): no password, no user-interactive
// auth, no rate limit, and with the server's registration closed too.
func (rt *Routes) registerAppService(w http.ResponseWriter, r *http.Request, as *asapi.Registration) error {
	var req registerRequest
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Type != loginAppService {
		return httputil.BadRequestUnknown("Application services register with type %s", loginAppService)
	}
	local := strings.ToLower(req.Username)
	if local == "" {
		return httputil.MissingParam("Missing username")
	}
	if err := checkASLocalpart(local, rt.opts.ServerName); err != nil {
		return err
	}
	if !as.OwnsUser("@"+local+":"+rt.opts.ServerName, rt.opts.ServerName) {
		return httputil.Exclusive("@%s:%s is not in the application service's namespaces", local, rt.opts.ServerName)
	}
	if err := rt.exclusiveUser(local, as); err != nil {
		return err
	}
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return err
	}
	acct, err := rt.users.CreateAccount(r.Context(), api.CreateAccountRequest{Localpart: api.Localpart(local)})
	if err != nil {
		return err
	}
	httputil.Logger(r.Context()).WithField(httputil.FieldUserID, acct.UserID).WithField("appservice_id", as.ID).
		Info("application service registered a user")
	// MSC4190: a service managing its devices gets no access token, as if
	// it had set inhibit_login.
	if req.InhibitLogin || as.MSC4190 {
		httputil.WriteJSON(w, http.StatusOK, map[string]any{"user_id": acct.UserID, "home_server": rt.opts.ServerName})
		return nil
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: acct.Localpart, DeviceID: api.DeviceID(req.DeviceID), DisplayName: req.InitialDeviceDisplayName,
		IP: httputil.ClientIP(r), UserAgent: r.UserAgent(), Refreshable: req.RefreshToken,
	})
}

// createAppServiceDevice creates device id of the user an application
// service acts as, when the user does not have it yet (spec: application
// service API, "Creating devices"; MSC4190: 201 for a new device), and
// reports whether it did, having answered.
func (rt *Routes) createAppServiceDevice(
	w http.ResponseWriter, r *http.Request, dev *api.Device, id api.DeviceID, name *string,
) (bool, error) {
	if err := checkDeviceFields(string(id), name); err != nil {
		return false, err
	}
	created, err := rt.users.CreateDevice(r.Context(), dev.Localpart, id, name)
	if err != nil || !created {
		return false, err
	}
	httputil.Logger(r.Context()).WithField(httputil.FieldUserID, dev.UserID).WithField("appservice_id", dev.AppServiceID).
		WithField(httputil.FieldDeviceID, string(id)).Info("application service created a device")
	httputil.WriteJSON(w, http.StatusCreated, struct{}{})
	return true, nil
}

// checkASLocalpart is validateLocalpart without the reservation of "_",
// which is there for application services.
func checkASLocalpart(l, serverName string) error {
	if mxid.ValidateLocalpart(l) != nil { // spec appendices, "User Identifiers"
		return httputil.InvalidUsername("User ID can only contain characters a-z, 0-9, or '._=-/+'")
	}
	if len("@"+l+":"+serverName) > 255 {
		return httputil.InvalidUsername("User ID is longer than 255 bytes")
	}
	return nil
}

// massagedTS reads the ts query parameter with which an application service
// sets an event's origin_server_ts (spec: "Timestamp massaging"); 0 when
// absent or when the request is not an application service's, which may
// not set it.
func massagedTS(r *http.Request, dev *api.Device) (int64, error) {
	raw := r.URL.Query().Get("ts")
	if raw == "" || dev.AppServiceID == "" {
		return 0, nil
	}
	ts, err := strconv.ParseInt(raw, 10, 64)
	// origin_server_ts is a non-negative integer in JSON's safe range
	// (spec appendices, "Canonical JSON").
	if err != nil || ts <= 0 || ts > 1<<53-1 {
		return 0, httputil.InvalidParam("ts must be a timestamp in milliseconds")
	}
	return ts, nil
}

// loginAppService logs a user of an application service's namespaces in
// with its as_token (spec: "Server admin style permissions"): no token 401
// M_MISSING_TOKEN, an unknown one 401 M_UNKNOWN_TOKEN, a user outside the
// namespaces 403 M_EXCLUSIVE.
func (rt *Routes) loginAppService(w http.ResponseWriter, r *http.Request, req *loginRequest) error {
	tok := httputil.AccessToken(r)
	if tok == "" {
		return httputil.MissingToken("Missing as_token")
	}
	as := rt.appServices().ByToken(tok)
	if as == nil {
		return httputil.UnknownToken("Unknown as_token")
	}
	if as.MSC4190 {
		// MSC4190: the service manages its users' devices itself, with no
		// access tokens; Synapse answers its logins so too.
		return &httputil.MatrixError{Status: http.StatusBadRequest, ErrCode: "M_APPSERVICE_LOGIN_UNSUPPORTED",
			Message: "This application service manages its devices (io.element.msc4190); it cannot log in"}
	}
	local, err := rt.identifierLocalpart(r.Context(), req.Identifier, req.User)
	if err != nil {
		return err
	}
	userID := "@" + string(local) + ":" + rt.opts.ServerName
	if !as.OwnsUser(userID, rt.opts.ServerName) {
		return exclusiveForbidden("%s is not in the application service's namespaces", userID)
	}
	acct, err := rt.users.Account(r.Context(), local)
	if errors.Is(err, api.ErrNoSuchAccount) || errors.Is(err, api.ErrNotFound) || (err == nil && acct.Deactivated) {
		return httputil.Forbidden("The application service has not registered %s", userID)
	}
	if err != nil {
		return err
	}
	return rt.startSession(w, r, acct.UserID, api.NewSessionRequest{
		Localpart: acct.Localpart, DeviceID: api.DeviceID(req.DeviceID), DisplayName: req.InitialDeviceDisplayName,
		IP: httputil.ClientIP(r), UserAgent: r.UserAgent(), Refreshable: req.RefreshToken,
	})
}

// exclusiveForbidden is 403 M_EXCLUSIVE: acting outside the namespaces.
func exclusiveForbidden(format string, args ...any) *httputil.MatrixError {
	e := httputil.Exclusive(format, args...)
	e.Status = http.StatusForbidden
	return e
}

// pingClient calls application services. They are the operator's own,
// often on loopback or a private network, so no address is refused.
var pingClient = &http.Client{Timeout: appservice.PingTimeout}

// POST /v1/appservice/{appserviceId}/ping (spec: application service
// API, "Pinging"): only the service itself, with its as_token, may ask.
func (rt *Routes) pingAppService(w http.ResponseWriter, r *http.Request, dev *api.Device) error {
	id := httputil.Vars(r)["appserviceId"]
	as := rt.appServices().ByID(id)
	if dev.AppServiceID == "" || as == nil || dev.AppServiceID != as.ID {
		return httputil.Forbidden("Only the application service %q may ping itself", id)
	}
	var req struct {
		TransactionID string `json:"transaction_id"`
	}
	if err := httputil.ReadJSON(r, &req); err != nil {
		return err
	}
	took, err := appservice.Ping(r.Context(), pingClient, as, req.TransactionID)
	if err != nil {
		return err
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]int64{"duration_ms": took.Milliseconds()})
	return nil
}

// queryClient asks application services about aliases (see pingClient).
var queryClient = &http.Client{Timeout: appservice.QueryTimeout}

// queryAppServices asks the services whose namespaces hold an unknown alias
// whether it exists, and reports whether one has created it since.
func (rt *Routes) queryAppServices(ctx context.Context, alias string) bool {
	reg := rt.appServices()
	if len(reg.All()) == 0 {
		return false
	}
	return appservice.QueryAlias(ctx, queryClient, reg, alias, httputil.Logger(ctx))
}

// queryAppServiceUser asks the services whose user namespaces hold an
// unknown local user whether it exists, and reports whether one has
// registered it since.
func (rt *Routes) queryAppServiceUser(ctx context.Context, userID string) bool {
	reg := rt.appServices()
	if len(reg.All()) == 0 {
		return false
	}
	return appservice.QueryUser(ctx, queryClient, reg, userID, httputil.Logger(ctx))
}

// ensureAppServiceUser asks the services whose user namespaces hold userID,
// a user of this server without an account, whether it exists, so that
// the bridge can register it before it is invited (spec: application
// service API, "Querying", GET /_matrix/app/v1/users/{userId}). An
// existing user, another server's, or one no service holds is not asked
// about; an unanswered query leaves the invite to go on as it would.
func (rt *Routes) ensureAppServiceUser(ctx context.Context, userID string) {
	reg := rt.appServices()
	if len(reg.All()) == 0 {
		return
	}
	local := reg.Localpart(userID)
	if local == "" {
		return
	}
	if _, err := rt.users.Account(ctx, api.Localpart(local)); errors.Is(err, api.ErrNoSuchAccount) {
		rt.queryAppServiceUser(ctx, userID)
	}
}
