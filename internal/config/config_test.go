package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a YAML file in a temporary directory and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "myelin.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env returns a getenv over a fixed map.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// problems returns the problems of an *Errors, failing the test for any other
// error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not an *Errors", err, err)
	}
	return errs.Problems
}

func TestDefault(t *testing.T) {
	c := Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"global.server_name", c.Global.ServerName, "localhost"},
		{"global.data_dir", c.Global.DataDir, "./myelin-data"},
		{"global.database.url", c.Global.Database.URL, ""},
		{"global.database.max_open_conns", c.Global.Database.MaxOpenConns, 16},
		{"global.bus.url", c.Global.Bus.URL, ""},
		{"global.cache.url", c.Global.Cache.URL, ""},
		{"global.log.level", c.Global.Log.Level, "info"},
		{"global.log.format", c.Global.Log.Format, "text"},
		{"global.metrics_addr", c.Global.MetricsAddr, ""},
		{"global.components", c.Global.Components, []string{"all"}},
		{"global.shutdown_timeout", c.Global.ShutdownTimeout, Duration(30 * time.Second)},
		{"client_api.listen_addr", c.ClientAPI.ListenAddr, "127.0.0.1:8008"},
		{"client_api.registration", c.ClientAPI.Registration, "open"},
		{"client_api.registration_shared_secret", c.ClientAPI.RegistrationSharedSecret, ""},
		{"client_api.max_request_body_bytes", c.ClientAPI.MaxRequestBodyBytes, int64(1048576)},
		{"client_api.well_known_base_url", c.ClientAPI.WellKnownBaseURL, ""},
		{"client_api.rate_limits.enabled", c.ClientAPI.RateLimits.Enabled, true},
		{"client_api.rate_limits.login", c.ClientAPI.RateLimits.Login, RateLimit{PerSecond: 0.2, Burst: 5}},
		{"client_api.rate_limits.registration", c.ClientAPI.RateLimits.Registration, RateLimit{PerSecond: 0.5, Burst: 10}},
		{"client_api.rate_limits.requests", c.ClientAPI.RateLimits.Requests, RateLimit{PerSecond: 20, Burst: 100}},
		{"user_api.bcrypt_cost", c.UserAPI.BcryptCost, 12},
		{"user_api.password_min_length", c.UserAPI.PasswordMinLength, 8},
		{"user_api.access_token_lifetime", c.UserAPI.AccessTokenLifetime, Duration(5 * time.Minute)},
		{"user_api.refresh_token_lifetime", c.UserAPI.RefreshTokenLifetime, Duration(720 * time.Hour)},
		{"federation.listen_addr", c.FederationAPI.ListenAddr, ":8448"},
		{"media_api.base_path", c.MediaAPI.BasePath, ""},
		{"media_api.max_upload_bytes", c.MediaAPI.MaxUploadBytes, int64(100 << 20)},
		{"media_api.user_quota_bytes", c.MediaAPI.UserQuotaBytes, int64(0)},
		{"media_api.unused_upload_expiry", c.MediaAPI.UnusedUploadExpiry, Duration(24 * time.Hour)},
		{"media_api.max_pending_uploads", c.MediaAPI.MaxPendingUploads, 5},
		{"media_api.legacy_media", c.MediaAPI.LegacyMedia, LegacyMedia{Enabled: true}},
		{"media_api.thumbnail_sizes", len(c.MediaAPI.ThumbnailSizes), 5},
		{"media_api.url_preview.enabled", c.MediaAPI.URLPreview.Enabled, true},
		{"media_api.transcription.engine", c.MediaAPI.Transcription.Engine, ""},
		{"presence.enabled", c.Presence.Enabled, true},
		{"sms.provider", c.SMS.Provider, "log"},
		{"sms.outbox_file", c.SMS.OutboxFile, ""},
		{"user_directory.search_all_users", c.UserDirectory.SearchAllUsers, true},
		{"room_server.default_room_version", c.RoomServer.DefaultRoomVersion, "12"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if err := c.Verify(); err != nil {
		t.Errorf("Default().Verify() = %v", err)
	}

	// Defaults on a zero Config fills everything but the fields whose zero
	// value means something.
	var zero Config
	zero.Defaults()
	zero.ClientAPI.RateLimits.Enabled = true
	zero.UserAPI.RefreshTokenLifetime = Duration(DefaultRefreshTokenLifetime)
	zero.MediaAPI.LegacyMedia.Enabled = true
	zero.MediaAPI.URLPreview.Enabled = true
	zero.Presence.Enabled = true
	zero.UserDirectory.SearchAllUsers = true
	zero.RoomServer.RedactionRetentionPeriod = Duration(DefaultRedactionRetention)
	if !reflect.DeepEqual(&zero, c) {
		t.Errorf("Config{}.Defaults() = %+v, want %+v", zero, *c)
	}

	// Defaults keeps values that are set.
	set := Default()
	set.Global.ServerName = "example.com"
	set.UserAPI.BcryptCost = 10
	set.ClientAPI.RateLimits.Login = RateLimit{PerSecond: 1, Burst: 2}
	set.Defaults()
	if set.Global.ServerName != "example.com" || set.UserAPI.BcryptCost != 10 || set.ClientAPI.RateLimits.Login != (RateLimit{1, 2}) {
		t.Errorf("Defaults overwrote set values: %+v", set)
	}
}

