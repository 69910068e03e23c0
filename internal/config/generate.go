package config

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlHeader opens the generated configuration file.
const yamlHeader = `Myelin configuration file.

Every setting is shown at its default value; delete the ones you do not
change, or keep them as a reference. A key left out takes its default.

Settings marked with a flag can also be set on the command line or in the
environment (run myelin --help). A flag wins over the environment, which wins
over this file. Durations are written like 30s, 5m or 720h.`

// docs documents every key of the configuration, by path. GenerateYAML adds
// the default value and, where there is one, the flag and environment twin.
var docs = map[string]string{
	"global": "Settings shared by every component.",
	"global.server_name": "The Matrix server name: the part after the colon in user IDs " +
		"(@alice:example.com) and room aliases. A hostname, an IPv4 address or an " +
		"[IPv6] address, optionally followed by :port. It cannot be changed once " +
		"the server has users or rooms.",
	"global.data_dir": "Directory for Myelin's files, such as the default SQLite database. " +
		"A relative path is relative to the working directory.",
	"global.database": "The database of record.",
	"global.database.url": "Database URL. Empty means the SQLite file " + SQLiteFileName + " in data_dir. " +
		"Otherwise one of sqlite:///absolute/path.db, sqlite://relative/path.db " +
		"(relative to the working directory), or " +
		"postgres://user:password@host:5432/dbname?sslmode=disable (postgresql:// also works).",
	"global.database.max_open_conns": "Largest number of open database connections " +
		"(the PostgreSQL pool, or the SQLite reader pool). At least 1.",
	"global.bus": "The message bus between components.",
	"global.bus.url": "Empty means an in-process durable bus, for a single process. " +
		"amqp://user:password@host:5672/ (or amqps://) uses RabbitMQ, which is needed " +
		"when the components run in several processes.",
	"global.cache": "Shared short-lived data, such as rate-limit counters.",
	"global.cache.url": "Empty (or memory) keeps the cache in this process. redis://host:6379/0 " +
		"(or rediss://) uses Redis, shared by every Myelin process.",
	"global.log":        "Logging.",
	"global.log.level":  "Least severe messages logged: one of " + strings.Join(LogLevels, ", ") + ".",
	"global.log.format": "One of " + strings.Join(LogFormats, ", ") + ".",
	"global.metrics_addr": "host:port to serve Prometheus metrics on, for example 127.0.0.1:9090. " +
		"Empty turns metrics off.",
	"global.components": "Components this process runs: all, or a list of any of " +
		strings.Join(Components[1:], ", ") + ".",
	"global.shutdown_timeout": "How long a graceful shutdown may wait for work in progress. More than 0.",

	"client_api": "The client-server API, which Matrix clients talk to.",
	"client_api.listen_addr": "host:port the client-server API listens on. " +
		"An empty host listens on every interface.",
	"client_api.registration": "Who may register an account: open (anyone), token (only with a " +
		"registration token) or disabled (no one can register through the client API).",
	"client_api.registration_shared_secret": "Secret for Synapse-compatible shared-secret " +
		"registration, with which admins create accounts (for example with Synapse's register_new_matrix_user). " +
		"Empty turns it off. Anyone who knows it can create admin accounts: keep it secret.",
	"client_api.max_request_body_bytes": "Largest request body accepted, in bytes. At least " +
		fmt.Sprint(MinMaxRequestBodyBytes) + ".",
	"client_api.well_known_base_url": "Homeserver base URL given to clients in /.well-known/matrix/client. " +
		"Empty means derived from server_name. When set, an absolute http(s) URL such as " +
		"https://matrix.example.com.",
	"client_api.rate_limits": "Rate limits. Each is a token bucket: per_second is the sustained " +
		"rate and burst how many may come at once. Both must be more than 0.",
	"client_api.rate_limits.enabled":      "false turns every rate limit off.",
	"client_api.rate_limits.login":        "Failed logins, counted per user and per IP address.",
	"client_api.rate_limits.registration": "Registration attempts, per IP address.",
	"client_api.rate_limits.requests":     "Authenticated requests, per access token.",

	"user_api": "Accounts, passwords and tokens.",
	"user_api.bcrypt_cost": "bcrypt cost of password hashes, from 4 to 31. Each step doubles " +
		"the time to hash or check a password.",
	"user_api.password_min_length": "Shortest password accepted, in characters. At least 1.",
	"user_api.access_token_lifetime": "Lifetime of access tokens issued together with a refresh " +
		"token, to clients that support refresh tokens. At least 1m.",
	"user_api.refresh_token_lifetime": "Lifetime of refresh tokens. 0s means they never expire.",

	"federation": "The server-server (federation) API, which other Matrix servers talk to.",
	"federation.listen_addr": "host:port the federation API listens on (HTTPS). " +
		"An empty host listens on every interface.",
	"federation.tls_cert": "PEM file of the federation listener's certificate and chain. " +
		"Empty (with tls_key empty): a self-signed certificate for the server name is made " +
		"on first start and kept in the data directory; other servers will not trust it.",
	"federation.tls_key": "PEM file of the certificate's private key.",
	"federation.tls_ca": "PEM file of CA certificates trusted, besides the system's, " +
		"for outgoing federation requests (private deployments, tests).",
	"federation.hosts": "Server discovery overrides, server name: host:port. " +
		"Requests to a listed server go to that address, even a private one.",
	"federation.allow_private_networks": "Let outgoing requests reach loopback and " +
		"private addresses found by discovery. Off protects internal services from " +
		"requests other servers make this one send.",
	"federation.trusted_key_servers": "Notaries (server names) asked for another server's " +
		"signing keys when that server cannot be asked itself. Their answers are checked " +
		"against their own keys and the keys' owner's signatures.",
	"federation.well_known_server": "If set, /.well-known/matrix/server answers " +
		"m.server with it (host:port), delegating federation to that address.",

	"media_api": "The content repository: uploads and downloads of files, thumbnails, " +
		"URL previews and voice-message transcription.",
	"media_api.base_path": "Directory media files are kept in, each file once under the " +
		"SHA-256 of its content. Empty means the directory " + DefaultMediaDirName + " in data_dir.",
	"media_api.max_upload_bytes": "Largest file accepted, in bytes; clients are told it " +
		"(m.upload.size). At least 1.",
	"media_api.user_quota_bytes": "Bytes each user may upload in total, counting every " +
		"upload even when the same file is already stored. 0 means no quota.",
	"media_api.unused_upload_expiry": "How long a media ID created for a later upload " +
		"(POST /_matrix/media/v1/create) waits for its content before it expires. At least 1m.",
	"media_api.max_pending_uploads": "How many created media IDs still waiting for their " +
		"content a user may hold at once. At least 1.",
	"media_api.legacy_media": "The deprecated unauthenticated download paths " +
		"(/_matrix/media/v3/download), which older clients still use.",
	"media_api.legacy_media.enabled": "false serves media only on the authenticated paths " +
		"(/_matrix/client/v1/media/download).",
	"media_api.legacy_media.frozen_after": "An RFC 3339 time such as 2024-09-01T00:00:00Z: " +
		"media stored after it is served only on the authenticated paths (the spec's freeze). " +
		"Empty means no freeze.",
	"media_api.max_thumbnail_pixels": "Largest image, in pixels (width times height), that " +
		"is thumbnailed. At least 1.",
	"media_api.thumbnail_sizes": "Thumbnails made when an image is uploaded: width, height " +
		"and method (crop or scale). Other sizes are made when asked for. An empty list " +
		"means the default: 32x32 crop, 96x96 crop, 320x240 scale, 640x480 scale, 800x600 scale.",
	"media_api.url_preview": "URL previews (GET /_matrix/client/v1/media/preview_url): the " +
		"server fetches a page a client names and returns its title, description and image.",
	"media_api.url_preview.enabled": "false turns URL previews off.",
	"media_api.url_preview.ip_range_whitelist": "Addresses (CIDR ranges or single " +
		"addresses) previews may fetch although they are private, loopback, link-local " +
		"or blacklisted. Private addresses are refused unless listed here.",
	"media_api.url_preview.ip_range_blacklist": "Addresses refused besides the private, " +
		"loopback and link-local ranges, which are always refused.",
	"media_api.url_preview.max_bytes": "Most bytes of a page or image fetched for a preview. At least 1.",
	"media_api.url_preview.timeout":   "Time limit of one fetch. More than 0.",
	"media_api.url_preview.cache_ttl": "How long a preview is reused before the page is fetched again.",
	"media_api.transcription":         "Voice-message transcription (the im.myelin.transcribe extension).",
	"media_api.transcription.engine": "pocketsphinx (offline), openai (an OpenAI-compatible " +
		"server) or baidu. Empty means pocketsphinx when its programs are installed, else none.",
	"media_api.transcription.timeout": "Time limit of one transcription, waiting for a free slot included. More than 0.",
	"media_api.transcription.max_concurrent": "Transcriptions that may run at once; more wait. " +
		"0 means half the CPUs, at least one.",
	"media_api.transcription.pocketsphinx": "The offline engine: Debian's pocketsphinx and pocketsphinx-en-us, " +
		"with ffmpeg (from PATH). Each empty setting takes the US English model of pocketsphinx-en-us.",
	"media_api.transcription.pocketsphinx.binary": "The pocketsphinx_continuous program, a path or a name " +
		"looked up in PATH. Empty means pocketsphinx_continuous.",
	"media_api.transcription.pocketsphinx.hmm":      "Acoustic model directory (-hmm).",
	"media_api.transcription.pocketsphinx.lm":       "Language model (-lm).",
	"media_api.transcription.pocketsphinx.dict":     "Pronunciation dictionary (-dict).",
	"media_api.transcription.pocketsphinx.language": "The model's language (ISO 639-1); requests for another are refused.",
	"media_api.transcription.openai": "An OpenAI-compatible speech-to-text server (whisper.cpp, " +
		"faster-whisper or the hosted API).",
	"media_api.transcription.openai.url":     "The server's base URL; /v1/audio/transcriptions is added.",
	"media_api.transcription.openai.model":   "The model asked for.",
	"media_api.transcription.openai.api_key": "Sent as a Bearer token. Empty sends none. Keep it secret.",
	"media_api.transcription.baidu":          "Baidu's speech recognition REST API.",
	"media_api.transcription.baidu.api_key":  "The application's API key. Needed when engine is baidu.",
	"media_api.transcription.baidu.secret_key": "The application's secret key. Needed when " +
		"engine is baidu. Keep it secret.",
	"media_api.transcription.baidu.token_url":     "Where access tokens are obtained.",
	"media_api.transcription.baidu.recognize_url": "Where audio is sent for recognition.",
	"media_api.transcription.baidu.dev_pid":       "Language model: 1537 Mandarin, 1737 English, 1637 Cantonese.",
}

