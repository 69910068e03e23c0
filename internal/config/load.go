package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "MYELIN_"

// setting is one command-line flag and its environment twin.
type setting struct {
	flag string // flag name, without dashes
	arg  string // placeholder for the value in Usage
	path string // YAML key it sets; "" for --config
	help string
	// apply stores a value in the configuration; nil for --config.
	apply func(c *Config, v string)
	// isBool makes the flag a switch: given alone it means "true"; its
	// value (flag or environment) must be true or false.
	isBool bool
	// repeat makes the flag repeatable: its uses form a comma-separated
	// list, as its environment twin is written.
	repeat bool
}

// boolValue is a string flag that may be given without a value.
type boolValue struct{ s *string }

func (b boolValue) String() string {
	if b.s == nil {
		return ""
	}
	return *b.s
}
func (b boolValue) Set(v string) error {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		*b.s = "true"
	case "false", "0", "no", "off":
		*b.s = "false"
	default:
		return fmt.Errorf("want true or false, got %q", v)
	}
	return nil
}
func (b boolValue) IsBoolFlag() bool { return true }

// parseHosts reads name=host:port,… into a map; a malformed item keeps its
// text as the name, so that verification reports it.
func parseHosts(v string) map[string]string {
	out := map[string]string{}
	for _, item := range splitList(v) {
		name, addr, _ := strings.Cut(item, "=")
		out[strings.TrimSpace(name)] = strings.TrimSpace(addr)
	}
	return out
}

// env returns the flag's environment twin: MYELIN_ and the flag name in upper
// snake case.
func (s setting) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

// configSetting names the configuration file; the others set a key.
var configSetting = setting{flag: "config", arg: "FILE", help: "Read the configuration from this YAML file."}

