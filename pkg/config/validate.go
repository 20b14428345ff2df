package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/events"
)

// Validate reports every problem of c at once (errors.Join), each naming its
// key: `pbx.kind: must be asterisk or freeswitch, got "sip"`.
func (c Config) Validate() error { return errors.Join(c.problems()...) }

type checker []error

func (p *checker) addf(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

func (c Config) problems() []error {
	var p checker
	switch {
	case c.NodeID == "":
		p.addf("node_id: must be set (the host name is unknown)")
	case !events.ValidToken(c.NodeID):
		p.addf("node_id: %q is not a valid subject token", c.NodeID)
	}
	p.nonEmpty("data_dir", c.DataDir)

	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "auto", "json", "console")

	p.hostPort("http.listen", c.HTTP.Listen)
	if c.HTTP.PublicURL != "" {
		p.httpURL("http.public_url", c.HTTP.PublicURL)
	}

	p.oneOf("pbx.kind", c.PBX.Kind, PBXAsterisk, PBXFreeSWITCH)
	p.token("pbx.default_tenant", c.PBX.DefaultTenant)
	p.regexp("pbx.asterisk.extension_pattern", c.PBX.Asterisk.ExtensionPattern)
	p.regexp("pbx.asterisk.trunk_context", c.PBX.Asterisk.TrunkContext)
	p.oneOf("pbx.tenant.from", c.PBX.Tenant.From, TenantFixed, TenantVariable, TenantContextPrefix)
	switch {
	case c.PBX.Tenant.From == TenantVariable && c.PBX.Tenant.Variable == "":
		p.addf("pbx.tenant.variable: must be set when pbx.tenant.from is variable")
	case c.PBX.Tenant.From == TenantContextPrefix && c.PBX.Kind != PBXAsterisk:
		p.addf("pbx.tenant.from: context_prefix works with asterisk only")
	case c.PBX.Tenant.From == TenantContextPrefix && c.PBX.Tenant.Separator == "":
		p.addf("pbx.tenant.separator: must be set when pbx.tenant.from is context_prefix")
	}
	p.httpURL("pbx.asterisk.url", c.PBX.Asterisk.URL)
	p.nonEmpty("pbx.asterisk.username", c.PBX.Asterisk.Username)
	p.nonEmpty("pbx.asterisk.app", c.PBX.Asterisk.App)
	p.hostPort("pbx.freeswitch.address", c.PBX.FreeSWITCH.Address)
	p.policy("pbx.reconnect", c.PBX.Reconnect)

	for _, s := range c.NATS.Servers() {
		p.natsURL(s)
	}
	if c.NATS.URL != "" && len(c.NATS.Servers()) == 0 {
		p.addf("nats.url: no server URL in %q", c.NATS.URL)
	}
	if c.NATS.Listen != "" {
		if c.NATS.Embedded() {
			p.hostPort("nats.listen", c.NATS.Listen)
		} else {
			p.addf("nats.listen: only allowed with the embedded server (empty nats.url)")
		}
	}
	switch {
	case c.NATS.Stream == "":
		p.addf("nats.stream: must not be empty")
	case strings.ContainsAny(c.NATS.Stream, ".*>/\\ \t\r\n"):
		p.addf("nats.stream: %q is not a valid stream name", c.NATS.Stream)
	}
	switch {
	case c.NATS.Replicas < 1 || c.NATS.Replicas > 5:
		p.addf("nats.replicas: must be between 1 and 5, got %d", c.NATS.Replicas)
	case c.NATS.Replicas > 1 && c.NATS.Embedded():
		p.addf("nats.replicas: must be 1 with the embedded server, got %d", c.NATS.Replicas)
	}
	p.positive("nats.max_age", c.NATS.MaxAge)
	p.positive("nats.duplicate_window", c.NATS.DuplicateWindow)
	if c.NATS.MaxAge > 0 && c.NATS.DuplicateWindow > c.NATS.MaxAge {
		p.addf("nats.duplicate_window: must not exceed nats.max_age (%s), got %s", c.NATS.MaxAge, c.NATS.DuplicateWindow)
	}

	if c.Redis.Addr != "" {
		p.hostPort("redis.addr", c.Redis.Addr)
	}
	if c.Redis.DB < 0 {
		p.addf("redis.db: must not be negative, got %d", c.Redis.DB)
	}
	if c.Redis.Prefix == "" || strings.ContainsAny(c.Redis.Prefix, " \t\r\n") {
		p.addf("redis.prefix: must be non-empty without spaces, got %q", c.Redis.Prefix)
	}

	p.httpURL("zoho.accounts_url", c.Zoho.AccountsURL)
	p.httpURL("zoho.api_url", c.Zoho.APIURL)
	p.zoho(c.Zoho)

	p.between("pipeline.shards", c.Pipeline.Shards, 1, 256)
	p.between("pipeline.queue", c.Pipeline.Queue, 1, 65536)
	p.positive("pipeline.publish_timeout", c.Pipeline.PublishTimeout)
	p.policy("pipeline.retry", c.Pipeline.Retry)

	p.positive("shutdown.drain_timeout", c.Shutdown.DrainTimeout)
	p.recordings(c.Recordings)
	p.clickToCall(c.ClickToCall)
	p.admin(c.Admin)
	p.webhooks(c.Webhooks)
	p.screen(c.Screen)
	p.crm(c.CRM)
	return p
}