func TestPrecedence(t *testing.T) {
	type layers struct{ file, env, flag bool }
	fields := []struct {
		name    string
		yaml    string // file content setting the field to its file value
		envVar  string
		flag    string
		def     any
		fileVal any
		envVal  string
		flagVal string
		want    func(v string) any // value expected from an env or flag string
		get     func(c *Config) any
	}{
		{
			name: "server_name", yaml: "global:\n  server_name: file.example\n",
			envVar: "MYELIN_SERVER_NAME", flag: "--server-name",
			def: "localhost", fileVal: "file.example", envVal: "env.example", flagVal: "flag.example",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.Global.ServerName },
		},
		{
			name: "client listen_addr", yaml: "client_api:\n  listen_addr: 127.0.0.1:1001\n",
			envVar: "MYELIN_CLIENT_ADDR", flag: "--client-addr",
			def: "127.0.0.1:8008", fileVal: "127.0.0.1:1001", envVal: "127.0.0.1:1002", flagVal: "127.0.0.1:1003",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.ClientAPI.ListenAddr },
		},
		{
			name: "federation listen_addr", yaml: "federation:\n  listen_addr: :2001\n",
			envVar: "MYELIN_FEDERATION_ADDR", flag: "--federation-addr",
			def: ":8448", fileVal: ":2001", envVal: ":2002", flagVal: ":2003",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.FederationAPI.ListenAddr },
		},
		{
			name: "database url", yaml: "global:\n  database:\n    url: sqlite:///file.db\n",
			envVar: "MYELIN_DATABASE", flag: "--database",
			def: "", fileVal: "sqlite:///file.db", envVal: "postgres://env/db", flagVal: "postgresql://flag/db",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.Global.Database.URL },
		},
		{
			name: "registration", yaml: "client_api:\n  registration: token\n",
			envVar: "MYELIN_REGISTRATION", flag: "--registration",
			def: "open", fileVal: "token", envVal: "disabled", flagVal: "open",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.ClientAPI.Registration },
		},
		{
			name: "log level", yaml: "global:\n  log:\n    level: warn\n",
			envVar: "MYELIN_LOG_LEVEL", flag: "--log-level",
			def: "info", fileVal: "warn", envVal: "debug", flagVal: "trace",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.Global.Log.Level },
		},
		{
			name: "components", yaml: "global:\n  components: [clientapi]\n",
			envVar: "MYELIN_COMPONENTS", flag: "--components",
			def: []string{"all"}, fileVal: []string{"clientapi"}, envVal: "userapi,syncapi", flagVal: "roomserver",
			want: func(v string) any { return strings.Split(v, ",") },
			get:  func(c *Config) any { return c.Global.Components },
		},
		{
			name: "bus", yaml: "global:\n  bus:\n    url: amqp://file/\n",
			envVar: "MYELIN_BUS", flag: "--bus",
			def: "", fileVal: "amqp://file/", envVal: "amqp://env/", flagVal: "amqps://flag/",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.Global.Bus.URL },
		},
		{
			name: "cache", yaml: "global:\n  cache:\n    url: redis://file:6379/0\n",
			envVar: "MYELIN_CACHE", flag: "--cache",
			def: "", fileVal: "redis://file:6379/0", envVal: "redis://env:6379/0", flagVal: "rediss://flag:6379/0",
			want: func(v string) any { return v },
			get:  func(c *Config) any { return c.Global.Cache.URL },
		},
	}
	combos := []layers{
		{}, {file: true}, {env: true}, {flag: true},
		{file: true, env: true}, {file: true, flag: true}, {env: true, flag: true},
		{file: true, env: true, flag: true},
	}
	for _, f := range fields {
		for _, l := range combos {
			var args []string
			vars := map[string]string{}
			want := f.def
			if l.file {
				args = append(args, "--config", writeConfig(t, f.yaml))
				want = f.fileVal
			}
			if l.env {
				vars[f.envVar] = f.envVal
				want = f.want(f.envVal)
			}
			if l.flag {
				args = append(args, f.flag+"="+f.flagVal)
				want = f.want(f.flagVal)
			}
			c, err := Load(args, env(vars))
			if err != nil {
				t.Errorf("%s %+v: Load: %v", f.name, l, err)
				continue
			}
			if got := f.get(c); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %+v: got %#v, want %#v", f.name, l, got, want)
			}
		}
	}
}

func TestPrecedenceOfConfigFile(t *testing.T) {
	envFile := writeConfig(t, "global:\n  server_name: envfile.example\n")
	flagFile := writeConfig(t, "global:\n  server_name: flagfile.example\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"none", nil, nil, "localhost"},
		{"env", nil, map[string]string{"MYELIN_CONFIG": envFile}, "envfile.example"},
		{"flag", []string{"--config", flagFile}, nil, "flagfile.example"},
		{"flag over env", []string{"-config=" + flagFile}, map[string]string{"MYELIN_CONFIG": envFile}, "flagfile.example"},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, env(tt.env))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.Global.ServerName != tt.want {
			t.Errorf("%s: server_name = %q, want %q", tt.name, c.Global.ServerName, tt.want)
		}
	}
}