var settings = []setting{
	configSetting,
	{
		flag:  "server-name",
		arg:   "NAME",
		path:  "global.server_name",
		help:  "Matrix server name, the part after the colon in user IDs.",
		apply: func(c *Config, v string) { c.Global.ServerName = v },
	},
	{
		flag:  "data-dir",
		arg:   "DIR",
		path:  "global.data_dir",
		help:  "Directory for Myelin's files, including the default SQLite database.",
		apply: func(c *Config, v string) { c.Global.DataDir = v },
	},
	{
		flag:  "client-addr",
		arg:   "HOST:PORT",
		path:  "client_api.listen_addr",
		help:  "Address the client-server API listens on.",
		apply: func(c *Config, v string) { c.ClientAPI.ListenAddr = v },
	},
	{
		flag:  "federation-addr",
		arg:   "HOST:PORT",
		path:  "federation.listen_addr",
		help:  "Address the server-server (federation) API listens on.",
		apply: func(c *Config, v string) { c.FederationAPI.ListenAddr = v },
	},
	{
		flag: "tls-cert",
		arg:  "FILE",
		path: "federation.tls_cert",
		help: "PEM certificate (with chain) of the federation listener; with --tls-key. " +
			"Neither: a self-signed one is made on first start.",
		apply: func(c *Config, v string) { c.FederationAPI.TLSCert = v },
	},
	{
		flag:  "tls-key",
		arg:   "FILE",
		path:  "federation.tls_key",
		help:  "PEM private key of the federation listener's certificate.",
		apply: func(c *Config, v string) { c.FederationAPI.TLSKey = v },
	},
	{
		flag:  "tls-ca",
		arg:   "FILE",
		path:  "federation.tls_ca",
		help:  "PEM file of extra CA certificates to trust for outgoing federation requests.",
		apply: func(c *Config, v string) { c.FederationAPI.TLSCA = v },
	},
	{
		flag:  "federation-hosts",
		arg:   "LIST",
		path:  "federation.hosts",
		help:  "Discovery overrides: name=host:port,… (private networks, tests).",
		apply: func(c *Config, v string) { c.FederationAPI.Hosts = parseHosts(v) },
	},
	{
		flag:   "federation-allow-private-networks",
		arg:    "BOOL",
		path:   "federation.allow_private_networks",
		help:   "Let outgoing federation requests reach loopback and private addresses.",
		isBool: true,
		apply: func(c *Config, v string) {
			c.FederationAPI.AllowPrivateNetworks = slices.Contains([]string{"true", "1", "yes", "on"}, strings.ToLower(v))
		},
	},
	{
		flag:  "database",
		arg:   "URL",
		path:  "global.database.url",
		help:  "Database URL: sqlite:///abs/path.db, sqlite://relative.db or postgres://…; empty means SQLite in the data directory.",
		apply: func(c *Config, v string) { c.Global.Database.URL = v },
	},
	{
		flag:  "registration",
		arg:   "MODE",
		path:  "client_api.registration",
		help:  "Who may register: open, token or disabled.",
		apply: func(c *Config, v string) { c.ClientAPI.Registration = v },
	},
	{
		flag: "registration-shared-secret",
		arg:  "SECRET",
		path: "client_api.registration_shared_secret",
		help: "Secret for Synapse-compatible shared-secret admin registration; empty turns it off. " +
			"Prefer the environment or the file: other local users can see command lines.",
		apply: func(c *Config, v string) { c.ClientAPI.RegistrationSharedSecret = v },
	},
	{
		flag:  "log-level",
		arg:   "LEVEL",
		path:  "global.log.level",
		help:  "Log level: trace, debug, info, warn or error.",
		apply: func(c *Config, v string) { c.Global.Log.Level = v },
	},
	{
		flag:  "log-format",
		arg:   "FORMAT",
		path:  "global.log.format",
		help:  "Log format: text or json.",
		apply: func(c *Config, v string) { c.Global.Log.Format = v },
	},
	{
		flag:  "metrics-addr",
		arg:   "HOST:PORT",
		path:  "global.metrics_addr",
		help:  "Address to serve Prometheus metrics on; empty turns metrics off.",
		apply: func(c *Config, v string) { c.Global.MetricsAddr = v },
	},
	{
		flag:  "components",
		arg:   "LIST",
		path:  "global.components",
		help:  "Comma-separated components to run: all, or any of " + strings.Join(Components[1:], ", ") + ".",
		apply: func(c *Config, v string) { c.Global.Components = splitList(v) },
	},
	{
		flag:  "bus",
		arg:   "URL",
		path:  "global.bus.url",
		help:  "Message bus: empty for the in-process bus, or amqp://… for RabbitMQ.",
		apply: func(c *Config, v string) { c.Global.Bus.URL = v },
	},
	{
		flag:  "search-backend",
		arg:   "NAME",
		path:  "search.backend",
		help:  "Message search: sql (full-text indexes in the database), elasticsearch or off.",
		apply: func(c *Config, v string) { c.Search.Backend = v },
	},
	{
		flag:  "default-room-version",
		arg:   "VERSION",
		path:  "room_server.default_room_version",
		help:  "Version of rooms created without one (a stable version; default " + DefaultRoomVersion + ").",
		apply: func(c *Config, v string) { c.RoomServer.DefaultRoomVersion = v },
	},
	{
		flag:  "cache",
		arg:   "URL",
		path:  "global.cache.url",
		help:  "Cache: empty for an in-memory cache, or redis://… for Redis.",
		apply: func(c *Config, v string) { c.Global.Cache.URL = v },
	},
	{
		flag:  "sms-provider",
		arg:   "NAME",
		path:  "sms.provider",
		help:  "Who sends SMS verification codes: log, webhook, aliyun or twilio.",
		apply: func(c *Config, v string) { c.SMS.Provider = v },
	},
	{
		flag: "sms-outbox-file",
		arg:  "FILE",
		path: "sms.outbox_file",
		help: "With the log SMS provider, append each message as a JSON line to this file " +
			"(development and tests: it holds live codes).",
		apply: func(c *Config, v string) { c.SMS.OutboxFile = v },
	},
	{
		flag:  "turn-uris",
		arg:   "LIST",
		path:  "turn.uris",
		help:  "Comma-separated TURN server URIs handed to clients for calls (turn:host:3478?transport=udp, …).",
		apply: func(c *Config, v string) { c.TURN.URIs = splitList(v) },
	},
	{
		flag: "turn-shared-secret",
		arg:  "SECRET",
		path: "turn.shared_secret",
		help: "coturn's static-auth-secret, from which each client's TURN credentials are made. " +
			"Prefer the environment or the file: other local users can see command lines.",
		apply: func(c *Config, v string) { c.TURN.SharedSecret = v },
	},
	{
		flag: "appservice",
		arg:  "FILE",
		path: "app_services.registration_files",
		help: "An application service's registration file; repeat the flag for more " +
			"(the environment variable takes a comma-separated list).",
		repeat: true,
		apply:  func(c *Config, v string) { c.AppServices.RegistrationFiles = splitList(v) },
	},
}

// splitList splits a comma-separated list, dropping spaces and empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Load builds the configuration of a server from its command-line arguments
// (without the program name), the environment read through getenv (normally
// os.LookupEnv; nil means an empty environment) and the configuration file
// named by --config or MYELIN_CONFIG, if any.
//
// A flag wins over its environment twin, which wins over the file, which wins
// over the default. Only flags actually given count, and an environment
// variable set to the empty string counts as unset. Fields still zero after
// that get their default, and the result is verified: when it is invalid Load
// returns nil and the *Errors listing every problem (not wrapped). A flag
// error, including -h/--help (errors.Is(err, flag.ErrHelp); print Usage), a
// stray positional argument, an unreadable file or a bad file is returned
// wrapped, naming the flag or the file.
func Load(args []string, getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	fs := flag.NewFlagSet("myelin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		if s.isBool {
			v := new(string)
			fs.Var(boolValue{v}, s.flag, s.help)
			values[s.flag] = v
			continue
		}
		if s.repeat {
			v := new(string)
			fs.Var(listValue{v}, s.flag, s.help)
			values[s.flag] = v
			continue
		}
		values[s.flag] = fs.String(s.flag, "", s.help)
	}
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	path, _ := lookupEnv(getenv, configSetting.env())
	if given[configSetting.flag] {
		path = *values[configSetting.flag]
	}

	c := Default()
	if path != "" {
		if err := decodeFile(c, path); err != nil {
			return nil, err
		}
	}
	for _, s := range settings {
		if v, ok := lookupEnv(getenv, s.env()); ok && s.apply != nil {
			s.apply(c, v)
		}
	}
	for _, s := range settings {
		if given[s.flag] && s.apply != nil {
			s.apply(c, *values[s.flag])
		}
	}
	c.Defaults()
	if err := c.Verify(); err != nil {
		return nil, err
	}
	return c, nil
}

