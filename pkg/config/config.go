// Package config owns Ringside's one configuration file: the Config type, every
// default (in code, in Default), strict YAML decoding that reports unknown keys
// with their line, RINGSIDE_<PATH> environment overrides, secrets that may be
// read from files and never print, and the validation that runs before
// anything connects. Every problem is reported at once.
//
// Precedence, lowest first: Default(), the file, the environment. Keys are
// named by their dotted path (pbx.asterisk.url); the environment variable of a
// key is RINGSIDE_ followed by the path upper-cased with dots turned into
// underscores (RINGSIDE_PBX_ASTERISK_URL). A key written without a value
// (`pbx:` or `node_id:` alone) keeps its default.
//
// Every secret key x also accepts x_file, the path of a file holding the
// secret (trailing newlines trimmed; a relative path is relative to the
// working directory). One source may not set both; an environment variable
// for either replaces whatever the file said about that secret.
//
// configs/ringside.example.yaml documents every key with its default; a test
// keeps the two in step.
package config

import (
	"bytes"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ringside/ringside/pkg/backoff"
)

// PBX kinds accepted in pbx.kind.
const (
	PBXAsterisk   = "asterisk"
	PBXFreeSWITCH = "freeswitch"
)

// Config is the whole effective configuration. The yaml tags are the key
// names; Load and Parse return it validated, with secrets resolved, node_id
// and http.public_url filled in.
type Config struct {
	// NodeID names this Ringside in command subjects and events; a valid
	// subject token. Empty means the host name up to its first dot.
	NodeID string `yaml:"node_id"`
	// DataDir holds the embedded NATS JetStream store and in-flight call
	// snapshots.
	DataDir  string   `yaml:"data_dir"`
	Log      Log      `yaml:"log"`
	HTTP     HTTP     `yaml:"http"`
	PBX      PBX      `yaml:"pbx"`
	NATS     NATS     `yaml:"nats"`
	Redis    Redis    `yaml:"redis"`
	Zoho     Zoho     `yaml:"zoho"`
	Pipeline Pipeline `yaml:"pipeline"`
	Shutdown Shutdown `yaml:"shutdown"`
	// Recordings and ClickToCall are in recordings.go.
	Recordings  Recordings  `yaml:"recordings"`
	ClickToCall ClickToCall `yaml:"click_to_call"`
	// Admin is in admin.go.
	Admin Admin `yaml:"admin"`
	// Webhooks is in webhooks.go.
	Webhooks Webhooks `yaml:"webhooks"`
	// Screen is in screen.go.
	Screen Screen `yaml:"screen"`
	// CRM is in crm.go.
	CRM CRM `yaml:"crm"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is auto (console when stderr is a terminal, else json), json or
	// console.
	Format string `yaml:"format"`
}

// HTTP configures the HTTP server (health, metrics, callbacks, recordings,
// admin API, portal).
type HTTP struct {
	// Listen is the host:port to serve on.
	Listen string `yaml:"listen"`
	// PublicURL is the base URL Zoho and browsers reach Ringside at, without
	// a trailing slash. Empty in the file means http://<listen>; Load fills
	// it in.
	PublicURL string `yaml:"public_url"`
}

// PBX configures the link to the PBX.
type PBX struct {
	// Kind is PBXAsterisk or PBXFreeSWITCH.
	Kind string `yaml:"kind"`
	// DefaultTenant is the tenant of calls no rule assigns (a subject token).
	DefaultTenant string `yaml:"default_tenant"`
	// Tenant says how a call's tenant is found.
	Tenant     TenantRule `yaml:"tenant"`
	Asterisk   Asterisk   `yaml:"asterisk"`
	FreeSWITCH FreeSWITCH `yaml:"freeswitch"`
	// Reconnect paces reconnection attempts after the link drops.
	Reconnect backoff.Policy `yaml:"reconnect"`
}

// Tenant rules.
const (
	TenantFixed         = "fixed"          // every call belongs to pbx.default_tenant
	TenantVariable      = "variable"       // a channel variable names the tenant
	TenantContextPrefix = "context_prefix" // Asterisk: the dialplan context up to a separator
)

// TenantRule says how the PBX adapters find the tenant of a call; calls the
// rule cannot place belong to PBX.DefaultTenant.
type TenantRule struct {
	// From is TenantFixed, TenantVariable or TenantContextPrefix.
	From string `yaml:"from"`
	// Variable is the channel variable holding the tenant (From variable),
	// e.g. TENANT on Asterisk or domain_name on FreeSWITCH (FusionPBX).
	Variable string `yaml:"variable"`
	// Separator ends the tenant part of a context (From context_prefix):
	// "acme-from-trunk" with "-" belongs to acme.
	Separator string `yaml:"separator"`
}

// Asterisk configures the ARI client.
type Asterisk struct {
	// URL is the ARI base URL, e.g. http://127.0.0.1:8088/ari.
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// App is the Stasis application name.
	App string `yaml:"app"`
	// ExtensionPattern matches the endpoint names of extensions; its first
	// capture group, if any, is the extension number.
	ExtensionPattern string `yaml:"extension_pattern"`
	// Trunks is a comma-separated list of endpoint names that are always
	// external, even when they look like an extension.
	Trunks string `yaml:"trunks"`
	// TrunkContext matches the dialplan contexts trunk channels are created
	// in (from pjsip.conf); empty: endpoint names decide.
	TrunkContext string `yaml:"trunk_context"`
	// InternationalPrefix dialled before a country code is rewritten to "+"
	// ("-": no rewrite).
	InternationalPrefix string `yaml:"international_prefix"`
}

// FreeSWITCH configures the event socket (ESL) client.
type FreeSWITCH struct {
	// Address is the host:port of mod_event_socket.
	Address  string `yaml:"address"`
	Password Secret `yaml:"password"`
	// RecordingVariable is a channel variable the dialplan sets to the
	// recording's final path; empty: the path of RECORD_STOP is used.
	RecordingVariable string `yaml:"recording_variable"`
	// ExternalProfiles is a comma-separated list of the sofia profiles
	// whose legs are the outside world (trunks, gateways).
	ExternalProfiles string `yaml:"external_profiles"`
}

// NATS configures the event bus.
type NATS struct {
	// URL is empty for the embedded server (JetStream under DataDir/nats),
	// else a comma-separated list of nats:// or tls:// server URLs.
	URL string `yaml:"url"`
	// Token authenticates to an external server.
	Token Secret `yaml:"token"`
	// Listen, embedded server only, also accepts clients on host:port;
	// empty keeps the server in-process.
	Listen string `yaml:"listen"`
	// Stream is the JetStream stream holding call events.
	Stream   string `yaml:"stream"`
	Replicas int    `yaml:"replicas"`
	// MaxAge is how long events are kept.
	MaxAge time.Duration `yaml:"max_age"`
	// DuplicateWindow is how long JetStream remembers message ids.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
}

// Embedded reports whether Ringside runs its own NATS server.
func (n NATS) Embedded() bool { return n.URL == "" }

// Servers returns the server URLs of an external NATS, nil when embedded.
func (n NATS) Servers() []string {
	if n.URL == "" {
		return nil
	}
	var out []string
	for s := range strings.SplitSeq(n.URL, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Redis configures the shared state store.
type Redis struct {
	// Addr is host:port of Redis; empty uses the embedded store (NATS
	// key-value buckets).
	Addr     string `yaml:"addr"`
	Password Secret `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix starts every key Ringside writes, so installs (and tests) can
	// share one Redis.
	Prefix string `yaml:"prefix"`
}

