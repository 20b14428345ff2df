package adminapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ringside/ringside/adapters/httpapi/adminapi"
	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/adapters/zoho"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The Zoho org of tenant acme, in the EU data centre.
const org = "org-acme"

var orgUsers = []zohosim.User{
	{ID: "9001", ZohoUser: "pb-1001", Email: "ana@acme.example", Name: "Ana García", Admin: true},
	{ID: "9002", ZohoUser: "pb-1002", Email: "ben@acme.example", Name: "Ben Okafor"},
	{ID: "9003", ZohoUser: "pb-1003", Email: "cleo@acme.example", Name: "Cleo Park"},
	{ID: "9009", ZohoUser: "pb-9", Email: "boss@acme.example", Name: "Boss"},
}

// operator is the account every world starts with, and its password.
const (
	operator = "root"
	password = "correct horse battery"
)

// world is one test's Ringside admin side: Redis under a fresh prefix, the
// Zoho simulator and the real client, the admin service and the API on an
// httptest server (which also serves the OAuth callback).
type world struct {
	t      *testing.T
	ctx    context.Context
	rdb    *redis.Client
	prefix string
	st     *redisstore.Store
	sim    *zohosim.Server
	zc     *zoho.Client
	dir    *directory.Service
	api    *adminapi.Handler
	reg    *prometheus.Registry
	srv    *httptest.Server
	logs   *observer.ObservedLogs
	// rootToken is the operator's API token, made through the service as
	// the CLI would.
	rootToken string
	// secrets collects every secret the test saw (tokens, link secrets,
	// passwords): none may appear in a log or, but for the token just
	// made, in an answer. The service adds link secrets from the server's
	// goroutines, hence the lock.
	mu      sync.Mutex
	secrets []string
}

// addSecret remembers a secret to look for.
func (w *world) addSecret(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets = append(w.secrets, s)
}

// allSecrets returns the secrets seen so far.
func (w *world) allSecrets() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.secrets)
}

// discoverer is a PBX that knows a fixed list of extensions.
type discoverer []store.Extension

func (d discoverer) Extensions(context.Context) ([]store.Extension, error) { return d, nil }

