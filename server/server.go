// Package server assembles Myelin's components into a running homeserver:
// it opens the shared infrastructure (database, cache, bus), builds the
// components a process runs in dependency order from one flat table, and
// serves their HTTP listeners until it is shut down. cmd/myelin and the
// end-to-end tests use it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/myelin-im/myelin/appservice"
	asapi "github.com/myelin-im/myelin/appservice/api"
	asstorage "github.com/myelin-im/myelin/appservice/storage"
	"github.com/myelin-im/myelin/federationapi"
	"github.com/myelin-im/myelin/internal/bus"
	"github.com/myelin-im/myelin/internal/cache"
	"github.com/myelin-im/myelin/internal/config"
	"github.com/myelin-im/myelin/internal/httputil"
	"github.com/myelin-im/myelin/internal/signingkey"
	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/mediaapi"
	"github.com/myelin-im/myelin/roomserver"
	roomapi "github.com/myelin-im/myelin/roomserver/api"
	"github.com/myelin-im/myelin/syncapi"
	"github.com/myelin-im/myelin/syncapi/search/backends"
	"github.com/myelin-im/myelin/userapi"
	usersapi "github.com/myelin-im/myelin/userapi/api"
	"github.com/myelin-im/myelin/userapi/pusher"
	"github.com/myelin-im/myelin/userapi/sms"
)

// Server is one Myelin process.
type Server struct {
	cfg      *config.Config
	log      *logrus.Logger
	registry *prometheus.Registry

	DB         *sqlutil.DB
	Cache      cache.Cache
	Bus        bus.Bus
	SigningKey *signingkey.Key
	UserAPI    usersapi.UserAPI
	Pushers    *pusher.Worker // the pusher worker, where the user API runs
	// directory is the user directory's subscription to the output log,
	// where the user API runs.
	directory  bus.Subscription
	Roomserver roomapi.RoomserverAPI
	SyncAPI    *syncapi.SyncAPI
	Federation *federationapi.FederationAPI
	Media      *mediaapi.MediaAPI
	// appServices are the registered application services; asSenders push
	// them their events, where the roomserver runs.
	appServices *asapi.Registry
	asSenders   *appservice.Senders
	asStore     *asstorage.Store
	// retention runs the message retention job, where the roomserver
	// runs and retention is enabled.
	retention *roomserver.RetentionJob

	// redactionPruner forgets redaction history past its retention.
	redactionPruner *roomserver.Pruner

	// lateFed stands in for Federation to the components built before it.
	lateFed lateFederation

	clientRouter *mux.Router
	clientSrv    *http.Server
	clientLn     net.Listener
	metricsSrv   *http.Server
	metricsLn    net.Listener
	fedSrv       *http.Server
	fedLn        net.Listener
	serveErr     chan error

	shutdownOnce sync.Once
	shutdownErr  error
}

// Version is the software version the server reports (set by the binary).
var Version = "0.1.0-dev"

// component is one row of the construction table.
type component struct {
	name  string
	build func(ctx context.Context, s *Server) error
}

// components is the construction table, in dependency order.
var components = []component{
	{config.ComponentUserAPI, buildUserAPI},
	{config.ComponentRoomServer, buildRoomserver},
	{config.ComponentSyncAPI, buildSyncAPI},
	{config.ComponentMediaAPI, buildMediaAPI},
	{config.ComponentFederationAPI, buildFederationAPI},
	{config.ComponentClientAPI, buildClientAPI},
}

