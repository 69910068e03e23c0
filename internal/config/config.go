// Package config is Myelin's configuration: one struct per component, their
// defaults, their validation, and the loading of a configuration from a YAML
// file, MYELIN_* environment variables and command-line flags.
//
// A setting is taken from the first of these that gives it:
//
//  1. a command-line flag (only flags actually given count),
//  2. its MYELIN_* environment variable (an empty value counts as unset),
//  3. the YAML configuration file (--config / MYELIN_CONFIG),
//  4. the built-in default.
//
// [Load] does all of this; [LoadFile] reads only a file. Both apply the
// defaults to fields left at their zero value and then [Config.Verify] the
// result, which reports every problem at once, each named by its section and
// key (for example `client_api.registration: must be one of open, token,
// disabled (got "maybe")`).
//
// Every struct has a Defaults method that fills its zero fields. Six settings
// have a zero value that means something, so Defaults leaves them alone and
// only [Default] (the base every loader starts from) sets them:
// [RateLimits.Enabled] (false turns rate limiting off),
// [UserAPI.RefreshTokenLifetime] (0 means refresh tokens never expire),
// [LegacyMedia.Enabled], [URLPreview.Enabled] and [Presence.Enabled] (false
// turns them off) and [UserDirectory.SearchAllUsers] (false narrows searches).
//
// [GenerateYAML] writes a complete, commented configuration file with every
// setting at its default.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults of the settings that have one.
const (
	DefaultServerName           = "localhost"
	DefaultDataDir              = "./myelin-data"
	DefaultMaxOpenConns         = 16
	DefaultShutdownTimeout      = 30 * time.Second
	DefaultLogLevel             = "info"
	DefaultLogFormat            = "text"
	DefaultClientListenAddr     = "127.0.0.1:8008"
	DefaultRegistration         = RegistrationOpen
	DefaultMaxRequestBodyBytes  = 1 << 20
	MinMaxRequestBodyBytes      = 1024
	DefaultBcryptCost           = 12
	DefaultPasswordMinLength    = 8
	DefaultAccessTokenLifetime  = 5 * time.Minute
	MinAccessTokenLifetime      = time.Minute
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	DefaultFederationListenAddr = ":8448"

	// SQLiteFileName is the database file created in the data directory when
	// no database URL is configured.
	SQLiteFileName = "myelin.db"
)

// Registration modes (ClientAPI.Registration).
const (
	RegistrationOpen     = "open"
	RegistrationToken    = "token"
	RegistrationDisabled = "disabled"
)

// Component names (Global.Components).
const (
	ComponentAll           = "all"
	ComponentClientAPI     = "clientapi"
	ComponentUserAPI       = "userapi"
	ComponentRoomServer    = "roomserver"
	ComponentSyncAPI       = "syncapi"
	ComponentFederationAPI = "federationapi"
	ComponentMediaAPI      = "mediaapi"
)

// Components lists every valid Global.Components entry.
var Components = []string{
	ComponentAll, ComponentClientAPI, ComponentUserAPI, ComponentRoomServer,
	ComponentSyncAPI, ComponentFederationAPI, ComponentMediaAPI,
}