type worldOpts struct {
	// pbx, when set, is the PBX discovery reads; nil: no PBX (503 no_pbx).
	pbx directory.Discoverer
	// insecureWebhooks is webhooks.allow_insecure.
	insecureWebhooks bool
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, reg: prometheus.NewRegistry()}

	w.prefix = teststore.Prefix(t)
	w.st, w.rdb = teststore.RedisAt(t, w.prefix)

	w.sim = zohosim.New(zohosim.Options{})
	if err := w.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.sim.AddOrg(org, "eu", orgUsers...)

	core, logs := observer.New(zapcore.DebugLevel)
	w.logs = logs
	log := zap.New(core)

	mux := http.NewServeMux()
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)

	ci, err := zoho.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w.zc, err = zoho.New(zoho.Options{ClientID: w.sim.ClientID(), ClientSecret: w.sim.ClientSecret(),
		AccountsURL: w.sim.AccountsURL("us"), APIURL: w.sim.APIDomain("us"), RedirectURL: w.srv.URL + "/zoho/callback",
		Tenants: w.st, Records: w.st, Claims: w.st, Cipher: ci, Timeout: 5 * time.Second, Logger: log,
		Backoff: backoff.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	z := zoho.Directory{Client: w.zc}
	w.dir, err = directory.New(directory.Options{Store: w.st, Zoho: z, Connector: z, Discoverer: o.pbx,
		DefaultTenant: "acme", Logger: log, AllowInsecureWebhooks: o.insecureWebhooks,
		NewSecret: func() string { s := zoho.NewSecret(); w.addSecret(s); return s },
		URLs: func(tenant string) (string, map[string]string) {
			return clicktocall.ClickToDialURL(w.srv.URL, tenant), clicktocall.CallControlURLs(w.srv.URL, tenant)
		}})
	if err != nil {
		t.Fatal(err)
	}
	w.api, err = adminapi.New(adminapi.Options{Directory: w.dir, Logger: log, Registerer: w.reg, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(adminapi.Prefix, w.api)
	mux.Handle("GET /zoho/callback", w.zc.CallbackHandler())

	// The first account and token, as `ringside accounts add` and
	// `ringside tokens create` would make them.
	cli := directory.Operator("test")
	if _, err := w.dir.CreateAccount(ctx, cli, directory.NewAccount{Username: operator, Password: password, Role: store.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	w.rootToken = w.token(cli, operator, time.Hour)
	w.addSecret(password)
	t.Cleanup(w.checkLogs)
	return w
}

// token makes a token through the service (as the CLI does).
func (w *world) token(a directory.Actor, username string, ttl time.Duration) string {
	w.t.Helper()
	tok, err := w.dir.CreateToken(w.ctx, a, username, ttl)
	if err != nil {
		w.t.Fatal(err)
	}
	w.addSecret(tok)
	return tok
}

// checkLogs fails the test if a secret reached a log line.
func (w *world) checkLogs() {
	for _, e := range w.logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		for _, s := range w.allSecrets() {
			if s != "" && strings.Contains(line, s) {
				w.t.Errorf("a secret reached the log: %q", line)
			}
		}
	}
}

// ---- HTTP ----

// reply is an API answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// into decodes the body strictly: a field the test does not know means the
// documented shape changed.
func (r reply) into(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errCode returns the code of an error answer.
func (r reply) errCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.into(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	return e.Error.Code
}

// req is one request to send.
type req struct {
	method, path, token string
	// body is sent as JSON (a string or []byte as is).
	body  any
	ctype string // default application/json when there is a body; "-" sends none
}

// do sends a request and reads the answer.
func (w *world) do(r req) reply {
	w.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequestWithContext(w.ctx, r.method, w.srv.URL+r.path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if body != nil && r.ctype != "-" {
		hr.Header.Set("Content-Type", cmp.Or(r.ctype, "application/json"))
	}
	res, err := w.srv.Client().Do(hr)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, s := range w.allSecrets() {
		if s != "" && bytes.Contains(b, []byte(s)) && !strings.HasSuffix(r.path, "/tokens") {
			w.t.Errorf("%s %s: a secret is in the answer: %s", r.method, r.path, b)
		}
	}
	if bytes.Contains(b, []byte(`"secret"`)) || bytes.Contains(b, []byte("password_hash")) || bytes.Contains(b, []byte("refresh_token")) {
		w.t.Errorf("%s %s: a secret field is in the answer: %s", r.method, r.path, b)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails unless the status is want.
func (w *world) must(want int, r req) reply {
	w.t.Helper()
	rep := w.do(r)
	if rep.status != want {
		w.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, rep.status, want, rep.body)
	}
	return rep
}

// refused sends a request that must fail with status and code.
func (w *world) refused(status int, code string, r req) reply {
	w.t.Helper()
	rep := w.do(r)
	if rep.status != status {
		w.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, rep.status, status, rep.body)
	}
	if got := rep.errCode(w.t); got != code {
		w.t.Fatalf("%s %s: code %q, want %q: %s", r.method, r.path, got, code, rep.body)
	}
	return rep
}

// ---- connecting a tenant ----

// connectByConsent enables Zoho for tenant through the API and completes
// the authorization-code flow against the simulator, as the admin's
// browser would: the consent URL's state and redirect go to the
// simulator's consent, whose redirect lands on the daemon's callback.
func (w *world) connectByConsent(token, tenant, mode string) {
	w.t.Helper()
	var en struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	w.must(http.StatusOK, req{method: "POST", path: "/api/v1/tenants/" + tenant + "/zoho/enable", token: token,
		body: map[string]string{"mode": mode}}).into(w.t, &en)
	u, err := url.Parse(en.AuthorizeURL)
	if err != nil {
		w.t.Fatal(err)
	}
	if want := w.sim.AccountsURL("us") + "/oauth/v2/auth"; u.Scheme+"://"+u.Host+u.Path != want {
		w.t.Fatalf("authorize_url %s, want one at %s", en.AuthorizeURL, want)
	}
	q := u.Query()
	if q.Get("state") == "" || q.Get("redirect_uri") != w.srv.URL+"/zoho/callback" || q.Get("access_type") != "offline" {
		w.t.Fatalf("authorize_url %s: want state, redirect_uri and access_type=offline", en.AuthorizeURL)
	}
	back := w.sim.Authorize(org, q.Get("scope"), q.Get("redirect_uri"), q.Get("state"))
	res, err := w.srv.Client().Get(back)
	if err != nil {
		w.t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		w.t.Fatalf("OAuth callback: %d %s", res.StatusCode, page)
	}
}

// connectByImport connects a tenant with a Self Client refresh token, as
// `ringside zoho connect -import-token` does (faster set-up for tests that
// are not about connecting).
func (w *world) connectByImport(tenant string) {
	w.t.Helper()
	rt := w.sim.SelfClientToken(org, strings.Join(zoho.DefaultScopes, ","))
	w.addSecret(rt)
	if err := w.zc.ImportRefreshToken(w.ctx, tenant, rt, w.sim.AccountsURL("eu")); err != nil {
		w.t.Fatal(err)
	}
}

// seed stores extensions as discovery would.
func (w *world) seed(tenant string, exts ...store.Extension) {
	w.t.Helper()
	for _, e := range exts {
		e.Tenant = tenant
		if _, err := w.st.UpsertExtension(w.ctx, e); err != nil {
			w.t.Fatal(err)
		}
	}
}

// ---- what must not change ----

// registrations returns the simulator's click-to-dial and call-control
// registrations by zohouser (secret included, to compare).
func (w *world) registrations() map[string]url.Values {
	out := map[string]url.Values{}
	w.sim.Org(org, func(o *zohosim.Org) {
		for zu, f := range o.ClickToDial {
			out["clicktodial/"+zu] = f
		}
		for zu, f := range o.CallControl {
			out["callcontrol/"+zu] = f
		}
	})
	return out
}

// snapshot reads every key of the store's directory (tenants, extensions,
// links, terminals, accounts, sessions) with its value; the audit log,
// which records refused attempts too, is not in it.
func (w *world) snapshot() map[string]string {
	w.t.Helper()
	out := map[string]string{}
	ctx := w.ctx
	it := w.rdb.Scan(ctx, 0, w.prefix+"{dir}:*", 500).Iterator()
	for it.Next(ctx) {
		k := it.Val()
		var v string
		switch typ := w.rdb.Type(ctx, k).Val(); typ {
		case "string":
			v = w.rdb.Get(ctx, k).Val()
		case "zset":
			v = strings.Join(w.rdb.ZRange(ctx, k, 0, -1).Val(), ",")
		case "set":
			m := w.rdb.SMembers(ctx, k).Val()
			slices.Sort(m)
			v = strings.Join(m, ",")
		case "hash":
			h := w.rdb.HGetAll(ctx, k).Val()
			for _, f := range slices.Sorted(maps.Keys(h)) {
				v += f + "=" + h[f] + ";"
			}
		case "list":
			v = strings.Join(w.rdb.LRange(ctx, k, 0, -1).Val(), "\n")
		case "none":
			continue // expired meanwhile
		default:
			w.t.Fatalf("key %s of type %s", k, typ)
		}
		out[k] = v
	}
	if err := it.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// unchanged runs fn and fails if it changed the store or the Zoho
// simulator's registrations.
func (w *world) unchanged(fn func()) {
	w.t.Helper()
	before, regs := w.snapshot(), w.registrations()
	fn()
	after := w.snapshot()
	for k, v := range after {
		if b, ok := before[k]; !ok {
			w.t.Errorf("store: %s appeared: %.200s", k, v)
		} else if b != v {
			w.t.Errorf("store: %s changed:\n  was %.300s\n  now %.300s", k, b, v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			w.t.Errorf("store: %s disappeared", k)
		}
	}
	if now := w.registrations(); !maps.EqualFunc(regs, now, func(a, b url.Values) bool { return a.Encode() == b.Encode() }) {
		w.t.Errorf("Zoho registrations changed: was %v, now %v", regs, now)
	}
}

// auditActions returns the audit log's entries of tenant ("" all) as
// "actor action target [error]" lines, oldest first.
func (w *world) auditActions(token, tenant string) []string {
	w.t.Helper()
	var page struct {
		Entries []struct {
			Time   time.Time `json:"time"`
			Actor  string    `json:"actor"`
			Via    string    `json:"via"`
			Tenant string    `json:"tenant"`
			Action string    `json:"action"`
			Target string    `json:"target"`
			Detail string    `json:"detail"`
			Error  string    `json:"error"`
		} `json:"entries"`
		Total  int `json:"total"`
		Offset int `json:"offset"`
		Limit  int `json:"limit"`
	}
	path := "/api/v1/audit?limit=1000"
	if tenant != "" {
		path += "&tenant=" + tenant
	}
	w.must(http.StatusOK, req{method: "GET", path: path, token: token}).into(w.t, &page)
	var out []string
	for i := len(page.Entries) - 1; i >= 0; i-- {
		e := page.Entries[i]
		line := e.Actor + " " + e.Via + " " + e.Action + " " + e.Target
		if e.Error != "" {
			line += " [refused]"
		}
		out = append(out, line)
	}
	return out
}