// New opens the infrastructure and builds the configured components. On
// error everything opened so far is closed again.
func New(ctx context.Context, cfg *config.Config, log *logrus.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log, registry: prometheus.NewRegistry(), serveErr: make(chan error, 2)}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.closeInfra())
		}
	}()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.checkComponents(); err != nil {
		return nil, err
	}
	if err := s.loadAppServices(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Global.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: creating data directory: %w", err)
	}
	if s.SigningKey, _, err = signingkey.LoadOrGenerate(filepath.Join(cfg.Global.DataDir, "signing.key")); err != nil {
		return nil, err
	}
	if s.DB, err = sqlutil.Open(ctx, cfg.DatabaseURL(), sqlutil.Options{MaxOpenConns: cfg.Global.Database.MaxOpenConns}); err != nil {
		return nil, err
	}
	for role, pool := range s.DB.Pools() {
		s.registry.MustRegister(collectors.NewDBStatsCollector(pool, role))
	}
	if s.Cache, err = cache.Open(ctx, cfg.Global.Cache.URL, "myelin:"+cfg.Global.ServerName+":", s.registry); err != nil {
		return nil, err
	}
	busLog := log.WithField(httputil.FieldComponent, "bus")
	if s.Bus, err = bus.Open(ctx, cfg.Global.Bus.URL, s.DB, bus.Options{}, busLog, s.registry); err != nil {
		return nil, err
	}
	s.clientRouter = httputil.NewRouter()
	s.clientRouter.UseEncodedPath()
	s.clientRouter.Handle("/health", http.HandlerFunc(s.health)).Methods(http.MethodGet)
	s.clientRouter.Handle("/ready", http.HandlerFunc(s.ready)).Methods(http.MethodGet)
	built := map[string]bool{}
	for _, c := range components {
		built[c.name] = true
		if !cfg.Runs(c.name) {
			continue
		}
		if err := c.build(ctx, s); err != nil {
			return nil, fmt.Errorf("server: starting %s: %w", c.name, err)
		}
	}
	if err := s.startAppServiceSenders(ctx); err != nil {
		return nil, fmt.Errorf("server: starting application service senders: %w", err)
	}
	for _, name := range cfg.Global.Components {
		if name != config.ComponentAll && !built[name] {
			log.WithField(httputil.FieldComponent, name).Warn("component requested but not part of this version yet; skipping it")
		}
	}
	return s, nil
}

// checkComponents refuses process layouts this build cannot serve yet.
func (s *Server) checkComponents() error {
	// Until the component APIs are served
	// over HTTP (split mode), the client API needs the user API in process.
	if s.cfg.Runs(config.ComponentClientAPI) && (!s.cfg.Runs(config.ComponentUserAPI) || !s.cfg.Runs(config.ComponentRoomServer)) {
		return errors.New("server: clientapi needs userapi and roomserver in the same process in this version " +
			"(run --components clientapi,userapi,roomserver or all)")
	}
	return nil
}

func buildUserAPI(ctx context.Context, s *Server) error {
	var err error
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"component": "userapi"}, s.registry)
	log := s.log.WithField(httputil.FieldComponent, "userapi")
	sender, err := sms.New(s.cfg.SMS, log.WithField(httputil.FieldComponent, "sms"), reg)
	if err != nil {
		return err
	}
	if s.UserAPI, err = userapi.New(ctx, s.cfg.Global.ServerName, s.cfg.UserAPI, s.DB, s.Cache, s.Bus, log, reg,
		userapi.WithSMS(sender, s.cfg.SMS.Template), userapi.WithUserDirectory(s.cfg.UserDirectory)); err != nil {
		return err
	}
	if err := s.wireAppServices(ctx); err != nil {
		return err
	}
	if s.directory, err = userapi.StartDirectory(ctx, s.cfg.Global.ServerName, s.DB, s.Bus, log); err != nil {
		return err
	}
	pushers, err := userapi.StartPushers(ctx, s.cfg.Global.ServerName, s.DB, s.Bus, log, reg)
	if err != nil {
		return err
	}
	s.Pushers = pushers
	return nil
}

func buildRoomserver(ctx context.Context, s *Server) error {
	var err error
	s.Roomserver, err = roomserver.New(ctx, s.cfg.Global.ServerName, s.SigningKey, s.DB, s.Bus,
		s.log.WithField(httputil.FieldComponent, "roomserver"), s.inviter(),
		roomserver.WithDefaultRoomVersion(s.cfg.RoomServer.DefaultRoomVersion), roomserver.WithRetention(s.cfg.Retention),
		roomserver.WithRedactionRetention(time.Duration(s.cfg.RoomServer.RedactionRetentionPeriod)))
	if err == nil && s.cfg.Retention.Enabled {
		s.retention = roomserver.StartRetentionJob(s.Roomserver, time.Duration(s.cfg.Retention.PurgeInterval),
			s.log.WithField(httputil.FieldComponent, "roomserver"))
	}
	if err == nil && s.cfg.RoomServer.RedactionRetentionPeriod > 0 {
		s.redactionPruner = roomserver.StartRedactionPruner(s.Roomserver,
			roomserver.PruneEvery(time.Duration(s.cfg.RoomServer.RedactionRetentionPeriod)),
			s.log.WithField(httputil.FieldComponent, "roomserver"))
	}
	return err
}

