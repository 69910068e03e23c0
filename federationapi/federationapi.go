// Package federationapi is the Server-Server API: the HTTPS listener other
// Matrix servers talk to, request signing and verification, server keys
// and the client other components use to reach remote servers (spec:
// server-server API).
package federationapi

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/fclient"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	fedapi "github.com/myelin-im/myelin/federationapi/api"
	"github.com/myelin-im/myelin/federationapi/queue"
	"github.com/myelin-im/myelin/federationapi/resolve"
	"github.com/myelin-im/myelin/federationapi/storage"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	mediaapi "github.com/myelin-im/myelin/mediaapi/api"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	userapi "github.com/myelin-im/myelin/userapi/api"
)

// Profiles is what the federation API reads and writes of users: local
// users' profiles, devices and keys, the cache of other servers' users'
// device lists and the to-device messages other servers send.
type Profiles interface {
	Account(ctx context.Context, localpart userapi.Localpart) (*userapi.Account, error)
	Devices(ctx context.Context, localpart userapi.Localpart) ([]userapi.Device, error)
	Profile(ctx context.Context, localpart userapi.Localpart) (map[string]json.RawMessage, error)
	QueryKeys(ctx context.Context, query map[string][]userapi.DeviceID) (map[string]map[userapi.DeviceID]json.RawMessage, error)
	ClaimKeys(
		ctx context.Context, claim map[string]map[userapi.DeviceID]string,
	) (map[string]map[userapi.DeviceID]map[string]json.RawMessage, error)
	DeviceListStreamID(ctx context.Context, userID string) (int64, error)
	QueryCrossSigningKeys(ctx context.Context, requester string, userIDs []string) (userapi.CrossSigningKeys, error)
	userapi.RemoteDevices
}

// Options assemble the federation API.
type Options struct {
	ServerName string
	Version    string // the software version, for GET /v1/version
	Key        *signingkey.Key
	Config     config.FederationAPI
	DB         *sqlutil.DB
	Profiles   Profiles          // nil: profile queries answer 404
	Directory  roomapi.Directory // nil: directory queries answer 404, the room list is empty
	Cache      cache.Cache
	Rooms      roomapi.Federation // nil: room endpoints answer 404
	// Spaces describes rooms and their space children; nil: hierarchy
	// queries answer 404.
	Spaces     roomapi.Spaces
	Registerer prometheus.Registerer
	Log        logrus.FieldLogger

	// Media serves this server's media to other servers; nil: the media
	// endpoints answer 404.
	Media mediaapi.MediaAPI
	// MaxMediaBytes bounds the media fetched from other servers
	// (media_api.max_upload_bytes; 0: its default).
	MaxMediaBytes int64
	// OpenID exchanges OpenID tokens for their owner's user ID; nil: every
	// token is unknown.
	OpenID userapi.OpenID
	// PresenceDisabled drops m.presence EDUs both ways (presence.enabled).
	PresenceDisabled bool
}

// FederationAPI serves the Server-Server API and holds the federation client.
type FederationAPI struct {
	opts     Options
	name     spec.ServerName
	store    *storage.Storage
	keys     *keys
	keyRing  *gomatrixserverlib.KeyRing
	resolver *resolve.Resolver
	// Client signs and sends requests to other servers.
	Client fclient.FederationClient
	router *mux.Router
	now    func() time.Time
	txns   txnMemory

	// mediaClient sends the requests for remote media, whose answers are
	// streamed (Client reads answers whole, within 30 s).
	mediaClient *http.Client

	queues    *queue.Queues
	outputSub bus.Subscription
	deviceSub bus.Subscription // the user API's device-list changes
	// toDeviceSub: the user API's to-device messages for other servers.
	toDeviceSub bus.Subscription
	// bus and ephSubs: typing and receipts (ephemeral.go).
	bus      bus.Bus
	ephSubs  []bus.Subscription
	presence presenceBus
	// outside: knocks and their ends, per room and user (outsidelock.go).
	outside outsideLocks
}