func TestEveryFlagHasItsEnvTwin(t *testing.T) {
	want := map[string]string{
		"config":                            "MYELIN_CONFIG",
		"server-name":                       "MYELIN_SERVER_NAME",
		"data-dir":                          "MYELIN_DATA_DIR",
		"client-addr":                       "MYELIN_CLIENT_ADDR",
		"federation-addr":                   "MYELIN_FEDERATION_ADDR",
		"database":                          "MYELIN_DATABASE",
		"registration":                      "MYELIN_REGISTRATION",
		"registration-shared-secret":        "MYELIN_REGISTRATION_SHARED_SECRET",
		"log-level":                         "MYELIN_LOG_LEVEL",
		"log-format":                        "MYELIN_LOG_FORMAT",
		"metrics-addr":                      "MYELIN_METRICS_ADDR",
		"components":                        "MYELIN_COMPONENTS",
		"bus":                               "MYELIN_BUS",
		"cache":                             "MYELIN_CACHE",
		"tls-cert":                          "MYELIN_TLS_CERT",
		"tls-key":                           "MYELIN_TLS_KEY",
		"tls-ca":                            "MYELIN_TLS_CA",
		"federation-hosts":                  "MYELIN_FEDERATION_HOSTS",
		"federation-allow-private-networks": "MYELIN_FEDERATION_ALLOW_PRIVATE_NETWORKS",
		"sms-provider":                      "MYELIN_SMS_PROVIDER",
		"sms-outbox-file":                   "MYELIN_SMS_OUTBOX_FILE",
		"search-backend":                    "MYELIN_SEARCH_BACKEND",
		"default-room-version":              "MYELIN_DEFAULT_ROOM_VERSION",
		"turn-uris":                         "MYELIN_TURN_URIS",
		"turn-shared-secret":                "MYELIN_TURN_SHARED_SECRET",
		"appservice":                        "MYELIN_APPSERVICE",
	}
	if len(settings) != len(want) {
		t.Errorf("%d flags, want %d", len(settings), len(want))
	}
	usage := Usage()
	for _, s := range settings {
		if s.env() != want[s.flag] {
			t.Errorf("--%s: env twin %s, want %s", s.flag, s.env(), want[s.flag])
		}
		if !strings.Contains(usage, "--"+s.flag+" ") || !strings.Contains(usage, s.env()) {
			t.Errorf("Usage does not list --%s and %s", s.flag, s.env())
		}
	}

	// Each env twin and each flag reaches the configuration on its own.
	sets := []struct {
		flag, value string
		get         func(c *Config) any
	}{
		{"data-dir", "/srv/myelin", func(c *Config) any { return c.Global.DataDir }},
		{"registration-shared-secret", "s3cret", func(c *Config) any { return c.ClientAPI.RegistrationSharedSecret }},
		{"log-format", "json", func(c *Config) any { return c.Global.Log.Format }},
		{"metrics-addr", "127.0.0.1:9090", func(c *Config) any { return c.Global.MetricsAddr }},
		{"tls-ca", "/etc/myelin/ca.pem", func(c *Config) any { return c.FederationAPI.TLSCA }},
		{"sms-outbox-file", "/tmp/outbox.jsonl", func(c *Config) any { return c.SMS.OutboxFile }},
		{"default-room-version", "10", func(c *Config) any { return c.RoomServer.DefaultRoomVersion }},
	}
	for _, s := range sets {
		envName := "MYELIN_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
		c, err := Load(nil, env(map[string]string{envName: s.value}))
		if err != nil || s.get(c) != s.value {
			t.Errorf("%s=%s: config %v, error %v", envName, s.value, c, err)
		}
		c, err = Load([]string{"--" + s.flag, s.value}, nil)
		if err != nil || s.get(c) != s.value {
			t.Errorf("--%s %s: config %v, error %v", s.flag, s.value, c, err)
		}
	}
}

// TestTURNSettings: the TURN servers and secret from flags or their
// environment twins (given together: one needs the other).
func TestTURNSettings(t *testing.T) {
	want := []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}
	c, err := Load([]string{"--turn-uris", strings.Join(want, ", "), "--turn-shared-secret", "s3cret"}, nil)
	if err != nil || !slices.Equal(c.TURN.URIs, want) || c.TURN.SharedSecret != "s3cret" || c.TURN.TTL != Duration(DefaultTURNTTL) {
		t.Fatalf("flags: %+v, %v", c, err)
	}
	c, err = Load(nil, env(map[string]string{"MYELIN_TURN_URIS": strings.Join(want, ","), "MYELIN_TURN_SHARED_SECRET": "s3cret"}))
	if err != nil || !slices.Equal(c.TURN.URIs, want) || c.TURN.SharedSecret != "s3cret" {
		t.Fatalf("environment: %+v, %v", c, err)
	}
}