// lookupEnv reads an environment variable, treating an empty value as unset.
func lookupEnv(getenv func(string) (string, bool), name string) (string, bool) {
	v, ok := getenv(name)
	return v, ok && v != ""
}

// LoadFile reads the configuration file at path, with no environment or
// flags, applies the defaults and verifies the result. It returns nil and an
// *Errors when the configuration is invalid.
func LoadFile(path string) (*Config, error) {
	if path == "" {
		return nil, errors.New("config: no configuration file given")
	}
	c := Default()
	if err := decodeFile(c, path); err != nil {
		return nil, err
	}
	c.Defaults()
	if err := c.Verify(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeFile reads the YAML file at path on top of c. Keys missing from the
// file leave c's values alone. Unknown keys and bad values are reported
// together, each with its full key and line.
func decodeFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: cannot read configuration file: %w", err)
	}
	if err := decodeYAML(c, data); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

func decodeYAML(c *Config, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: all defaults
		}
		return err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return errors.New("holds more than one YAML document")
	}
	errs := &Errors{}
	checkNode(errs, &doc, reflect.TypeFor[Config](), "")
	if err := errs.Err(); err != nil {
		return err
	}
	// checkNode has already rejected unknown keys with better messages;
	// KnownFields stays on as a safety net.
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(c)
}

var durationType = reflect.TypeFor[Duration]()

// checkNode records the problems of n, which is to be decoded into a value of
// type t found at key path: unknown keys, bad durations and values of the
// wrong type, each named by its key. The YAML decoder, which runs only when
// there are none, catches anything missed here.
func checkNode(errs *Errors, n *yaml.Node, t reflect.Type, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, child := range n.Content {
			checkNode(errs, child, t, path)
		}
		return
	case yaml.AliasNode:
		if n.Alias != nil {
			checkNode(errs, n.Alias, t, path)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null leaves the value alone
	}
	if t == durationType {
		if n.Kind != yaml.ScalarNode {
			errs.Add(path, "line %d: want a duration such as 30s, 5m or 720h", n.Line)
		} else if _, err := ParseDuration(n.Value); err != nil {
			errs.Add(path, "line %d: %v", n.Line, err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			errs.Add(sectionName(path), "line %d: want a section of keys", n.Line)
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				checkMerge(errs, v, t, path)
				continue
			}
			key := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				errs.Add(key, "line %d: unknown key (%s takes: %s)", k.Line, sectionName(path), strings.Join(sortedKeys(fields), ", "))
				continue
			}
			checkNode(errs, v, ft, key)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			errs.Add(path, "line %d: want a list", n.Line)
			return
		}
		for _, child := range n.Content {
			checkNode(errs, child, t.Elem(), path)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			errs.Add(path, "line %d: want a section of name: value pairs", n.Line)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			checkNode(errs, k, t.Key(), path)
			checkNode(errs, v, t.Elem(), joinPath(path, k.Value))
		}
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			errs.Add(path, "line %d: want %s (got %s)", n.Line, kindName(t.Kind()), nodeText(n))
		}
	}
}

// kindName describes the values a field of kind k takes.
func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a single value"
	}
}

// nodeText shows a YAML value in an error.
func nodeText(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// checkMerge checks the value of a YAML merge key (<<): a mapping, an alias
// of one, or a sequence of them.
func checkMerge(errs *Errors, n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.SequenceNode {
		for _, child := range n.Content {
			checkNode(errs, child, t, path)
		}
		return
	}
	checkNode(errs, n, t, path)
}

// yamlFields maps the YAML keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sectionName(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// Usage returns help text listing every flag, its environment twin and what
// it sets.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage: myelin [flags]

Every flag can also be given as the environment variable shown after it. A
flag wins over the environment, the environment over the configuration file,
and the file over the built-in default. An environment variable set to the
empty string counts as unset. Flags may start with - or --.

Flags:
`)
	for _, s := range settings {
		left := "--" + s.flag + " " + s.arg
		fmt.Fprintf(&b, "  %-38s %s\n", left, s.env())
		help := s.help
		if s.path != "" {
			help += " (" + s.path + ")"
		}
		for _, line := range wrap(help, 72) {
			fmt.Fprintf(&b, "        %s\n", line)
		}
	}
	b.WriteString("  -h, --help\n        Show this help.\n")
	return b.String()
}

// wrap splits text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
