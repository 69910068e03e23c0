// Package routing holds the Client-Server API's HTTP handlers
// (`/_matrix/client/*`) and the Synapse-compatible admin registration.
package routing

import (
	"maps"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"

	"github.com/myelin-im/myelin/clientapi/auth"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/ratelimit"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Registration modes.
const (
	RegistrationOpen     = "open"
	RegistrationToken    = "token"
	RegistrationDisabled = "disabled"
)

// Limit is a token-bucket rate: PerSecond on average, Burst at once.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Options configure the client API routes.
type Options struct {
	ServerName   string
	Registration string
	// MsisdnRegistration is required, optional or off (config.Msisdn).
	MsisdnRegistration       string
	RegistrationSharedSecret string
	PasswordMinLength        int
	WellKnownBaseURL         string
	RateLimitsEnabled        bool
	LoginLimit               Limit // failed logins, per user and per IP
	RegistrationLimit        Limit // per IP
	RequestLimit             Limit // per access token
	Log                      logrus.FieldLogger
	// RemoteProfiles, when federation runs in this process, fetches the
	// profiles of other servers' users.
	RemoteProfiles fedapi.RemoteProfiles
	// RemoteRooms, when federation runs in this process, joins rooms on
	// other servers and resolves their aliases.
	RemoteRooms fedapi.RemoteRooms
	// RemoteKeys, when federation runs in this process, reads other
	// servers' users' keys and sends them to-device messages.
	RemoteKeys fedapi.RemoteKeys
	// RemoteSpaces, when federation runs in this process, describes
	// spaces on other servers for GET /hierarchy.
	RemoteSpaces fedapi.RemoteSpaces
	// UnstableFeatures are the other components' unstable features
	// (im.myelin.transcribe), advertised by /versions beside
	// UnstableFeatures.
	UnstableFeatures map[string]bool
	// DefaultRoomVersion is the version the roomserver gives rooms created
	// without one, which /capabilities advertises ("": the roomserver's
	// built-in default).
	DefaultRoomVersion string
	// TURN is what GET /voip/turnServer hands out (no URIs: {}).
	TURN config.TURN
	// Support is served at /.well-known/matrix/support (empty: 404).
	Support config.Support
	// ServerNoticesUser is the user server notices come from ("": off):
	// its invites cannot be rejected.
	ServerNoticesUser string
}

// Routes serves the client API.
type Routes struct {
	opts  Options
	users api.UserAPI
	rooms roomapi.Roomserver
	cache cache.Cache
	uia   *auth.Sessions
	// unstable is what /versions advertises in unstable_features.
	unstable map[string]bool

	loginByUser, loginByIP, registerByIP, requests *ratelimit.Limiter
	// upgrades runs one room upgrade per (room, version, user) at a time:
	// a repeated request gets the same replacement room (upgrade.go).
	upgrades singleflight.Group
}

// Setup registers every client API route on r.
func Setup(r *mux.Router, opts Options, users api.UserAPI, rooms roomapi.Roomserver, c cache.Cache) *Routes {
	rt := &Routes{opts: opts, users: users, rooms: rooms, cache: c, uia: auth.NewSessions(c, 30*time.Minute)}
	rt.unstable = maps.Clone(UnstableFeatures)
	maps.Copy(rt.unstable, opts.UnstableFeatures)
	if opts.RateLimitsEnabled {
		rt.loginByUser = ratelimit.New(opts.LoginLimit.PerSecond, opts.LoginLimit.Burst)
		rt.loginByIP = ratelimit.New(opts.LoginLimit.PerSecond, opts.LoginLimit.Burst)
		rt.registerByIP = ratelimit.New(opts.RegistrationLimit.PerSecond, opts.RegistrationLimit.Burst)
		rt.requests = ratelimit.New(opts.RequestLimit.PerSecond, opts.RequestLimit.Burst)
	}

	r.Handle("/.well-known/matrix/client", httputil.Handler(rt.wellKnown)).Methods(http.MethodGet)
	r.Handle("/.well-known/matrix/support", httputil.Handler(rt.wellKnownSupport)).Methods(http.MethodGet)
	// Routes are registered on the root router with full paths: gorilla/mux
	// subrouters answer 404 instead of 405 for a known path with the wrong method.
	c1 := prefixed{r, "/_matrix/client"}
	v3 := prefixed{r, "/_matrix/client/v3"}
	admin := prefixed{r, "/_synapse/admin/v1"}
	c1.Handle("/versions", httputil.Handler(rt.versions)).Methods(http.MethodGet)

	v3.Handle("/capabilities", rt.authed(rt.capabilities)).Methods(http.MethodGet)

	v3.Handle("/register", httputil.Handler(rt.register)).Methods(http.MethodPost)
	v3.Handle("/register/available", httputil.Handler(rt.registerAvailable)).Methods(http.MethodGet)
	c1.Handle("/v1/register/m.login.registration_token/validity", httputil.Handler(rt.registrationTokenValidity)).Methods(http.MethodGet)
	c1.Handle("/v1/room_summary/{roomIdOrAlias}", httputil.Handler(rt.roomSummary)).Methods(http.MethodGet)
	// MSC3266's unstable path, which clients use until /versions lists v1.15.
	c1.Handle("/unstable/im.nheko.summary/summary/{roomIdOrAlias}", httputil.Handler(rt.roomSummary)).Methods(http.MethodGet)
	c1.Handle("/v1/rooms/{roomId}/hierarchy", rt.authed(rt.hierarchy)).Methods(http.MethodGet)
	c1.Handle("/v1/mutual_rooms", rt.authed(rt.mutualRooms)).Methods(http.MethodGet)
	c1.Handle("/v1/appservice/{appserviceId}/ping", rt.authed(rt.pingAppService)).Methods(http.MethodPost)
	r.Handle(msc2666Prefix+"/user/mutual_rooms", rt.authed(rt.mutualRooms)).Methods(http.MethodGet)

	v3.Handle("/login", httputil.Handler(rt.loginFlows)).Methods(http.MethodGet)
	v3.Handle("/login", httputil.Handler(rt.login)).Methods(http.MethodPost)
	v3.Handle("/logout", rt.authedEvenLocked(rt.logout)).Methods(http.MethodPost)
	v3.Handle("/logout/all", rt.authedEvenLocked(rt.logoutAll)).Methods(http.MethodPost)
	v3.Handle("/refresh", httputil.Handler(rt.refresh)).Methods(http.MethodPost)
	v3.Handle("/account/whoami", rt.authed(rt.whoami)).Methods(http.MethodGet)
	v3.Handle("/account/password", rt.authed(rt.changePassword)).Methods(http.MethodPost)
	v3.Handle("/account/deactivate", rt.authed(rt.deactivate)).Methods(http.MethodPost)

	v3.Handle("/devices", rt.authed(rt.listDevices)).Methods(http.MethodGet)
	v3.Handle("/devices/{deviceId}", rt.authed(rt.getDevice)).Methods(http.MethodGet)
	v3.Handle("/devices/{deviceId}", rt.authed(rt.updateDevice)).Methods(http.MethodPut)
	v3.Handle("/devices/{deviceId}", rt.authed(rt.deleteDevice)).Methods(http.MethodDelete)
	v3.Handle("/delete_devices", rt.authed(rt.deleteDevices)).Methods(http.MethodPost)

	v3.Handle("/profile/{userId}", httputil.Handler(rt.getProfile)).Methods(http.MethodGet)
	v3.Handle("/profile/{userId}/{keyName}", httputil.Handler(rt.getProfileField)).Methods(http.MethodGet)
	v3.Handle("/profile/{userId}/{keyName}", rt.unlessSuspended(rt.setProfileField)).Methods(http.MethodPut)
	v3.Handle("/profile/{userId}/{keyName}", rt.unlessSuspended(rt.deleteProfileField)).Methods(http.MethodDelete)

	v3.Handle("/user/{userId}/account_data/{type}", rt.authed(rt.getAccountData)).Methods(http.MethodGet)
	v3.Handle("/user/{userId}/account_data/{type}", rt.authed(rt.putAccountData)).Methods(http.MethodPut)
	v3.Handle("/user/{userId}/rooms/{roomId}/account_data/{type}", rt.authed(rt.getAccountData)).Methods(http.MethodGet)
	v3.Handle("/user/{userId}/rooms/{roomId}/account_data/{type}", rt.authed(rt.putAccountData)).Methods(http.MethodPut)

	v3.Handle("/sendToDevice/{eventType}/{txnId}", rt.authed(rt.sendToDevice)).Methods(http.MethodPut)
	v3.Handle("/user/{userId}/openid/request_token", rt.authed(rt.requestOpenIDToken)).Methods(http.MethodPost)
	v3.Handle("/voip/turnServer", rt.authed(rt.turnServer)).Methods(http.MethodGet)

	rt.setupRooms(v3)
	rt.setupDirectory(v3)
	rt.setupKeys(v3)
	rt.setupKeyBackup(v3)
	rt.setupCrossSigning(v3)
	rt.setupPushRules(v3)
	rt.setupTags(v3)
	rt.setupReports(v3)
	rt.setupDehydratedDevices(prefixed{r, msc3814Prefix})
	rt.setupPushers(v3)
	rt.setupMsisdn(v3, prefixed{r, myelinPrefix})
	rt.setupUserDirectory(v3)
	rt.setupFriends(prefixed{r, myelinPrefix})
	rt.setupThirdParty(v3)

	admin.Handle("/register", httputil.Handler(rt.sharedSecretNonce)).Methods(http.MethodGet)
	admin.Handle("/register", httputil.Handler(rt.sharedSecretRegister)).Methods(http.MethodPost)
	return rt
}

// prefixed registers routes under a path prefix on the root router.
type prefixed struct {
	r      *mux.Router
	prefix string
}

func (p prefixed) Handle(path string, h http.Handler) *mux.Route {
	return p.r.Handle(p.prefix+path, h)
}