func buildSyncAPI(ctx context.Context, s *Server) error {
	if s.UserAPI == nil {
		return errors.New("syncapi needs userapi in the same process in this version")
	}
	log := s.log.WithField(httputil.FieldComponent, "syncapi")
	opts := []syncapi.Option{syncapi.WithPresence(s.cfg.Presence.Enabled)}
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"component": "syncapi"}, s.registry)
	backend, err := backends.Open(ctx, s.cfg.Search, s.DB, log.WithField("search_backend", s.cfg.Search.Backend), reg)
	switch {
	case err == nil:
		opts = append(opts, syncapi.WithSearch(backend, backends.Name(s.cfg.Search), reg))
	case !errors.Is(err, backends.ErrOff):
		return err
	}
	// A nil Roomserver (not in this process) is a nil roomapi.Sync.
	s.SyncAPI, err = syncapi.New(ctx, string(s.cfg.Global.ServerName), s.DB, s.Bus, s.UserAPI, s.Roomserver, s.backfiller(),
		s.clientRouter, log, opts...)
	if err == nil && s.Pushers != nil {
		s.Pushers.SetUnreadCounter(s.SyncAPI)
	}
	return err
}

func buildFederationAPI(ctx context.Context, s *Server) error {
	// Components not in this process are nil interfaces, which the
	// federation API takes as absent.
	opts := federationapi.Options{
		ServerName: s.cfg.Global.ServerName,
		Version:    Version,
		Key:        s.SigningKey,
		Config:     s.cfg.FederationAPI,
		DB:         s.DB,
		Cache:      s.Cache,
		Profiles:   s.UserAPI,
		OpenID:     s.UserAPI,
		// Other servers' alias queries reach bridged portals too.
		Directory:  appservice.WrapDirectory(s.Roomserver, s.appServices, s.log.WithField(httputil.FieldComponent, "appservice")),
		Rooms:      s.Roomserver,
		Spaces:     s.Roomserver,
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"component": "federationapi"}, s.registry),
		Log:        s.log.WithField(httputil.FieldComponent, "federationapi"),
		// Other servers' presence is dropped and none is sent.
		PresenceDisabled: !s.cfg.Presence.Enabled,

		MaxMediaBytes: s.cfg.MediaAPI.MaxUploadBytes,
	}
	if s.Media != nil {
		opts.Media = s.Media
	}
	var err error
	if s.Federation, err = federationapi.New(ctx, opts); err != nil {
		return err
	}
	s.lateFed.set(s.Federation)
	if err := s.Federation.StartSending(ctx, s.Bus); err != nil {
		return err
	}
	// Delegation is also looked up on the client listener's host.
	s.clientRouter.Handle("/.well-known/matrix/server", httputil.Handler(s.Federation.WellKnown)).Methods(http.MethodGet)
	// The server-server API answers on the client listener too, as
	// Synapse's and Dendrite's do (behind a TLS-terminating proxy, one
	// port serves both); requests are authenticated the same way.
	for _, prefix := range []string{"/_matrix/federation/", "/_matrix/key/"} {
		s.clientRouter.PathPrefix(prefix).Handler(s.Federation.Router())
	}
	return nil
}

func buildMediaAPI(ctx context.Context, s *Server) error {
	if s.UserAPI == nil {
		return errors.New("mediaapi needs userapi in the same process in this version")
	}
	var err error
	s.Media, err = mediaapi.New(ctx, mediaapi.Options{
		ServerName: s.cfg.Global.ServerName,
		Config:     s.cfg.MediaAPI,
		BasePath:   s.cfg.MediaBasePath(),
		DB:         s.DB,
		Users:      s.UserAPI,
		Router:     s.clientRouter,
		Remote:     s.mediaFetcher(),
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"component": "mediaapi"}, s.registry),
		Log:        s.log.WithField(httputil.FieldComponent, "mediaapi"),
	})
	return err
}

// UseFederationListener makes Start serve federation on ln, already open,
// instead of opening the configured address (tests that must know every
// server's address before starting any, without a window in which another
// process could take the port).
func (s *Server) UseFederationListener(ln net.Listener) { s.fedLn = ln }