var _ fedapi.FederationAPI = (*FederationAPI)(nil)

// New builds the federation API on db.
func New(ctx context.Context, opts Options) (*FederationAPI, error) {
	store, err := storage.New(ctx, opts.DB)
	if err != nil {
		return nil, err
	}
	cas, err := LoadCAs(opts.Config.TLSCA)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	f := &FederationAPI{opts: opts, name: spec.ServerName(opts.ServerName), store: store, now: time.Now}
	f.resolver = resolve.New(resolve.Options{
		Hosts:                opts.Config.Hosts,
		AllowPrivateNetworks: opts.Config.AllowPrivateNetworks,
		RootCAs:              cas,
	})
	f.Client = fclient.NewFederationClient(
		[]*fclient.SigningIdentity{{ServerName: f.name, KeyID: gomatrixserverlib.KeyID(opts.Key.ID), PrivateKey: opts.Key.Private}},
		fclient.WithTransport(f.resolver.Transport()), fclient.WithTimeout(30*time.Second),
		fclient.WithUserAgent("Myelin/"+opts.Version))
	f.mediaClient = &http.Client{
		Transport: f.resolver.Transport(),
		// A federation answer is the media or an error: never followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if f.opts.MaxMediaBytes <= 0 {
		f.opts.MaxMediaBytes = config.DefaultMaxUploadBytes
	}
	pub := opts.Key.Private.Public().(ed25519.PublicKey)
	own, err := store.RecordOwnKey(ctx, opts.Key.ID, base64.RawStdEncoding.EncodeToString(pub), f.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	f.keys = &keys{
		serverName: f.name,
		keyID:      gomatrixserverlib.KeyID(opts.Key.ID),
		private:    opts.Key.Private,
		own:        own,
		store:      store,
		client:     f.Client,
		now:        f.now,
		cache:      keyResults{},
	}
	// This server's own key needs no fetching.
	f.keys.remember(gomatrixserverlib.PublicKeyLookupRequest{ServerName: f.name, KeyID: gomatrixserverlib.KeyID(opts.Key.ID)},
		gomatrixserverlib.PublicKeyLookupResult{VerifyKey: gomatrixserverlib.VerifyKey{Key: spec.Base64Bytes(pub)},
			ValidUntilTS: spec.AsTimestamp(time.Now().Add(100 * 365 * 24 * time.Hour)), ExpiredTS: gomatrixserverlib.PublicKeyNotExpired})
	fetchers := []gomatrixserverlib.KeyFetcher{directFetcher{f.keys}}
	if len(opts.Config.TrustedKeyServers) > 0 {
		n := notaryFetcher{f: f}
		for _, s := range opts.Config.TrustedKeyServers {
			n.notaries = append(n.notaries, spec.ServerName(s))
		}
		fetchers = append(fetchers, n)
	}
	f.keyRing = &gomatrixserverlib.KeyRing{KeyDatabase: f.keys, KeyFetchers: fetchers}
	f.router = httputil.NewRouter()
	f.router.UseEncodedPath()
	f.routes()
	return f, nil
}

// Router is the federation listener's router (serve it through
// httputil.Wrap and TLS).
func (f *FederationAPI) Router() *mux.Router { return f.router }

// TLSConfig is the listener's TLS configuration.
func (f *FederationAPI) TLSConfig(dataDir string) (*tls.Config, error) {
	cert, err := LoadCertificate(f.opts.Config.TLSCert, f.opts.Config.TLSKey, dataDir, f.opts.ServerName)
	if err != nil {
		return nil, err
	}
	// HTTP/2 where the other side offers it: one connection per server,
	// and pings that notice a server gone silent (resolve's transport).
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// WellKnown serves /.well-known/matrix/server (404 when not configured);
// the client listener mounts it too.
func (f *FederationAPI) WellKnown(w http.ResponseWriter, r *http.Request) error {
	if f.opts.Config.WellKnownServer == "" {
		return httputil.NotFound("no delegation configured")
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"m.server": f.opts.Config.WellKnownServer})
	return nil
}

func (f *FederationAPI) routes() {
	r := f.router
	r.Handle("/.well-known/matrix/server", httputil.Handler(f.WellKnown)).Methods(http.MethodGet)
	r.Handle("/_matrix/key/v2/server", httputil.Handler(f.serverKeys)).Methods(http.MethodGet)
	r.Handle("/_matrix/key/v2/query", httputil.Handler(f.queryKeysPost)).Methods(http.MethodPost)
	r.Handle("/_matrix/key/v2/query/{serverName}", httputil.Handler(f.queryKeysGet)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/version", httputil.Handler(f.version)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/openid/userinfo", httputil.Handler(f.openIDUserInfo)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/query/profile", f.authed(f.queryProfile)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/query/directory", f.authed(f.queryDirectory)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/user/devices/{userId}", f.authed(f.userDevices)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/user/keys/query", f.authed(f.userKeysQuery)).Methods(http.MethodPost)
	r.Handle("/_matrix/federation/v1/user/keys/claim", f.authed(f.userKeysClaim)).Methods(http.MethodPost)
	r.Handle("/_matrix/federation/v1/make_join/{roomId}/{userId}", f.authed(f.makeJoin)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v2/send_join/{roomId}/{eventId}", f.authed(f.sendJoin)).Methods(http.MethodPut)
	// v1 (deprecated, still sent by older servers): the same, the answer
	// wrapped as [200, body].
	r.Handle("/_matrix/federation/v1/send_join/{roomId}/{eventId}", f.authed(v1Answer(f.sendJoin))).Methods(http.MethodPut)
	r.Handle("/_matrix/federation/v1/send_leave/{roomId}/{eventId}", f.authed(v1Answer(f.sendLeave))).Methods(http.MethodPut)
	r.Handle("/_matrix/federation/v1/make_leave/{roomId}/{userId}", f.authed(f.makeLeave)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v2/send_leave/{roomId}/{eventId}", f.authed(f.sendLeave)).Methods(http.MethodPut)
	r.Handle("/_matrix/federation/v1/send/{txnId}", f.authed(f.send)).Methods(http.MethodPut)
	r.Handle("/_matrix/federation/v1/publicRooms", f.authed(f.publicRooms)).Methods(http.MethodGet, http.MethodPost)
	r.Handle("/_matrix/federation/v1/hierarchy/{roomId}", f.authed(f.hierarchy)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/event/{eventId}", f.authed(f.getEvent)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/state/{roomId}", f.authed(f.getState(false))).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/state_ids/{roomId}", f.authed(f.getState(true))).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/event_auth/{roomId}/{eventId}", f.authed(f.eventAuth)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/backfill/{roomId}", f.authed(f.backfill)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/get_missing_events/{roomId}", f.authed(f.getMissingEvents)).Methods(http.MethodPost)
	r.Handle("/_matrix/federation/v1/timestamp_to_event/{roomId}", f.authed(f.timestampToEvent)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v2/invite/{roomId}/{eventId}", f.authed(f.receiveInvite)).Methods(http.MethodPut)
	f.knockRoutes()
	r.Handle("/_matrix/federation/v1/media/download/{mediaId}", f.authed(f.mediaDownload)).Methods(http.MethodGet)
	r.Handle("/_matrix/federation/v1/media/thumbnail/{mediaId}", f.authed(f.mediaThumbnail)).Methods(http.MethodGet)
}

// GET /_matrix/federation/v1/version
func (f *FederationAPI) version(w http.ResponseWriter, _ *http.Request) error {
	httputil.WriteJSON(w, http.StatusOK, map[string]any{"server": map[string]string{"name": "Myelin", "version": f.opts.Version}})
	return nil
}

// GET /_matrix/key/v2/server
func (f *FederationAPI) serverKeys(w http.ResponseWriter, _ *http.Request) error {
	b, err := f.keys.ownAnswer()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}