func (p *checker) zoho(z Zoho) {
	if z.ClientID != "" { // Zoho is on: tokens must be sealed at rest
		p.nonEmpty("zoho.token_key_file (needed when zoho.client_id is set)", z.TokenKeyFile)
	}
	if len(z.ScopeList()) == 0 {
		p.addf("zoho.scopes: must not be empty")
	}
	if !strings.HasPrefix(z.CallbackPath, "/") {
		p.addf("zoho.callback_path: %q must start with /", z.CallbackPath)
	}
	p.positive("zoho.timeout", z.Timeout)
	p.positive("zoho.refresh_ahead", z.RefreshAhead)
	if z.RefreshAhead >= 50*time.Minute {
		p.addf("zoho.refresh_ahead: must be below 50m (tokens live 1h), got %s", z.RefreshAhead)
	}
	p.between("zoho.concurrency", z.Concurrency, 1, 25)
	p.positive("zoho.paused_retry", z.PausedRetry)
	if z.RecordingWait < 0 {
		p.addf("zoho.recording_wait: must not be negative, got %s", z.RecordingWait)
	}
	p.positive("zoho.key_ttl", z.KeyTTL)
	p.oneOf("zoho.phonebridge.loser_state", z.PhoneBridge.LoserState, "none", "missed", "ended")
	p.oneOf("zoho.phonebridge.fallback", z.PhoneBridge.Fallback, "auto", "always", "never")
	p.oneOf("zoho.phonebridge.ambiguous_terminal", z.PhoneBridge.AmbiguousTerminal, "skip", "resend")
	p.between("zoho.rest.batch_size", z.REST.BatchSize, 1, 100)
	p.positive("zoho.rest.batch_delay", z.REST.BatchDelay)
	if len(z.ModuleList()) == 0 {
		p.addf("zoho.lookup.modules: must not be empty")
	}
	for _, m := range z.ModuleList() {
		p.oneOf("zoho.lookup.modules", m, "Contacts", "Leads", "Accounts")
	}
	p.oneOf("zoho.lookup.method", z.Lookup.Method, "search", "coql")
	p.positive("zoho.lookup.hit_ttl", z.Lookup.HitTTL)
	p.positive("zoho.lookup.miss_ttl", z.Lookup.MissTTL)
	if z.Lookup.BatchWait < 0 || z.Lookup.BatchWait > 10*time.Second {
		p.addf("zoho.lookup.batch_wait: must be between 0 and 10s, got %s", z.Lookup.BatchWait)
	}
}

func (p *checker) nonEmpty(key, v string) {
	if v == "" {
		p.addf("%s: must not be empty", key)
	}
}

func (p *checker) token(key, v string) {
	if !events.ValidToken(v) {
		p.addf("%s: %q is not a valid subject token", key, v)
	}
}

func (p *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	p.addf("%s: must be %s, got %q", key, list, v)
}

func (p *checker) between(key string, v, lo, hi int) {
	if v < lo || v > hi {
		p.addf("%s: must be between %d and %d, got %d", key, lo, hi, v)
	}
}

func (p *checker) positive(key string, d time.Duration) {
	if d <= 0 {
		p.addf("%s: must be positive, got %s", key, d)
	}
}

func (p *checker) policy(key string, b backoff.Policy) {
	p.positive(key+".initial", b.Initial)
	p.positive(key+".max", b.Max)
	if b.Initial > 0 && b.Max > 0 && b.Initial > b.Max {
		p.addf("%s.initial: must not exceed %s.max (%s), got %s", key, key, b.Max, b.Initial)
	}
}

func (p *checker) hostPort(key, v string) {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("bad port")
		}
	}
	if err != nil {
		p.addf("%s: %q is not host:port", key, v)
	}
}

func (p *checker) httpURL(key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.addf("%s: %q is not an absolute http(s) URL", key, showURL(v, u, err))
	}
}

func (p *checker) natsURL(v string) {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		p.addf("nats.url: %q is not an absolute URL", showURL(v, u, err))
		return
	}
	if u.Scheme != "nats" && u.Scheme != "tls" {
		p.addf("nats.url: %q must use nats:// or tls://", showURL(v, u, err))
	}
}

// showURL returns v for an error message with any password masked.
func showURL(v string, u *url.URL, err error) string {
	if err == nil {
		if u.User != nil {
			masked := *u
			masked.User = url.User("xxxxx")
			return masked.String()
		}
		return v
	}
	if i := strings.LastIndex(v, "@"); i >= 0 {
		return "xxxxx" + v[i:]
	}
	return v
}

// regexp checks that a pattern compiles (empty is allowed).
func (p *checker) regexp(key, pattern string) {
	if _, err := regexp.Compile(pattern); err != nil {
		p.addf("%s: %v", key, err)
	}
}