func TestFederationSettings(t *testing.T) {
	c, err := Load([]string{
		"--federation-hosts", "one.test=127.0.0.1:8448, two.test:8448=[::1]:9000",
		"--federation-allow-private-networks",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := map[string]string{"one.test": "127.0.0.1:8448", "two.test:8448": "[::1]:9000"}
	if !reflect.DeepEqual(c.FederationAPI.Hosts, wantHosts) || !c.FederationAPI.AllowPrivateNetworks {
		t.Fatalf("federation settings: %+v", c.FederationAPI)
	}
	c, err = Load(nil, env(map[string]string{
		"MYELIN_FEDERATION_ALLOW_PRIVATE_NETWORKS": "true",
		"MYELIN_TLS_CERT":                          "/c.pem",
		"MYELIN_TLS_KEY":                           "/k.pem",
	}))
	if err != nil || !c.FederationAPI.AllowPrivateNetworks || c.FederationAPI.TLSCert != "/c.pem" || c.FederationAPI.TLSKey != "/k.pem" {
		t.Fatalf("from the environment: %+v %v", c, err)
	}
	allowInEnv := env(map[string]string{"MYELIN_FEDERATION_ALLOW_PRIVATE_NETWORKS": "true"})
	c, err = Load([]string{"--federation-allow-private-networks=false"}, allowInEnv)
	if err != nil || c.FederationAPI.AllowPrivateNetworks {
		t.Fatalf("flag false over env true: %v %v", c, err)
	}
	path := writeConfig(t, "federation:\n  hosts:\n    one.test: 10.0.0.1:8448\n"+
		"  allow_private_networks: true\n  well_known_server: fed.example.org:443\n")
	if c, err = Load([]string{"--config", path}, nil); err != nil || c.FederationAPI.Hosts["one.test"] != "10.0.0.1:8448" ||
		c.FederationAPI.WellKnownServer != "fed.example.org:443" {
		t.Fatalf("from the file: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"--federation-hosts", "not a name=1.2.3.4:8448"},
		{"--federation-hosts", "one.test=1.2.3.4"},
		{"--tls-cert", "/x.pem"},
		{"--federation-allow-private-networks=maybe"},
	} {
		if _, err := Load(bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	path = writeConfig(t, "federation:\n  hosts: [a, b]\n")
	if _, err := Load([]string{"--config", path}, nil); err == nil || !strings.Contains(err.Error(), "federation.hosts") {
		t.Errorf("hosts as a list: %v", err)
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	path := writeConfig(t, "global:\n  server_name: file.example\n  metrics_addr: 127.0.0.1:9090\n")
	c, err := Load([]string{"--config", path}, env(map[string]string{
		"MYELIN_SERVER_NAME": "", "MYELIN_METRICS_ADDR": "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.ServerName != "file.example" || c.Global.MetricsAddr != "127.0.0.1:9090" {
		t.Errorf("empty environment variables overrode the file: %+v", c.Global)
	}
	// An explicitly empty flag does count.
	c, err = Load([]string{"--config", path, "--metrics-addr="}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.MetricsAddr != "" {
		t.Errorf("--metrics-addr= left %q", c.Global.MetricsAddr)
	}
}

func TestVerifyReportsEveryProblem(t *testing.T) {
	c := Default()
	c.ClientAPI.Registration = "maybe"
	c.UserAPI.BcryptCost = 3
	c.Global.Log.Format = "xml"
	got := problems(t, c.Verify())
	want := []string{
		`global.log.format: must be one of text, json (got "xml")`,
		`client_api.registration: must be one of open, token, disabled (got "maybe")`,
		`user_api.bcrypt_cost: must be between 4 and 31 (got 3)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := c.Verify(); err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", err.Error())
	}

	// Through Load, from three layers at once.
	path := writeConfig(t, "user_api:\n  bcrypt_cost: 40\n")
	_, err := Load([]string{"--config", path, "--registration", "maybe"}, env(map[string]string{"MYELIN_SERVER_NAME": "exa mple.com"}))
	got = problems(t, err)
	if len(got) != 3 {
		t.Fatalf("got %d problems, want 3:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, prefix := range []string{"global.server_name: ", "client_api.registration: ", "user_api.bcrypt_cost: "} {
		if !strings.HasPrefix(got[i], prefix) {
			t.Errorf("problem %d = %q, want it to start with %q", i, got[i], prefix)
		}
	}
}

func TestVerifyEachCheck(t *testing.T) {
	tests := []struct {
		section string // the one problem expected, or "" for none
		change  func(c *Config)
	}{
		{"global.server_name", func(c *Config) { c.Global.ServerName = "-bad" }},
		{"global.data_dir", func(c *Config) { c.Global.DataDir = " " }},
		{"global.database.url", func(c *Config) { c.Global.Database.URL = "mysql://u:hunter2@h/db" }},
		{"global.database.url", func(c *Config) { c.Global.Database.URL = "sqlite://" }},
		{"global.database.url", func(c *Config) { c.Global.Database.URL = "postgres://u:hunter2@h:port/db" }},
		{"", func(c *Config) { c.Global.Database.URL = "sqlite://relative.db" }},
		{"", func(c *Config) { c.Global.Database.URL = "postgresql://u:p@h:5432/db?sslmode=disable" }},
		{"global.database.max_open_conns", func(c *Config) { c.Global.Database.MaxOpenConns = -1 }},
		{"global.bus.url", func(c *Config) { c.Global.Bus.URL = "nats://h" }},
		{"", func(c *Config) { c.Global.Bus.URL = "amqp://guest:guest@127.0.0.1:5672/" }},
		{"global.cache.url", func(c *Config) { c.Global.Cache.URL = "memcached://h" }},
		{"", func(c *Config) { c.Global.Cache.URL = "memory" }},
		{"", func(c *Config) { c.Global.Cache.URL = "rediss://h:6379/0" }},
		{"global.log.level", func(c *Config) { c.Global.Log.Level = "verbose" }},
		{"global.log.format", func(c *Config) { c.Global.Log.Format = "xml" }},
		{"global.metrics_addr", func(c *Config) { c.Global.MetricsAddr = "9090" }},
		{"", func(c *Config) { c.Global.MetricsAddr = "[::1]:9090" }},
		{"global.components", func(c *Config) { c.Global.Components = []string{"clientapi", "nope"} }},
		{"global.components", func(c *Config) { c.Global.Components = nil }},
		{"global.shutdown_timeout", func(c *Config) { c.Global.ShutdownTimeout = -1 }},
		{"client_api.listen_addr", func(c *Config) { c.ClientAPI.ListenAddr = "localhost:http" }},
		{"client_api.listen_addr", func(c *Config) { c.ClientAPI.ListenAddr = "localhost:70000" }},
		{"", func(c *Config) { c.ClientAPI.ListenAddr = ":0" }},
		{"client_api.registration", func(c *Config) { c.ClientAPI.Registration = "maybe" }},
		{"client_api.max_request_body_bytes", func(c *Config) { c.ClientAPI.MaxRequestBodyBytes = 1023 }},
		{"", func(c *Config) { c.ClientAPI.MaxRequestBodyBytes = 1024 }},
		{"client_api.well_known_base_url", func(c *Config) { c.ClientAPI.WellKnownBaseURL = "matrix.example.com" }},
		{"client_api.well_known_base_url", func(c *Config) { c.ClientAPI.WellKnownBaseURL = "ftp://matrix.example.com" }},
		{"", func(c *Config) { c.ClientAPI.WellKnownBaseURL = "https://matrix.example.com/" }},
		{"client_api.rate_limits.login.per_second", func(c *Config) { c.ClientAPI.RateLimits.Login.PerSecond = -1 }},
		{"client_api.rate_limits.registration.burst", func(c *Config) { c.ClientAPI.RateLimits.Registration.Burst = -5 }},
		{"client_api.rate_limits.requests.per_second", func(c *Config) { c.ClientAPI.RateLimits.Requests.PerSecond = 1 / zero() }},
		{"user_api.bcrypt_cost", func(c *Config) { c.UserAPI.BcryptCost = 32 }},
		{"", func(c *Config) { c.UserAPI.BcryptCost = 4 }},
		{"user_api.password_min_length", func(c *Config) { c.UserAPI.PasswordMinLength = 0 }},
		{"user_api.access_token_lifetime", func(c *Config) { c.UserAPI.AccessTokenLifetime = Duration(59 * time.Second) }},
		{"user_api.refresh_token_lifetime", func(c *Config) { c.UserAPI.RefreshTokenLifetime = -1 }},
		{"", func(c *Config) { c.UserAPI.RefreshTokenLifetime = 0 }},
		{"federation.listen_addr", func(c *Config) { c.FederationAPI.ListenAddr = "" }},
		{"media_api.base_path", func(c *Config) { c.MediaAPI.BasePath = " " }},
		{"media_api.max_upload_bytes", func(c *Config) { c.MediaAPI.MaxUploadBytes = 0 }},
		{"media_api.user_quota_bytes", func(c *Config) { c.MediaAPI.UserQuotaBytes = -1 }},
		{"", func(c *Config) { c.MediaAPI.UserQuotaBytes = 1 << 30 }},
		{"media_api.unused_upload_expiry", func(c *Config) { c.MediaAPI.UnusedUploadExpiry = Duration(time.Second) }},
		{"room_server.redaction_retention_period", func(c *Config) { c.RoomServer.RedactionRetentionPeriod = Duration(-time.Second) }},
		{"media_api.max_pending_uploads", func(c *Config) { c.MediaAPI.MaxPendingUploads = 0 }},
		{"media_api.legacy_media.frozen_after", func(c *Config) { c.MediaAPI.LegacyMedia.FrozenAfter = "2024-09-01" }},
		{"", func(c *Config) { c.MediaAPI.LegacyMedia.FrozenAfter = "2024-09-01T00:00:00Z" }},
		{"media_api.max_thumbnail_pixels", func(c *Config) { c.MediaAPI.MaxThumbnailPixels = -1 }},
		{"media_api.thumbnail_sizes[1]", func(c *Config) { c.MediaAPI.ThumbnailSizes[1].Height = 0 }},
		{"media_api.thumbnail_sizes[0].method", func(c *Config) { c.MediaAPI.ThumbnailSizes[0].Method = "stretch" }},
		{"media_api.url_preview.ip_range_whitelist", func(c *Config) { c.MediaAPI.URLPreview.IPRangeWhitelist = []string{"10.0.0.0/33"} }},
		{"", func(c *Config) { c.MediaAPI.URLPreview.IPRangeWhitelist = []string{"10.0.0.0/8", "::1", "fe80::/10"} }},
		{"media_api.url_preview.ip_range_blacklist", func(c *Config) { c.MediaAPI.URLPreview.IPRangeBlacklist = []string{"example.com"} }},
		{"media_api.url_preview.max_bytes", func(c *Config) { c.MediaAPI.URLPreview.MaxBytes = 0 }},
		{"media_api.url_preview.timeout", func(c *Config) { c.MediaAPI.URLPreview.Timeout = 0 }},
		{"media_api.url_preview.cache_ttl", func(c *Config) { c.MediaAPI.URLPreview.CacheTTL = -1 }},
		{"media_api.transcription.engine", func(c *Config) { c.MediaAPI.Transcription.Engine = "whisper" }},
		{"media_api.transcription.timeout", func(c *Config) { c.MediaAPI.Transcription.Timeout = 0 }},
		{"media_api.transcription.max_concurrent", func(c *Config) { c.MediaAPI.Transcription.MaxConcurrent = -1 }},
		{"", func(c *Config) {
			c.MediaAPI.Transcription.Engine = "openai"
			c.MediaAPI.Transcription.OpenAI.URL = "http://127.0.0.1:8080"
		}},
		{"", func(c *Config) { c.MediaAPI.Transcription.Engine = "pocketsphinx" }},
		{"media_api.transcription.engine", func(c *Config) { c.MediaAPI.Transcription.Engine = "off" }},
		{"media_api.transcription.openai.url", func(c *Config) { c.MediaAPI.Transcription.OpenAI.URL = "127.0.0.1:8080" }},
		{"media_api.transcription.baidu", func(c *Config) { c.MediaAPI.Transcription.Engine = "baidu" }},
		{"media_api.transcription.baidu.token_url", func(c *Config) { c.MediaAPI.Transcription.Baidu.TokenURL = "ftp://x" }},
		{"room_server.default_room_version", func(c *Config) { c.RoomServer.DefaultRoomVersion = "13" }},
		{"room_server.default_room_version", func(c *Config) { c.RoomServer.DefaultRoomVersion = "org.matrix.msc2176" }},
		{"", func(c *Config) { c.RoomServer.DefaultRoomVersion = "10" }},
		{"", func(c *Config) { c.RoomServer.DefaultRoomVersion = "1" }},
		{"", func(c *Config) {
			c.TURN = TURN{URIs: []string{"turn:h:3478", "turns:h:5349"}, SharedSecret: "s", TTL: 1}
		}},
		{"", func(c *Config) { c.TURN = TURN{URIs: []string{"turn:h:3478"}, Username: "u", Password: "p", TTL: 1} }},
		{"turn.uris", func(c *Config) { c.TURN = TURN{URIs: []string{"stun:h:3478"}, SharedSecret: "s", TTL: 1} }},
		{"turn", func(c *Config) { c.TURN = TURN{URIs: []string{"turn:h"}, SharedSecret: "s", Username: "u", TTL: 1} }},
		{"turn", func(c *Config) { c.TURN = TURN{URIs: []string{"turn:h"}, TTL: 1} }},
		{"turn.uris", func(c *Config) { c.TURN = TURN{SharedSecret: "s", TTL: 1} }},
		{"turn.ttl", func(c *Config) { c.TURN.TTL = 0 }},
		{"", func(c *Config) {
			c.Support = Support{SupportPage: "https://example.org/help", Contacts: []SupportContact{
				{MatrixID: "@admin:example.org", Role: "m.role.admin"}, {EmailAddress: "sec@example.org", Role: "m.role.security"}}}
		}},
		{"support.contacts", func(c *Config) { c.Support.Contacts = []SupportContact{{Role: "m.role.admin"}} }},
		{"support.contacts", func(c *Config) { c.Support.Contacts = []SupportContact{{MatrixID: "admin", Role: "m.role.admin"}} }},
		{"support.contacts", func(c *Config) { c.Support.Contacts = []SupportContact{{EmailAddress: "nope", Role: "m.role.admin"}} }},
		{"support.contacts", func(c *Config) { c.Support.Contacts = []SupportContact{{EmailAddress: "a@example.org"}} }},
		{"support.support_page", func(c *Config) { c.Support.SupportPage = "example.org/help" }},
	}
	for i, tt := range tests {
		c := Default()
		tt.change(c)
		err := c.Verify()
		if tt.section == "" {
			if err != nil {
				t.Errorf("case %d: unexpected problems: %v", i, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("case %d: no problem, want one for %s", i, tt.section)
			continue
		}
		got := problems(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.section+": ") {
			t.Errorf("case %d: problems %q, want one for %s", i, got, tt.section)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("case %d: problem shows a password: %v", i, err)
		}
	}
}

func zero() float64 { return 0 }

func TestLoadRejectsFileProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown top-level key", "globl:\n  server_name: x\n", []string{"globl: line 1: unknown key", "global, "}},
		{
			name: "unknown nested key",
			yaml: "global:\n  database:\n    uri: sqlite:///x.db\n",
			want: []string{"global.database.uri: line 3: unknown key", "max_open_conns, url"},
		},
		{
			name: "two unknown keys",
			yaml: "client_api:\n  listen: x\nuser_api:\n  cost: 1\n",
			want: []string{"client_api.listen: line 2", "user_api.cost: line 4"},
		},
		{
			name: "unknown key in rate limit",
			yaml: "client_api:\n  rate_limits:\n    login:\n      rate: 1\n",
			want: []string{"client_api.rate_limits.login.rate: line 4: unknown key"},
		},
		{
			name: "bad duration",
			yaml: "user_api:\n  access_token_lifetime: 5 minutes\n",
			want: []string{"user_api.access_token_lifetime: line 2:", `invalid duration "5 minutes"`},
		},
		{
			name: "duration without unit",
			yaml: "global:\n  shutdown_timeout: 30\n",
			want: []string{"global.shutdown_timeout: line 2:", `invalid duration "30"`},
		},
		{
			name: "duration as a list",
			yaml: "user_api:\n  refresh_token_lifetime: [1h]\n",
			want: []string{"user_api.refresh_token_lifetime: line 2: want a duration"},
		},
		{
			name: "not a number",
			yaml: "global:\n  database:\n    max_open_conns: many\n",
			want: []string{`global.database.max_open_conns: line 3: want a whole number (got "many")`},
		},
		{
			name: "not a float",
			yaml: "client_api:\n  rate_limits:\n    login:\n      per_second: fast\n",
			want: []string{`client_api.rate_limits.login.per_second: line 4: want a number (got "fast")`},
		},
		{
			name: "not a bool",
			yaml: "client_api:\n  rate_limits:\n    enabled: maybe\n",
			want: []string{`client_api.rate_limits.enabled: line 3: want true or false (got "maybe")`},
		},
		{"list for a string", "global:\n  server_name: [a, b]\n", []string{"global.server_name: line 2: want a single value (got a list)"}},
		{"string for a list", "global:\n  components: clientapi\n", []string{"global.components: line 2: want a list"}},
		{"list for the whole file", "- global\n", []string{"the top level: line 1: want a section of keys"}},
		{"value for a section", "global:\n  log: debug\n", []string{"global.log: line 2: want a section of keys"}},
		{
			name: "several problems at once",
			yaml: "global:\n  database:\n    max_open_conns: x\n  logg: {}\nuser_api:\n  bcrypt_cost: y\n",
			want: []string{"global.database.max_open_conns: line 3", "global.logg: line 4", "user_api.bcrypt_cost: line 6"},
		},
		{"bad YAML", "global:\n  server_name: [\n", []string{"yaml"}},
		{"two documents", "global: {}\n---\nglobal: {}\n", []string{"more than one YAML document"}},
		{"duplicate key", "global:\n  data_dir: a\n  data_dir: b\n", []string{"data_dir"}},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.yaml)
		for _, load := range []struct {
			name string
			fn   func() (*Config, error)
		}{
			{"Load", func() (*Config, error) { return Load([]string{"--config", path}, nil) }},
			{"LoadFile", func() (*Config, error) { return LoadFile(path) }},
		} {
			c, err := load.fn()
			if err == nil {
				t.Errorf("%s %s: no error, config %+v", load.name, tt.name, c)
				continue
			}
			if c != nil {
				t.Errorf("%s %s: config returned with error", load.name, tt.name)
			}
			msg := err.Error()
			for _, want := range append(tt.want, path) {
				if !strings.Contains(msg, want) {
					t.Errorf("%s %s: error %q does not contain %q", load.name, tt.name, msg, want)
				}
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load([]string{"--config", missing}, nil); err == nil || !strings.Contains(err.Error(), missing) ||
		!errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadFile(missing); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile missing file: %v", err)
	}
	if _, err := LoadFile(""); err == nil {
		t.Error("LoadFile(\"\") succeeded")
	}
	if _, err := Load([]string{"--no-such-flag"}, nil); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := Load([]string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
	if _, err := Load([]string{"--server-name"}, nil); err == nil {
		t.Error("flag without value accepted")
	}
	if _, err := Load([]string{"stray"}, nil); err == nil || !strings.Contains(err.Error(), "stray") {
		t.Errorf("positional argument: %v", err)
	}
}

func TestLoadFileEmptyAndPartial(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		c, err := LoadFile(writeConfig(t, content))
		if err != nil {
			t.Errorf("%q: %v", content, err)
			continue
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("%q: %+v, want the defaults", content, c)
		}
	}
	// A null section, a null value and explicit zeros keep their defaults.
	c, err := LoadFile(writeConfig(t, "global:\n  data_dir:\n  database:\n    max_open_conns: 0\nclient_api:\n  rate_limits:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("null and zero values: %+v, want the defaults", c)
	}
}

func TestZeroValuesThatMeanSomethingSurvive(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		get  func(c *Config) any
		want any
	}{
		{"rate limits absent", "global: {}\n", func(c *Config) any { return c.ClientAPI.RateLimits.Enabled }, true},
		{
			name: "rate limits section without enabled",
			yaml: "client_api:\n  rate_limits:\n    login:\n      burst: 7\n",
			get:  func(c *Config) any { return c.ClientAPI.RateLimits.Enabled },
			want: true,
		},
		{
			name: "enabled: true",
			yaml: "client_api:\n  rate_limits:\n    enabled: true\n",
			get:  func(c *Config) any { return c.ClientAPI.RateLimits.Enabled },
			want: true,
		},
		{
			name: "enabled: false",
			yaml: "client_api:\n  rate_limits:\n    enabled: false\n",
			get:  func(c *Config) any { return c.ClientAPI.RateLimits.Enabled },
			want: false,
		},
		{
			name: "legacy media absent",
			yaml: "media_api: {}\n",
			get:  func(c *Config) any { return c.MediaAPI.LegacyMedia.Enabled },
			want: true,
		},
		{
			name: "legacy media enabled: false",
			yaml: "media_api:\n  legacy_media:\n    enabled: false\n",
			get:  func(c *Config) any { return c.MediaAPI.LegacyMedia.Enabled },
			want: false,
		},
		{
			name: "url previews enabled: false",
			yaml: "media_api:\n  url_preview:\n    enabled: false\n",
			get:  func(c *Config) any { return c.MediaAPI.URLPreview.Enabled },
			want: false,
		},
		{
			name: "redaction retention absent",
			yaml: "room_server: {}\n",
			get:  func(c *Config) any { return c.RoomServer.RedactionRetentionPeriod },
			want: Duration(168 * time.Hour),
		},
		{
			name: "redaction retention 0s: forever",
			yaml: "room_server:\n  redaction_retention_period: 0s\n",
			get:  func(c *Config) any { return c.RoomServer.RedactionRetentionPeriod },
			want: Duration(0),
		},
		{
			name: "refresh lifetime absent",
			yaml: "user_api: {}\n",
			get:  func(c *Config) any { return c.UserAPI.RefreshTokenLifetime },
			want: Duration(720 * time.Hour),
		},
		{
			name: "refresh lifetime 0s",
			yaml: "user_api:\n  refresh_token_lifetime: 0s\n",
			get:  func(c *Config) any { return c.UserAPI.RefreshTokenLifetime },
			want: Duration(0),
		},
		{
			name: "refresh lifetime 1h30m",
			yaml: "user_api:\n  refresh_token_lifetime: 1h30m\n",
			get:  func(c *Config) any { return c.UserAPI.RefreshTokenLifetime },
			want: Duration(90 * time.Minute),
		},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.yaml)
		for name, load := range map[string]func() (*Config, error){
			"Load":     func() (*Config, error) { return Load([]string{"--config", path}, nil) },
			"LoadFile": func() (*Config, error) { return LoadFile(path) },
		} {
			c, err := load()
			if err != nil {
				t.Errorf("%s %s: %v", name, tt.name, err)
				continue
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("%s %s: got %v, want %v", name, tt.name, got, tt.want)
			}
		}
	}
	// The other rate limits still get their defaults.
	c, err := LoadFile(writeConfig(t, "client_api:\n  rate_limits:\n    enabled: false\n    login:\n      burst: 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientAPI.RateLimits.Login != (RateLimit{PerSecond: 0.2, Burst: 7}) ||
		c.ClientAPI.RateLimits.Requests != DefaultRequestsRateLimit {
		t.Errorf("rate limits = %+v", c.ClientAPI.RateLimits)
	}
}

func TestComponents(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		yaml    string
		want    []string
		wantErr string
	}{
		{name: "default", want: []string{"all"}},
		{name: "one", args: []string{"--components", "clientapi"}, want: []string{"clientapi"}},
		{
			name: "several with spaces",
			args: []string{"--components", " clientapi, syncapi ,,userapi"},
			want: []string{"clientapi", "syncapi", "userapi"},
		},
		{name: "empty flag means all", args: []string{"--components="}, want: []string{"all"}},
		{name: "yaml list", yaml: "global:\n  components:\n    - roomserver\n    - mediaapi\n", want: []string{"roomserver", "mediaapi"}},
		{name: "yaml empty list means all", yaml: "global:\n  components: []\n", want: []string{"all"}},
		{
			name: "flag replaces yaml",
			args: []string{"--components", "federationapi"},
			yaml: "global:\n  components: [roomserver, mediaapi]\n",
			want: []string{"federationapi"},
		},
		{
			name: "unknown",
			args: []string{"--components", "clientapi,chat,ClientAPI"},
			wantErr: `global.components: must be among all, clientapi, userapi, roomserver, syncapi, federationapi, mediaapi (got "chat")` +
				"\n" +
				`global.components: must be among all, clientapi, userapi, roomserver, syncapi, federationapi, mediaapi (got "ClientAPI")`,
		},
	}
	for _, tt := range tests {
		args := tt.args
		if tt.yaml != "" {
			args = append([]string{"--config", writeConfig(t, tt.yaml)}, args...)
		}
		c, err := Load(args, nil)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(c.Global.Components, tt.want) {
			t.Errorf("%s: components %q, want %q", tt.name, c.Global.Components, tt.want)
		}
	}

	runs := []struct {
		components []string
		component  string
		want       bool
	}{
		{[]string{"all"}, "clientapi", true},
		{[]string{"all"}, "mediaapi", true},
		{[]string{"clientapi", "userapi"}, "userapi", true},
		{[]string{"clientapi", "userapi"}, "syncapi", false},
		{[]string{"syncapi", "all"}, "roomserver", true},
		{nil, "clientapi", false},
	}
	for _, tt := range runs {
		c := &Config{Global: Global{Components: tt.components}}
		if got := c.Runs(tt.component); got != tt.want {
			t.Errorf("Runs(%q) with %q = %v, want %v", tt.component, tt.components, got, tt.want)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := t.TempDir()
	tests := []struct {
		dataDir, url, want string
	}{
		{"./myelin-data", "", "sqlite://" + filepath.ToSlash(filepath.Join(wd, "myelin-data", "myelin.db"))},
		{"data", "", "sqlite://" + filepath.ToSlash(filepath.Join(wd, "data", "myelin.db"))},
		{abs, "", "sqlite://" + filepath.ToSlash(filepath.Join(abs, "myelin.db"))},
		{abs, "sqlite://relative.db", "sqlite://relative.db"},
		{abs, "postgres://u:p@h/db", "postgres://u:p@h/db"},
	}
	for _, tt := range tests {
		c := Default()
		c.Global.DataDir = tt.dataDir
		c.Global.Database.URL = tt.url
		got := c.DatabaseURL()
		if got != tt.want {
			t.Errorf("DatabaseURL(data_dir %q, url %q) = %q, want %q", tt.dataDir, tt.url, got, tt.want)
		}
		if tt.url == "" {
			path := strings.TrimPrefix(got, "sqlite://")
			if !filepath.IsAbs(filepath.FromSlash(path)) || !strings.HasPrefix(got, "sqlite:///") {
				t.Errorf("DatabaseURL() = %q is not sqlite:// and an absolute path", got)
			}
		}
	}
}

func TestValidateServerName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"localhost", true},
		{"example.com", true},
		{"example.com:8448", true},
		{"matrix.Example.COM", true},
		{"my-host.example.com", true},
		{"1.2.3.4", true},
		{"1.2.3.4:8448", true},
		{"[::1]", true},
		{"[::1]:8448", true},
		{"[2001:db8::1]:443", true},
		{"[::ffff:1.2.3.4]", true},
		{"a", true},
		{"example.com:1", true},
		{"example.com:65535", true},

		{"", false},
		{"exa mple.com", false},
		{"example.com:99999", false},
		{"example.com:65536", false},
		{"example.com:0", false},
		{"example.com:", false},
		{"example.com:port", false},
		{"example.com:-1", false},
		{"-bad", false},
		{"bad-.example.com", false},
		{"a/b", false},
		{"a_b.example.com", false},
		{"example.com.", false},
		{".example.com", false},
		{"example..com", false},
		{"@example.com", false},
		{"exämple.com", false},
		{strings.Repeat("a", 64) + ".com", false},
		{"1.2.3", false},
		{"1.2.3.256", false},
		{"::1", false},
		{"[::1", false},
		{"[::1]8448", false},
		{"[example.com]", false},
		{"[1.2.3.4]", false},
		{"[::1%eth0]", false},
		{":8448", false},
	}
	for _, tt := range tests {
		err := ValidateServerName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateServerName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		text string
	}{
		{0, "0s"},
		{30 * time.Second, "30s"},
		{5 * time.Minute, "5m"},
		{720 * time.Hour, "720h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d).String(); got != tt.text {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.text)
		}
		if got, err := ParseDuration(tt.text); err != nil || got != Duration(tt.d) {
			t.Errorf("ParseDuration(%q) = %v, %v", tt.text, got, err)
		}
		c, err := LoadFile(writeConfig(t, "user_api:\n  refresh_token_lifetime: "+Duration(tt.d).String()+"\n"))
		if err != nil || c.UserAPI.RefreshTokenLifetime != Duration(tt.d) {
			t.Errorf("refresh_token_lifetime %s: %v, %v", Duration(tt.d), c, err)
		}
	}
}

func TestGenerateYAMLRoundTrip(t *testing.T) {
	text := GenerateYAML()
	c, err := LoadFile(writeConfig(t, text))
	if err != nil {
		t.Fatalf("loading the generated YAML: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("generated YAML loads as %+v, want %+v", c, Default())
	}

	// Every key is present and has a comment right above it.
	key := regexp.MustCompile(`^(\s*)([a-z_]+):`)
	var stack []string // keys of the enclosing sections, by depth
	seen := map[string]bool{}
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		depth := len(m[1]) / 2
		stack = append(stack[:depth], m[2])
		seen[strings.Join(stack, ".")] = true
		if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			t.Errorf("key %s has no comment above it", strings.Join(stack, "."))
		}
	}
	for _, path := range leafPaths(reflect.TypeFor[Config](), "") {
		if !seen[path] {
			t.Errorf("generated YAML lacks %s", path)
		}
	}
}

// leafPaths lists the YAML paths of every setting in t.
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for name, ft := range yamlFields(t) {
		p := joinPath(prefix, name)
		if ft.Kind() == reflect.Struct {
			out = append(out, leafPaths(ft, p)...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	c, err := LoadFile(writeConfig(t, `
client_api:
  rate_limits:
    login: &rl
      per_second: 1
      burst: 2
    registration: *rl
    requests:
      <<: *rl
      burst: 50
`))
	if err != nil {
		t.Fatal(err)
	}
	rl := c.ClientAPI.RateLimits
	if rl.Login != (RateLimit{1, 2}) || rl.Registration != (RateLimit{1, 2}) || rl.Requests != (RateLimit{1, 50}) {
		t.Errorf("rate limits = %+v", rl)
	}
	_, err = LoadFile(writeConfig(t, `
base: &base
  burst: 2
client_api:
  rate_limits:
    requests:
      <<: [{rate: 3}]
`))
	if err == nil || !strings.Contains(err.Error(), "base: line 2: unknown key") ||
		!strings.Contains(err.Error(), "client_api.rate_limits.requests.rate: line 7: unknown key") {
		t.Errorf("unknown keys through anchors and merges: %v", err)
	}
}