// LogLevels and LogFormats list the valid Log settings.
var (
	LogLevels  = []string{"trace", "debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

var registrationModes = []string{RegistrationOpen, RegistrationToken, RegistrationDisabled}

// Default rate limits.
var (
	DefaultLoginRateLimit        = RateLimit{PerSecond: 0.2, Burst: 5}
	DefaultRegistrationRateLimit = RateLimit{PerSecond: 0.5, Burst: 10}
	DefaultRequestsRateLimit     = RateLimit{PerSecond: 20, Burst: 100}
)

// Config is the whole configuration of a Myelin server.
type Config struct {
	Global        Global        `yaml:"global"`
	ClientAPI     ClientAPI     `yaml:"client_api"`
	UserAPI       UserAPI       `yaml:"user_api"`
	FederationAPI FederationAPI `yaml:"federation"`
	MediaAPI      MediaAPI      `yaml:"media_api"`
	Presence      Presence      `yaml:"presence"`
	SMS           SMS           `yaml:"sms"`
	UserDirectory UserDirectory `yaml:"user_directory"`
	Search        Search        `yaml:"search"`
	RoomServer    RoomServer    `yaml:"room_server"`
	TURN          TURN          `yaml:"turn"`
	Support       Support       `yaml:"support"`
	ServerNotices ServerNotices `yaml:"server_notices"`
	AppServices   AppServices   `yaml:"app_services"`
	Retention     Retention     `yaml:"retention"`
}

// Global holds the settings shared by every component.
type Global struct {
	// ServerName is the Matrix server name (the part after the colon in user
	// IDs): a hostname, IPv4 address or [IPv6] address with an optional
	// :port. Default "localhost".
	ServerName string `yaml:"server_name"`
	// DataDir is the directory for Myelin's files. Default "./myelin-data".
	DataDir  string   `yaml:"data_dir"`
	Database Database `yaml:"database"`
	Bus      Bus      `yaml:"bus"`
	Cache    Cache    `yaml:"cache"`
	Log      Log      `yaml:"log"`
	// MetricsAddr is the host:port to serve Prometheus metrics on; "" turns
	// metrics off.
	MetricsAddr string `yaml:"metrics_addr"`
	// Components are the components this process runs (see Components).
	// Default ["all"].
	Components []string `yaml:"components"`
	// ShutdownTimeout bounds a graceful shutdown. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Database is the database of record.
type Database struct {
	// URL is sqlite:///abs/path.db, sqlite://relative.db, postgres://… or
	// postgresql://…; "" means the SQLite file <data_dir>/myelin.db (see
	// Config.DatabaseURL).
	URL string `yaml:"url"`
	// MaxOpenConns bounds the connection pool. Default 16.
	MaxOpenConns int `yaml:"max_open_conns"`
}

// Bus is the message bus between components.
type Bus struct {
	// URL is "" for the in-process durable bus, or amqp://… (amqps://…) for
	// RabbitMQ.
	URL string `yaml:"url"`
}

// Cache is the shared ephemeral store.
type Cache struct {
	// URL is "" (or "memory") for an in-memory cache, or redis://…
	// (rediss://…) for Redis.
	URL string `yaml:"url"`
}

// Log configures logging.
type Log struct {
	// Level is trace, debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// ClientAPI configures the client-server API.
type ClientAPI struct {
	// ListenAddr is the host:port to listen on. Default "127.0.0.1:8008".
	ListenAddr string `yaml:"listen_addr"`
	// Registration is open, token or disabled. Default open.
	Registration string `yaml:"registration"`
	// RegistrationSharedSecret enables Synapse-compatible shared-secret
	// admin registration; "" turns it off.
	RegistrationSharedSecret string `yaml:"registration_shared_secret"`
	// MaxRequestBodyBytes is the largest request body accepted. Default
	// 1 MiB, at least 1024.
	MaxRequestBodyBytes int64 `yaml:"max_request_body_bytes"`
	// WellKnownBaseURL is the homeserver base URL advertised to clients; ""
	// means derived from the server name. When set it must be an absolute
	// http(s) URL.
	WellKnownBaseURL string     `yaml:"well_known_base_url"`
	RateLimits       RateLimits `yaml:"rate_limits"`
}

// RateLimits are the client API's rate limits.
type RateLimits struct {
	// Enabled turns rate limiting on. Default true. Defaults never changes
	// it, since false is meaningful: only Default sets it to true.
	Enabled bool `yaml:"enabled"`
	// Login limits failed logins, per user and per IP. Default 0.2/s burst 5.
	Login RateLimit `yaml:"login"`
	// Registration limits registrations per IP. Default 0.5/s burst 10.
	Registration RateLimit `yaml:"registration"`
	// Requests limits authenticated requests per access token. Default
	// 20/s burst 100.
	Requests RateLimit `yaml:"requests"`
}

// RateLimit is a token bucket: PerSecond is the refill rate and Burst the
// bucket size. Both must be > 0.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// UserAPI configures accounts, passwords and tokens.
type UserAPI struct {
	// BcryptCost is the bcrypt cost of password hashes. Default 12, 4..31.
	BcryptCost int `yaml:"bcrypt_cost"`
	// PasswordMinLength is the shortest password accepted. Default 8, >= 1.
	PasswordMinLength int `yaml:"password_min_length"`
	// AccessTokenLifetime is the lifetime of access tokens issued with a
	// refresh token. Default 5m, >= 1m.
	AccessTokenLifetime Duration `yaml:"access_token_lifetime"`
	// RefreshTokenLifetime is the lifetime of refresh tokens; 0 means they
	// never expire. Default 720h (30 days). Defaults never changes it, since
	// 0 is meaningful: only Default sets it.
	RefreshTokenLifetime Duration `yaml:"refresh_token_lifetime"`
	// Msisdn configures phone numbers and SMS codes.
	Msisdn Msisdn `yaml:"msisdn"`
}

// FederationAPI configures the server-server API.
type FederationAPI struct {
	// ListenAddr is the host:port to listen on (HTTPS). Default ":8448".
	ListenAddr string `yaml:"listen_addr"`
	// TLSCert and TLSKey are PEM files of the listener's certificate (with
	// its chain) and key. Both empty: a self-signed certificate for the
	// server name is generated on first start and kept in the data
	// directory (for development: other servers will not trust it).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSCA is a PEM file of CA certificates trusted, besides the system's,
	// for outgoing federation requests.
	TLSCA string `yaml:"tls_ca"`
	// Hosts overrides server discovery: server name -> host:port.
	Hosts map[string]string `yaml:"hosts"`
	// AllowPrivateNetworks lets outgoing requests reach loopback and private
	// addresses found by discovery (addresses in Hosts always may).
	AllowPrivateNetworks bool `yaml:"allow_private_networks"`
	// WellKnownServer, when set, is served as m.server at
	// /.well-known/matrix/server, delegating federation to that host:port.
	WellKnownServer string `yaml:"well_known_server"`
	// TrustedKeyServers are notaries asked for other servers' keys when
	// those cannot be fetched from the servers themselves.
	TrustedKeyServers []string `yaml:"trusted_key_servers"`
}

// Default returns a configuration with every field at its default.
func Default() *Config {
	c := &Config{}
	c.ClientAPI.RateLimits.Enabled = true
	c.UserAPI.RefreshTokenLifetime = Duration(DefaultRefreshTokenLifetime)
	c.RoomServer.RedactionRetentionPeriod = Duration(DefaultRedactionRetention)
	c.MediaAPI.LegacyMedia.Enabled = true
	c.MediaAPI.URLPreview.Enabled = true
	c.Presence.Enabled = true
	c.UserDirectory.SearchAllUsers = true
	c.Defaults()
	return c
}

// Defaults fills every zero field with its default, except those whose zero
// value is meaningful (RateLimits.Enabled, UserAPI.RefreshTokenLifetime,
// LegacyMedia.Enabled, URLPreview.Enabled,
// RoomServer.RedactionRetentionPeriod).
func (c *Config) Defaults() {
	c.Global.Defaults()
	c.ClientAPI.Defaults()
	c.UserAPI.Defaults()
	c.FederationAPI.Defaults()
	c.MediaAPI.Defaults()
	c.SMS.Defaults()
	c.Search.Defaults()
	c.RoomServer.Defaults()
	c.TURN.Defaults()
	c.Support.Defaults()
	c.ServerNotices.Defaults()
	c.AppServices.Defaults()
	c.Retention.Defaults()
}

// Defaults fills the zero fields of g.
func (g *Global) Defaults() {
	setDefault(&g.ServerName, DefaultServerName)
	setDefault(&g.DataDir, DefaultDataDir)
	g.Database.Defaults()
	g.Bus.Defaults()
	g.Cache.Defaults()
	g.Log.Defaults()
	if len(g.Components) == 0 {
		g.Components = []string{ComponentAll}
	}
	setDefault(&g.ShutdownTimeout, Duration(DefaultShutdownTimeout))
}

// Defaults fills the zero fields of d.
func (d *Database) Defaults() { setDefault(&d.MaxOpenConns, DefaultMaxOpenConns) }

// Defaults does nothing: an empty bus URL means the in-process bus.
func (b *Bus) Defaults() {}

// Defaults does nothing: an empty cache URL means the in-memory cache.
func (c *Cache) Defaults() {}

// Defaults fills the zero fields of l.
func (l *Log) Defaults() {
	setDefault(&l.Level, DefaultLogLevel)
	setDefault(&l.Format, DefaultLogFormat)
}

// Defaults fills the zero fields of a.
func (a *ClientAPI) Defaults() {
	setDefault(&a.ListenAddr, DefaultClientListenAddr)
	setDefault(&a.Registration, DefaultRegistration)
	setDefault(&a.MaxRequestBodyBytes, DefaultMaxRequestBodyBytes)
	a.RateLimits.Defaults()
}

// Defaults fills the zero limits of r. It leaves Enabled alone.
func (r *RateLimits) Defaults() {
	r.Login.defaults(DefaultLoginRateLimit)
	r.Registration.defaults(DefaultRegistrationRateLimit)
	r.Requests.defaults(DefaultRequestsRateLimit)
}

func (r *RateLimit) defaults(def RateLimit) {
	setDefault(&r.PerSecond, def.PerSecond)
	setDefault(&r.Burst, def.Burst)
}

// Defaults fills the zero fields of u. It leaves RefreshTokenLifetime alone.
func (u *UserAPI) Defaults() {
	setDefault(&u.BcryptCost, DefaultBcryptCost)
	setDefault(&u.PasswordMinLength, DefaultPasswordMinLength)
	setDefault(&u.AccessTokenLifetime, Duration(DefaultAccessTokenLifetime))
	u.Msisdn.Defaults()
}

// Defaults fills the zero fields of f.
func (f *FederationAPI) Defaults() {
	setDefault(&f.ListenAddr, DefaultFederationListenAddr)
	if len(f.Hosts) == 0 {
		f.Hosts = nil // "hosts: {}" and no hosts are the same
	}
	if len(f.TrustedKeyServers) == 0 {
		f.TrustedKeyServers = nil
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Errors collects configuration problems, one line each, prefixed by the
// section and key they concern.
type Errors struct {
	Problems []string
}

// Add records a problem with section (for example "client_api.registration").
func (e *Errors) Add(section, format string, args ...any) {
	e.Problems = append(e.Problems, section+": "+fmt.Sprintf(format, args...))
}

// Error lists the problems, one per line.
func (e *Errors) Error() string { return strings.Join(e.Problems, "\n") }

// Err returns e as an error when it holds problems, and nil otherwise.
func (e *Errors) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

// Verify checks the whole configuration and returns nil or an *Errors listing
// every problem found. It does not apply defaults.
func (c *Config) Verify() error {
	errs := &Errors{}
	c.Global.Verify(errs)
	c.ClientAPI.Verify(errs)
	c.UserAPI.Verify(errs)
	c.FederationAPI.Verify(errs)
	c.MediaAPI.Verify(errs)
	c.SMS.Verify(errs)
	c.Search.Verify(errs)
	c.RoomServer.Verify(errs)
	c.TURN.Verify(errs)
	c.Support.Verify(errs)
	c.ServerNotices.Verify(errs)
	c.AppServices.Verify(errs)
	c.Retention.Verify(errs)
	return errs.Err()
}

// Verify records the problems of g in errs.
func (g *Global) Verify(errs *Errors) {
	if err := ValidateServerName(g.ServerName); err != nil {
		errs.Add("global.server_name",
			"must be a valid Matrix server name (hostname, IPv4 address or [IPv6 address], optionally followed by :port): %v (got %q)",
			err, g.ServerName)
	}
	if strings.TrimSpace(g.DataDir) == "" {
		errs.Add("global.data_dir", "must not be empty")
	}
	g.Database.Verify(errs)
	g.Bus.Verify(errs)
	g.Cache.Verify(errs)
	g.Log.Verify(errs)
	if g.MetricsAddr != "" {
		if err := checkListenAddr(g.MetricsAddr); err != nil {
			errs.Add("global.metrics_addr", "must be empty (metrics off) or a host:port address: %v (got %q)", err, g.MetricsAddr)
		}
	}
	if len(g.Components) == 0 {
		errs.Add("global.components", "must name at least one component (%s)", strings.Join(Components, ", "))
	}
	for _, comp := range g.Components {
		if !slices.Contains(Components, comp) {
			errs.Add("global.components", "must be among %s (got %q)", strings.Join(Components, ", "), comp)
		}
	}
	if g.ShutdownTimeout <= 0 {
		errs.Add("global.shutdown_timeout", "must be > 0 (got %s)", g.ShutdownTimeout)
	}
}

// Verify records the problems of d in errs.
func (d *Database) Verify(errs *Errors) {
	switch {
	case d.URL == "":
	case strings.HasPrefix(d.URL, "sqlite://"):
		path, _, _ := strings.Cut(strings.TrimPrefix(d.URL, "sqlite://"), "?")
		if path == "" {
			errs.Add("global.database.url", "sqlite:// URL has no file path (want sqlite:///abs/path.db or sqlite://relative.db)")
		}
	case strings.HasPrefix(d.URL, "postgres://"), strings.HasPrefix(d.URL, "postgresql://"):
		if _, err := url.Parse(d.URL); err != nil {
			errs.Add("global.database.url", "bad PostgreSQL URL: %v", urlErr(err))
		}
	default:
		errs.Add("global.database.url",
			"must be empty (SQLite in data_dir), sqlite://PATH, postgres://… or postgresql://… (got %s)", describeURL(d.URL))
	}
	if d.MaxOpenConns < 1 {
		errs.Add("global.database.max_open_conns", "must be >= 1 (got %d)", d.MaxOpenConns)
	}
}

// Verify records the problems of b in errs.
func (b *Bus) Verify(errs *Errors) {
	if b.URL == "" {
		return
	}
	if !strings.HasPrefix(b.URL, "amqp://") && !strings.HasPrefix(b.URL, "amqps://") {
		errs.Add("global.bus.url", "must be empty (in-process bus) or an amqp:// or amqps:// URL (got %s)", describeURL(b.URL))
		return
	}
	if _, err := url.Parse(b.URL); err != nil {
		errs.Add("global.bus.url", "bad AMQP URL: %v", urlErr(err))
	}
}

// Verify records the problems of c in errs.
func (c *Cache) Verify(errs *Errors) {
	if c.URL == "" || c.URL == "memory" {
		return
	}
	if !strings.HasPrefix(c.URL, "redis://") && !strings.HasPrefix(c.URL, "rediss://") {
		errs.Add("global.cache.url",
			`must be empty or "memory" (in-memory cache), or a redis:// or rediss:// URL (got %s)`, describeURL(c.URL))
		return
	}
	if _, err := url.Parse(c.URL); err != nil {
		errs.Add("global.cache.url", "bad Redis URL: %v", urlErr(err))
	}
}

// Verify records the problems of l in errs.
func (l *Log) Verify(errs *Errors) {
	checkOneOf(errs, "global.log.level", l.Level, LogLevels)
	checkOneOf(errs, "global.log.format", l.Format, LogFormats)
}

// Verify records the problems of a in errs.
func (a *ClientAPI) Verify(errs *Errors) {
	if err := checkListenAddr(a.ListenAddr); err != nil {
		errs.Add("client_api.listen_addr", "must be a host:port address: %v (got %q)", err, a.ListenAddr)
	}
	checkOneOf(errs, "client_api.registration", a.Registration, registrationModes)
	if a.MaxRequestBodyBytes < MinMaxRequestBodyBytes {
		errs.Add("client_api.max_request_body_bytes", "must be >= %d (got %d)", MinMaxRequestBodyBytes, a.MaxRequestBodyBytes)
	}
	if a.WellKnownBaseURL != "" {
		u, err := url.Parse(a.WellKnownBaseURL)
		switch {
		case err != nil:
			errs.Add("client_api.well_known_base_url", "must be an absolute http(s) URL: %v", urlErr(err))
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs.Add("client_api.well_known_base_url",
				"must be an absolute http(s) URL such as https://matrix.example.com (got %q)", a.WellKnownBaseURL)
		}
	}
	a.RateLimits.Verify(errs)
}

// Verify records the problems of r in errs.
func (r *RateLimits) Verify(errs *Errors) {
	r.Login.verify(errs, "client_api.rate_limits.login")
	r.Registration.verify(errs, "client_api.rate_limits.registration")
	r.Requests.verify(errs, "client_api.rate_limits.requests")
}

func (r *RateLimit) verify(errs *Errors, section string) {
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) {
		errs.Add(section+".per_second", "must be a finite number > 0 (got %v)", r.PerSecond)
	}
	if r.Burst <= 0 {
		errs.Add(section+".burst", "must be > 0 (got %d)", r.Burst)
	}
}

// Verify records the problems of u in errs.
func (u *UserAPI) Verify(errs *Errors) {
	if u.BcryptCost < 4 || u.BcryptCost > 31 {
		errs.Add("user_api.bcrypt_cost", "must be between 4 and 31 (got %d)", u.BcryptCost)
	}
	if u.PasswordMinLength < 1 {
		errs.Add("user_api.password_min_length", "must be >= 1 (got %d)", u.PasswordMinLength)
	}
	if time.Duration(u.AccessTokenLifetime) < MinAccessTokenLifetime {
		errs.Add("user_api.access_token_lifetime", "must be >= %s (got %s)", Duration(MinAccessTokenLifetime), u.AccessTokenLifetime)
	}
	if u.RefreshTokenLifetime < 0 {
		errs.Add("user_api.refresh_token_lifetime", "must be >= 0, where 0 means never expire (got %s)", u.RefreshTokenLifetime)
	}
	u.Msisdn.Verify(errs)
}

// Verify records the problems of f in errs.
func (f *FederationAPI) Verify(errs *Errors) {
	if err := checkListenAddr(f.ListenAddr); err != nil {
		errs.Add("federation.listen_addr", "must be a host:port address: %v (got %q)", err, f.ListenAddr)
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		errs.Add("federation.tls_cert", "tls_cert and tls_key go together: set both or neither")
	}
	names := make([]string, 0, len(f.Hosts))
	for name := range f.Hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if ValidateServerName(name) != nil {
			errs.Add("federation.hosts", "%q is not a server name", name)
		}
		if _, port, err := net.SplitHostPort(f.Hosts[name]); err != nil || port == "" {
			errs.Add("federation.hosts", "address of %s must be host:port (got %q)", name, f.Hosts[name])
		}
	}
	for _, n := range f.TrustedKeyServers {
		if ValidateServerName(n) != nil {
			errs.Add("federation.trusted_key_servers", "%q is not a server name", n)
		}
	}
	if f.WellKnownServer != "" && ValidateServerName(f.WellKnownServer) != nil {
		errs.Add("federation.well_known_server", "must be a server name with an optional :port (got %q)", f.WellKnownServer)
	}
}

func checkOneOf(errs *Errors, section, value string, valid []string) {
	if !slices.Contains(valid, value) {
		errs.Add(section, "must be one of %s (got %q)", strings.Join(valid, ", "), value)
	}
}

// checkListenAddr checks a host:port address to listen on. The host may be
// empty (every interface); the port must be a number from 0 to 65535.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err) // without the address, which the caller shows
		}
		return err
	}
	if strings.ContainsAny(host, " \t\r\n") {
		return errors.New("host contains white space")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil || !isDigits(port) {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// describeURL names a bad URL in an error without what follows the scheme,
// which may hold a password.
func describeURL(raw string) string {
	scheme, _, found := strings.Cut(raw, "://")
	if !found {
		return "a value that is not a URL"
	}
	return fmt.Sprintf("scheme %q", scheme)
}

// urlErr drops the URL, which may hold a password, from a url.Parse error.
func urlErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// DatabaseURL returns the database URL to use: Global.Database.URL, or when
// that is empty, sqlite:// followed by the absolute path of myelin.db in the
// data directory.
func (c *Config) DatabaseURL() string {
	if c.Global.Database.URL != "" {
		return c.Global.Database.URL
	}
	path := filepath.Join(c.Global.DataDir, SQLiteFileName)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "sqlite://" + filepath.ToSlash(path)
}

// Runs reports whether this process runs component: whether Components names
// it or "all".
func (c *Config) Runs(component string) bool {
	return slices.Contains(c.Global.Components, component) ||
		slices.Contains(c.Global.Components, ComponentAll)
}