func init() {
	for _, name := range []string{"login", "registration", "requests"} {
		docs["client_api.rate_limits."+name+".per_second"] = "Sustained rate, per second. More than 0."
		docs["client_api.rate_limits."+name+".burst"] = "Largest burst. More than 0."
	}
}

// GenerateYAML returns a complete configuration file with every setting at its
// default value, each documented by a comment above it. Loading it gives
// Default().
func GenerateYAML() string {
	var root yaml.Node
	if err := root.Encode(Default()); err != nil {
		panic(fmt.Sprintf("config: encoding the defaults: %v", err))
	}
	annotate(&root, "")
	// Blank lines inside the header would split it into several comments.
	header := strings.ReplaceAll(yamlHeader, "\n\n", "\n#\n")
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: header, Content: []*yaml.Node{&root}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		panic(fmt.Sprintf("config: writing the defaults: %v", err))
	}
	if err := enc.Close(); err != nil {
		panic(fmt.Sprintf("config: writing the defaults: %v", err))
	}
	return spaceOut(buf.String())
}

// annotate puts the documentation of every key under n, at path, in a comment
// above the key.
func annotate(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		text, ok := docs[p]
		if !ok {
			panic("config: " + p + " is not documented")
		}
		if def, ok := defaultText(v); ok {
			text += " Default: " + strings.TrimSuffix(def, ".") + "."
		}
		for _, s := range settings {
			if s.path == p {
				text += " Flag --" + s.flag + ", environment " + s.env() + "."
			}
		}
		k.HeadComment = strings.Join(wrap(text, 76), "\n")
		flowItems(v)
		annotate(v, p)
	}
}

// flowItems writes the sections in a list one per line ({width: 32, …}),
// which keeps every key of the file on a line of its own.
func flowItems(v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		return
	}
	for _, item := range v.Content {
		if item.Kind == yaml.MappingNode {
			item.Style = yaml.FlowStyle
		}
	}
}

// defaultText renders a scalar or list value for a comment.
func defaultText(v *yaml.Node) (string, bool) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			return `"" (empty)`, true
		}
		return v.Value, true
	case yaml.SequenceNode:
		items := make([]string, len(v.Content))
		for i, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				return "", false // a list of sections shows itself
			}
			items[i] = c.Value
		}
		return "[" + strings.Join(items, ", ") + "]", true
	}
	return "", false
}

// spaceOut puts a blank line before every comment that follows a setting
// (but not one that opens a section).
func spaceOut(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines)*2)
	for i, line := range lines {
		if i > 0 && strings.HasPrefix(strings.TrimSpace(line), "#") {
			prev := strings.TrimSpace(lines[i-1])
			if prev != "" && !strings.HasPrefix(prev, "#") && !strings.HasSuffix(prev, ":") {
				out = append(out, "")
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