// Start opens the listeners and serves until Shutdown.
func (s *Server) Start() error {
	if s.cfg.Runs(config.ComponentClientAPI) {
		h, err := httputil.Wrap(s.clientRouter, httputil.Options{
			Name:         "client",
			MaxBodyBytes: s.cfg.ClientAPI.MaxRequestBodyBytes,
			Logger:       s.log,
			Registerer:   s.registry,
		})
		if err != nil {
			return err
		}
		// r0 is the name of the client and media APIs before v3 (spec v1.1);
		// clients and test suites still use it, and every v3 endpoint
		// answers there.
		h = httputil.AliasPrefix(h, "/_matrix/client/r0/", "/_matrix/client/v3/")
		h = httputil.AliasPrefix(h, "/_matrix/media/r0/", "/_matrix/media/v3/")
		if s.clientLn, err = net.Listen("tcp", s.cfg.ClientAPI.ListenAddr); err != nil {
			return fmt.Errorf("server: client API listener: %w", err)
		}
		s.clientSrv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
		go s.serve(s.clientSrv, s.clientLn)
		s.log.WithField("addr", "http://"+s.clientLn.Addr().String()).Info("client API listening")
	}
	if s.Federation != nil {
		h, err := httputil.Wrap(s.Federation.Router(), httputil.Options{
			Name:         "federation",
			MaxBodyBytes: federationMaxBody,
			Logger:       s.log,
			Registerer:   s.registry,
		})
		if err != nil {
			return err
		}
		tlsCfg, err := s.Federation.TLSConfig(s.cfg.Global.DataDir)
		if err != nil {
			return err
		}
		if s.fedLn == nil {
			if s.fedLn, err = net.Listen("tcp", s.cfg.FederationAPI.ListenAddr); err != nil {
				return fmt.Errorf("server: federation listener: %w", err)
			}
		}
		s.fedSrv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, TLSConfig: tlsCfg}
		go s.serve(s.fedSrv, tls.NewListener(s.fedLn, tlsCfg))
		s.log.WithField("addr", "https://"+s.fedLn.Addr().String()).Info("federation API listening")
	}
	if s.cfg.Global.MetricsAddr != "" {
		mr := http.NewServeMux()
		mr.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
		mr.HandleFunc("/health", s.health)
		mr.HandleFunc("/ready", s.ready)
		// Profiles for operators, on the metrics listener only (keep it private).
		mr.HandleFunc("/debug/pprof/", pprof.Index)
		mr.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mr.HandleFunc("/debug/pprof/trace", pprof.Trace)
		var err error
		if s.metricsLn, err = net.Listen("tcp", s.cfg.Global.MetricsAddr); err != nil {
			return fmt.Errorf("server: metrics listener: %w", err)
		}
		s.metricsSrv = &http.Server{Handler: mr, ReadHeaderTimeout: 30 * time.Second}
		go s.serve(s.metricsSrv, s.metricsLn)
		s.log.WithField("addr", "http://"+s.metricsLn.Addr().String()+"/metrics").Info("metrics listening")
	}
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.serveErr <- err
	}
}

// Errors reports listeners that failed while serving.
func (s *Server) Errors() <-chan error { return s.serveErr }

// ClientURL is the base URL of the client API listener.
func (s *Server) ClientURL() string {
	if s.clientLn == nil {
		return ""
	}
	return "http://" + s.clientLn.Addr().String()
}

// FederationURL is the base URL of the federation listener ("" when off).
func (s *Server) FederationURL() string {
	if s.fedLn == nil {
		return ""
	}
	return "https://" + s.fedLn.Addr().String()
}

// federationMaxBody bounds federation request bodies: a transaction holds
// up to 50 PDUs and 100 EDUs of up to 64 KiB each.
const federationMaxBody = 16 << 20

// MetricsURL is the base URL of the metrics listener ("" when off).
func (s *Server) MetricsURL() string {
	if s.metricsLn == nil {
		return ""
	}
	return "http://" + s.metricsLn.Addr().String()
}

// Registry is the Prometheus registry of this process.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx
// ends), then stops the bus and closes the cache and database.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range []*http.Server{s.clientSrv, s.fedSrv, s.metricsSrv} {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("server: draining HTTP: %w", err))
			}
		}
	}
	errs = append(errs, s.closeInfra())
	return errors.Join(errs...)
}

func (s *Server) closeInfra() error {
	var errs []error
	if s.Federation != nil {
		errs = append(errs, s.Federation.Close())
	}
	if s.Media != nil {
		errs = append(errs, s.Media.Close())
	}
	if s.redactionPruner != nil {
		errs = append(errs, s.redactionPruner.Close())
	}
	if s.Pushers != nil {
		errs = append(errs, s.Pushers.Close())
	}
	if s.directory != nil {
		errs = append(errs, s.directory.Close())
	}
	if s.asSenders != nil {
		errs = append(errs, s.asSenders.Close())
	}
	if s.retention != nil {
		errs = append(errs, s.retention.Close())
	}
	if s.SyncAPI != nil {
		errs = append(errs, s.SyncAPI.Close())
	}
	if s.Bus != nil {
		errs = append(errs, s.Bus.Close())
	}
	if s.Cache != nil {
		errs = append(errs, s.Cache.Close())
	}
	if s.DB != nil {
		errs = append(errs, s.DB.Close())
	}
	return errors.Join(errs...)
}

// GET /health: the process is alive.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// GET /ready: the database answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		httputil.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	httputil.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
