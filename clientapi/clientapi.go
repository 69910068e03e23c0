// Package clientapi is the Client-Server HTTP surface (`/_matrix/client/*`):
// routing, access tokens, user-interactive auth, rate limits and request
// validation. It owns no data; it calls the other components' api interfaces.
package clientapi

import (
	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/clientapi/routing"
	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/userapi/api"
)

// Setup registers the client API on router. remote may be nil (no
// federation in this process); features are the unstable features the
// other components of this process serve (nil: none), advertised by
// /versions beside the client API's own.
func Setup(
	router *mux.Router,
	cfg *config.Config,
	users api.UserAPI,
	rooms roomapi.Roomserver,
	c cache.Cache,
	remote fedapi.Remote,
	features map[string]bool,
	log logrus.FieldLogger,
) {
	rl := cfg.ClientAPI.RateLimits
	routing.Setup(router, routing.Options{
		ServerName:               cfg.Global.ServerName,
		Registration:             cfg.ClientAPI.Registration,
		MsisdnRegistration:       cfg.UserAPI.Msisdn.Registration,
		RegistrationSharedSecret: cfg.ClientAPI.RegistrationSharedSecret,
		PasswordMinLength:        cfg.UserAPI.PasswordMinLength,
		WellKnownBaseURL:         cfg.ClientAPI.WellKnownBaseURL,
		RateLimitsEnabled:        rl.Enabled,
		LoginLimit:               routing.Limit{PerSecond: rl.Login.PerSecond, Burst: rl.Login.Burst},
		RegistrationLimit:        routing.Limit{PerSecond: rl.Registration.PerSecond, Burst: rl.Registration.Burst},
		RequestLimit:             routing.Limit{PerSecond: rl.Requests.PerSecond, Burst: rl.Requests.Burst},
		Log:                      log,
		RemoteProfiles:           remote,
		RemoteRooms:              remote,
		RemoteKeys:               remote,
		RemoteSpaces:             remote,
		UnstableFeatures:         features,
		DefaultRoomVersion:       cfg.RoomServer.DefaultRoomVersion,
		TURN:                     cfg.TURN,
		Support:                  cfg.Support,
		ServerNoticesUser:        cfg.ServerNotices.UserID(cfg.Global.ServerName),
	}, users, rooms, c)
}