// Embedded reports whether the embedded store is used instead of Redis.
func (r Redis) Embedded() bool { return r.Addr == "" }

// Zoho configures the Zoho endpoints and OAuth client. The URLs select the
// default Zoho data centre (or a simulator); a tenant's own data centre,
// learnt when it connects, is stored with its token and wins.
type Zoho struct {
	AccountsURL  string `yaml:"accounts_url"`
	APIURL       string `yaml:"api_url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// TokenKeyFile holds the 32-byte AES key refresh tokens are sealed with
	// (raw, hex or base64). Needed to connect tenants and to use their
	// tokens; Ringside refuses Zoho work without it.
	TokenKeyFile string `yaml:"token_key_file"`
	// Scopes are requested when a tenant connects, comma-separated.
	Scopes string `yaml:"scopes"`
	// CallbackPath is where Ringside serves the OAuth redirect; the redirect
	// URI registered at Zoho is http.public_url + CallbackPath.
	CallbackPath string `yaml:"callback_path"`
	// Timeout bounds one request to Zoho.
	Timeout time.Duration `yaml:"timeout"`
	// RefreshAhead renews access tokens this long before they expire.
	RefreshAhead time.Duration `yaml:"refresh_ahead"`
	// Concurrency caps requests in flight per tenant (Zoho's per-org limit).
	Concurrency int `yaml:"concurrency"`
	// PausedRetry is how often events of a disconnected tenant are retried.
	PausedRetry time.Duration `yaml:"paused_retry"`
	// RecordingWait holds a call log up to this long for a pending recording.
	RecordingWait time.Duration `yaml:"recording_wait"`
	// KeyTTL is how long call ids are remembered with their CRM record.
	KeyTTL      time.Duration   `yaml:"key_ttl"`
	PhoneBridge ZohoPhoneBridge `yaml:"phonebridge"`
	REST        ZohoREST        `yaml:"rest"`
	Lookup      ZohoLookup      `yaml:"lookup"`
}

// ZohoPhoneBridge configures PhoneBridge mode.
type ZohoPhoneBridge struct {
	// LoserState is what ring-group users who did not answer receive:
	// none, missed or ended.
	LoserState string `yaml:"loser_state"`
	// Fallback sends missed/unattended states as ended with duration 0:
	// auto (after a 400), always or never.
	Fallback string `yaml:"fallback"`
	// AmbiguousTerminal is what happens to a call's terminal state after a
	// timeout or 5xx: skip (never logged twice, maybe missing) or resend
	// (never missing; twice unless Zoho de-duplicates by id, UNCONFIRMED).
	AmbiguousTerminal string `yaml:"ambiguous_terminal"`
}

// ZohoREST configures REST mode.
type ZohoREST struct {
	// BatchSize is the number of Calls records per insert request (1..100).
	BatchSize int `yaml:"batch_size"`
	// BatchDelay is the longest a record waits for its batch.
	BatchDelay time.Duration `yaml:"batch_delay"`
}

// ZohoLookup configures caller lookup.
type ZohoLookup struct {
	// Modules are searched in order, comma-separated.
	Modules string `yaml:"modules"`
	// Method is search or coql.
	Method  string        `yaml:"method"`
	HitTTL  time.Duration `yaml:"hit_ttl"`
	MissTTL time.Duration `yaml:"miss_ttl"`
	// BatchWait is how long a lookup waits for lookups of other numbers to
	// share its request (0: no wait).
	BatchWait time.Duration `yaml:"batch_wait"`
}

// ScopeList returns Scopes split at commas.
func (z Zoho) ScopeList() []string { return splitList(z.Scopes) }

// ModuleList returns Lookup.Modules split at commas.
func (z Zoho) ModuleList() []string { return splitList(z.Lookup.Modules) }

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Pipeline configures the path from PBX intake to JetStream.
type Pipeline struct {
	// Shards is the number of publisher goroutines; all events of one call go
	// through the same shard.
	Shards int `yaml:"shards"`
	// Queue is the number of events buffered per shard before intake waits.
	Queue          int            `yaml:"queue"`
	PublishTimeout time.Duration  `yaml:"publish_timeout"`
	Retry          backoff.Policy `yaml:"retry"`
}

// Shutdown configures the graceful drain on SIGTERM.
type Shutdown struct {
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Default returns the configuration used when nothing is set. NodeID is the
// host name up to its first dot (empty if the host name is unknown);
// HTTP.PublicURL is empty and derived from HTTP.Listen by Load and Parse.
func Default() Config {
	return Config{
		NodeID:  hostNodeID(),
		DataDir: "/var/lib/ringside",
		Log:     Log{Level: "info", Format: "auto"},
		HTTP:    HTTP{Listen: "127.0.0.1:9464"},
		PBX: PBX{
			Kind:          PBXAsterisk,
			DefaultTenant: "default",
			Tenant:        TenantRule{From: TenantFixed, Separator: "-"},
			Asterisk: Asterisk{
				URL:                 "http://127.0.0.1:8088/ari",
				Username:            "ringside",
				App:                 "ringside",
				ExtensionPattern:    `^([0-9]{2,6})$`,
				InternationalPrefix: "00",
			},
			FreeSWITCH: FreeSWITCH{Address: "127.0.0.1:8021", ExternalProfiles: "external"},
			Reconnect:  backoff.Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second},
		},
		NATS: NATS{
			Stream:          "RINGSIDE_CALLS",
			Replicas:        1,
			MaxAge:          168 * time.Hour,
			DuplicateWindow: 2 * time.Minute,
		},
		Redis: Redis{Prefix: "ringside:"},
		Zoho: Zoho{
			AccountsURL:   "https://accounts.zoho.com",
			APIURL:        "https://www.zohoapis.com",
			Scopes:        "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.coql.READ,PhoneBridge.call.log,PhoneBridge.zohoone.search",
			CallbackPath:  "/zoho/oauth/callback",
			Timeout:       10 * time.Second,
			RefreshAhead:  5 * time.Minute,
			Concurrency:   5,
			PausedRetry:   time.Minute,
			RecordingWait: 30 * time.Second,
			KeyTTL:        720 * time.Hour,
			PhoneBridge:   ZohoPhoneBridge{LoserState: "none", Fallback: "auto", AmbiguousTerminal: "skip"},
			REST:          ZohoREST{BatchSize: 100, BatchDelay: 2 * time.Second},
			Lookup: ZohoLookup{Modules: "Contacts,Leads,Accounts", Method: "coql", HitTTL: 24 * time.Hour, MissTTL: time.Hour,
				BatchWait: 500 * time.Millisecond},
		},
		Pipeline: Pipeline{
			Shards:         8,
			Queue:          256,
			PublishTimeout: 5 * time.Second,
			Retry:          backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second},
		},
		Shutdown: Shutdown{DrainTimeout: 20 * time.Second},
		Recordings: Recordings{
			Dirs:    "/var/spool/asterisk/monitor,/var/spool/asterisk/recording,/var/lib/freeswitch/recordings",
			LinkTTL: 8760 * time.Hour,
		},
		ClickToCall: ClickToCall{
			AuthParam:   "ringside_auth",
			DedupWindow: 5 * time.Second,
			RingTimeout: 30 * time.Second,
			DialTimeout: 45 * time.Second,
		},
		Admin: Admin{
			SessionTTL:        12 * time.Hour,
			TokenTTL:          90 * 24 * time.Hour,
			LoginAttempts:     5,
			LoginWindow:       15 * time.Minute,
			DiscoveryInterval: 5 * time.Minute,
		},
		Webhooks: defaultWebhooks(),
		Screen:   defaultScreen(),
		CRM:      defaultCRM(),
	}
}

// hostNodeID is the host name up to its first dot, "" when unknown.
func hostNodeID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// Redacted returns the configuration as YAML, secrets shown as <secret>, for
// `ringside check -print` and logs.
func (c Config) Redacted() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		// Config holds only strings, numbers and durations: cannot happen.
		return "# cannot encode config: " + err.Error() + "\n"
	}
	_ = enc.Close()
	return b.String()
}
