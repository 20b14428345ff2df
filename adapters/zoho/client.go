package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

// Tenants is the part of the store the client needs: the tenant and its
// Zoho connection.
type Tenants interface {
	Tenant(ctx context.Context, id string) (store.Tenant, error)
	UpdateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error)
}

// DefaultScopes are requested when connecting: CRM records, users and COQL,
// and PhoneBridge (spec §1.2, §5.7).
var DefaultScopes = []string{"ZohoCRM.modules.ALL", "ZohoCRM.users.READ", "ZohoCRM.coql.READ",
	"PhoneBridge.call.log", "PhoneBridge.zohoone.search"}

// Options configure a Client.
type Options struct {
	ClientID     string
	ClientSecret string
	// AccountsURL and APIURL are the default data centre (zoho.accounts_url,
	// zoho.api_url); a tenant's own accounts server and api_domain, stored
	// with its token, win.
	AccountsURL string
	APIURL      string
	Scopes      []string // default DefaultScopes
	// RedirectURL is where Zoho sends the browser after consent: the
	// public URL of CallbackHandler.
	RedirectURL string
	Tenants     Tenants
	Records     Records // OAuth state for the callback
	Claims      Claims
	Cipher      *Cipher
	// Timeout bounds one HTTP request (default 10s).
	Timeout time.Duration
	// RefreshAhead refreshes an access token this long before it expires
	// (default 5m).
	RefreshAhead time.Duration
	// Concurrency caps the requests in flight per tenant (org) (default 5,
	// the Free edition's limit).
	Concurrency int
	// PausedRetry is the delay asked for events of a disconnected tenant
	// (default 1m).
	PausedRetry time.Duration
	// Backoff paces retries after 429 and 5xx (default 1s..5m).
	Backoff    backoff.Policy
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	// HTTPClient overrides the HTTP client (its Timeout is kept).
	HTTPClient *http.Client
	Now        func() time.Time

	// AfterConnect, when set, may send the browser elsewhere (303) once
	// the callback has tried to connect a tenant: it gets the request, the
	// tenant and the outcome (nil: connected; wrapping ErrAccessDenied: the
	// admin refused consent; another error: it failed) and returns the URL
	// to go to, or "" to show the callback's own page. The web portal
	// sends its admins back to the tenant's Zoho page this way.
	AfterConnect func(r *http.Request, tenant string, err error) string
}

// Client talks to Zoho for every tenant: OAuth, PhoneBridge v3 and CRM v8.
// It is safe for concurrent use.
type Client struct {
	o    Options
	http *http.Client
	log  *zap.Logger
	m    *metrics

	mu    sync.Mutex
	conns map[string]*conn
}

// conn is a tenant's live connection state.
type conn struct {
	refresh chan struct{} // size one: the refresh lock, one refresh at a time

	mu          sync.Mutex
	tok         *oauth2.Token
	apiDomain   string
	disconnect  string // why the tenant is disconnected; "" when fine
	sem         chan struct{}
	throttled   int // consecutive 429 answers
	credits     int // X-API-CREDITS-REMAINING, -1 unknown
	strictState bool
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.Tenants == nil || o.Cipher == nil {
		return nil, errors.New("zoho: Options.Tenants and Options.Cipher are required")
	}
	if len(o.Scopes) == 0 {
		o.Scopes = DefaultScopes
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RefreshAhead <= 0 {
		o.RefreshAhead = 5 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 5
	}
	if o.PausedRetry <= 0 {
		o.PausedRetry = time.Minute
	}
	if o.Backoff == (backoff.Policy{}) {
		o.Backoff = backoff.Policy{Initial: time.Second, Max: 5 * time.Minute}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: o.Timeout}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		if c.Timeout == 0 {
			c.Timeout = o.Timeout
		}
		hc = &c
	}
	return &Client{o: o, http: hc, log: o.Logger.Named("zoho"), m: m, conns: map[string]*conn{}}, nil
}

func (c *Client) conn(tenant string) *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	cn := c.conns[tenant]
	if cn == nil {
		cn = &conn{refresh: make(chan struct{}, 1), sem: make(chan struct{}, c.o.Concurrency), credits: -1}
		c.conns[tenant] = cn
	}
	return cn
}

// Errors a caller can match with errors.Is.
var (
	// ErrDisconnected: the tenant has no working Zoho connection (never
	// connected, disconnected, or its refresh token was revoked). Its
	// events are paused, not dropped.
	ErrDisconnected = errors.New("zoho: tenant disconnected")
	// ErrNoTenant: the tenant does not exist.
	ErrNoTenant = errors.New("zoho: no such tenant")
)

// errNoAnswer marks a request sent without an answer (a timeout, a broken
// connection): Zoho may or may not have applied it.
var errNoAnswer = errors.New("no answer")

// ambiguous reports whether a failed request may have been applied: no
// answer, or a 5xx. A 429, a 4xx and errors before sending were not.
func ambiguous(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return errors.Is(err, errNoAnswer)
}

// APIError is an error answer of Zoho: the HTTP status and the error
// envelope {"code","details","message","status"} (spec §1.3, §6.4).
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("zoho: HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if p, found := e.Details["param"]; found {
		s += fmt.Sprintf(" (param %v)", p)
	}
	if p, found := e.Details["api_name"]; found {
		s += fmt.Sprintf(" (field %v)", p)
	}
	return s
}

// token returns a valid access token and the API domain of tenant,
// refreshing it ahead of expiry. One refresh runs at a time per tenant;
// concurrent callers wait for it and share its result.
func (c *Client) token(ctx context.Context, tenant string) (string, string, error) {
	cn := c.conn(tenant)
	if tok, dom, ok := cn.valid(c.o.Now(), c.o.RefreshAhead); ok {
		return tok, dom, nil
	}
	select {
	case cn.refresh <- struct{}{}:
	case <-ctx.Done():
		return "", "", fault.Retryable(ctx.Err(), 0)
	}
	defer func() { <-cn.refresh }()
	if tok, dom, ok := cn.valid(c.o.Now(), c.o.RefreshAhead); ok {
		return tok, dom, nil // another caller refreshed meanwhile
	}
	t, err := c.o.Tenants.Tenant(ctx, tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", "", fault.Permanent(fmt.Errorf("%w: %s", ErrNoTenant, tenant))
	case err != nil:
		return "", "", fault.Retryable(fmt.Errorf("zoho: read tenant %s: %w", tenant, err), 0)
	}
	if t.Zoho.Status != store.Connected || len(t.Zoho.RefreshToken) == 0 {
		reason := string(t.Zoho.Status)
		if reason == "" {
			reason = string(store.Disconnected)
		}
		c.setDisconnected(tenant, reason)
		return "", "", fault.Retryable(fmt.Errorf("%w: %s (%s)", ErrDisconnected, tenant, reason), c.o.PausedRetry)
	}
	rt, err := c.o.Cipher.Open(tenant, t.Zoho.RefreshToken)
	if err != nil {
		c.setDisconnected(tenant, "refresh token unreadable")
		return "", "", fault.Retryable(fmt.Errorf("%w: %s: %v", ErrDisconnected, tenant, err), c.o.PausedRetry)
	}
	tok, err := c.oauthConfig(t.Zoho.AccountsURL, "").TokenSource(c.oauthCtx(ctx), &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return "", "", c.refreshFailed(ctx, tenant, err)
	}
	c.m.refreshes.WithLabelValues("ok").Inc()
	c.stamp(tok)
	dom := apiDomain(tok, t.Zoho.APIDomain, c.o.APIURL)
	cn.mu.Lock()
	cn.tok, cn.apiDomain = tok, dom
	cn.mu.Unlock()
	c.clearDisconnected(tenant)
	return tok.AccessToken, dom, nil
}

// stamp sets the token's expiry on the client's clock.
func (c *Client) stamp(tok *oauth2.Token) {
	if tok.ExpiresIn > 0 {
		tok.Expiry = c.o.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
}

func (cn *conn) valid(now time.Time, ahead time.Duration) (string, string, bool) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.tok == nil || cn.tok.AccessToken == "" || !now.Add(ahead).Before(cn.tok.Expiry) {
		return "", "", false
	}
	return cn.tok.AccessToken, cn.apiDomain, true
}

// invalidate drops the cached access token if it is still used: of many
// callers rejected with one token, one refreshes.
func (c *Client) invalidate(tenant, used string) {
	cn := c.conn(tenant)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.tok != nil && cn.tok.AccessToken == used {
		cn.tok = nil
	}
}

// refreshFailed classifies a failed refresh: Zoho refusing the refresh
// token (invalid_code: revoked or unknown; invalid_client) disconnects the
// tenant; throttling ("Access Denied") and network trouble are retried.
func (c *Client) refreshFailed(ctx context.Context, tenant string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch code := re.ErrorCode; {
		case code == "invalid_code" || strings.HasPrefix(code, "invalid_client"):
			c.m.refreshes.WithLabelValues("revoked").Inc()
			c.markRevoked(ctx, tenant, "Zoho refused the refresh token ("+code+"); reconnect the tenant")
			return fault.Retryable(fmt.Errorf("%w: %s: refresh token refused (%s)", ErrDisconnected, tenant, code), c.o.PausedRetry)
		case strings.EqualFold(code, "access denied") || code == "access_denied":
			c.m.refreshes.WithLabelValues("throttled").Inc()
			c.log.Warn("zoho token endpoint throttles refreshes", zap.String("tenant", tenant))
			return fault.Retryable(fmt.Errorf("zoho: refresh token of %s: throttled", tenant), 2*time.Minute)
		case re.Response != nil && re.Response.StatusCode >= 500:
		case code != "":
			c.m.refreshes.WithLabelValues("error").Inc()
			return fault.Retryable(fmt.Errorf("zoho: refresh token of %s: %s", tenant, code), c.o.PausedRetry)
		}
	}
	c.m.refreshes.WithLabelValues("error").Inc()
	return fault.Retryable(fmt.Errorf("zoho: refresh token of %s: %s", tenant, safeErr(err)), 0)
}

// safeErr is an error's text without the response body x/oauth2 may quote.
func safeErr(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			return "HTTP " + strconv.Itoa(re.Response.StatusCode) + " " + re.ErrorCode
		}
		return re.ErrorCode
	}
	return err.Error()
}

// markRevoked records in the store that the tenant's refresh token no
// longer works (status revoked, the reason in LastError), says so loudly,
// and pauses its events until an admin reconnects.
func (c *Client) markRevoked(ctx context.Context, tenant, reason string) {
	c.setDisconnected(tenant, "revoked")
	c.log.Error("zoho connection lost: the tenant's events are paused until it is reconnected",
		zap.String("tenant", tenant), zap.String("reason", reason))
	_, err := c.modifyTenant(ctx, tenant, func(t *store.Tenant) error {
		t.Zoho.Status = store.Revoked
		t.Zoho.LastError = reason
		t.Zoho.LastErrorAt = c.o.Now().UTC()
		return nil
	})
	if err != nil {
		c.log.Warn("zoho: cannot record the lost connection", zap.String("tenant", tenant), zap.Error(err))
	}
}

func (c *Client) setDisconnected(tenant, reason string) {
	cn := c.conn(tenant)
	cn.mu.Lock()
	was := cn.disconnect
	cn.disconnect, cn.tok = reason, nil
	cn.mu.Unlock()
	if was == "" {
		c.m.disconnected.Inc()
	}
}

func (c *Client) clearDisconnected(tenant string) {
	cn := c.conn(tenant)
	cn.mu.Lock()
	was := cn.disconnect
	cn.disconnect = ""
	cn.mu.Unlock()
	if was != "" {
		c.m.disconnected.Dec()
		c.log.Info("zoho connection works again", zap.String("tenant", tenant))
	}
}

// Problems lists the tenants whose Zoho connection is known not to work,
// as "tenant: reason", sorted. Tenants that sent no event since the start
// are not known yet.
func (c *Client) Problems() []string {
	c.mu.Lock()
	conns := make(map[string]*conn, len(c.conns))
	for k, v := range c.conns {
		conns[k] = v
	}
	c.mu.Unlock()
	var out []string
	for t, cn := range conns {
		cn.mu.Lock()
		if cn.disconnect != "" {
			out = append(out, t+": "+cn.disconnect)
		}
		cn.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// Ready is a health.Check: nil while no tenant is known to be
// disconnected, else the list ("tenants disconnected: acme: revoked").
func (c *Client) Ready() error {
	if p := c.Problems(); len(p) > 0 {
		return errors.New("tenants disconnected: " + strings.Join(p, "; "))
	}
	return nil
}

func (c *Client) modifyTenant(ctx context.Context, id string, fn func(*store.Tenant) error) (store.Tenant, error) {
	var err error
	for range 8 {
		var t store.Tenant
		if t, err = c.o.Tenants.Tenant(ctx, id); err != nil {
			return t, err
		}
		if err = fn(&t); err != nil {
			return t, err
		}
		if t, err = c.o.Tenants.UpdateTenant(ctx, t); !errors.Is(err, store.ErrConflict) {
			return t, err
		}
	}
	return store.Tenant{}, err
}

func apiDomain(tok *oauth2.Token, stored, def string) string {
	if d, _ := tok.Extra("api_domain").(string); d != "" {
		return strings.TrimRight(d, "/")
	}
	if stored != "" {
		return strings.TrimRight(stored, "/")
	}
	return strings.TrimRight(def, "/")
}

// call is one API request.
type call struct {
	api    string // crm | phonebridge: the metrics label
	method string
	path   string // after the API domain: /crm/v8/Calls
	form   map[string][]string
	json   any
	query  string
	// idempotent requests are retried at once after a retryable failure
	// (at most twice); writes are not, their caller checks first.
	idempotent bool
	credits    int    // credits this request costs (CRM)
	kind       string // credits label: search, coql, write, read
}

// result is a successful answer.
type result struct {
	status int
	body   []byte
}

// do sends a request for tenant with its access token, refreshing once on
// INVALID_TOKEN, and classifies the outcome: nil (2xx, 204), retryable
// (transport errors and timeouts, 429, 5xx, a token Zoho keeps refusing),
// permanent (any other 4xx).
func (c *Client) do(ctx context.Context, tenant string, r call) (result, error) {
	for attempt := 0; ; attempt++ {
		res, err := c.once(ctx, tenant, r, attempt)
		if err == nil || fault.IsPermanent(err) || !r.idempotent || attempt >= 2 || errors.Is(err, ErrDisconnected) {
			return res, err
		}
		select {
		case <-time.After(backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}.Delay(attempt)):
		case <-ctx.Done():
			return res, err
		}
	}
}

func (c *Client) once(ctx context.Context, tenant string, r call, attempt int) (result, error) {
	refreshed := false
	for {
		tok, dom, err := c.token(ctx, tenant)
		if err != nil {
			return result{}, err
		}
		res, err := c.send(ctx, tenant, r, tok, dom)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == 401 && ae.Code == "INVALID_TOKEN" {
			if !refreshed {
				refreshed = true
				c.invalidate(tenant, tok)
				continue
			}
			c.log.Error("zoho refuses a fresh access token", zap.String("tenant", tenant), zap.String("path", r.path))
			return res, fault.Retryable(err, c.o.PausedRetry)
		}
		return res, err
	}
}

func (c *Client) send(ctx context.Context, tenant string, r call, tok, dom string) (result, error) {
	var body io.Reader
	ctype := ""
	switch {
	case r.form != nil:
		body, ctype = strings.NewReader(encodeForm(r.form)), "application/x-www-form-urlencoded"
	case r.json != nil:
		b, err := json.Marshal(r.json)
		if err != nil {
			return result{}, fault.Permanent(err)
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	u := dom + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return result{}, fault.Permanent(err)
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+tok)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	cn := c.conn(tenant)
	select {
	case cn.sem <- struct{}{}:
	case <-ctx.Done():
		return result{}, fault.Retryable(ctx.Err(), 0)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	<-cn.sem
	c.m.duration.WithLabelValues(r.api).Observe(time.Since(start).Seconds())
	if r.credits > 0 {
		c.m.credits.WithLabelValues(r.kind).Add(float64(r.credits))
	}
	if err != nil {
		c.m.requests.WithLabelValues(r.api, "retry").Inc()
		return result{}, fault.Retryable(fmt.Errorf("zoho: %s %s: %w: %w", r.method, r.path, errNoAnswer, err), 0)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	resp.Body.Close()
	if err != nil {
		c.m.requests.WithLabelValues(r.api, "retry").Inc()
		return result{}, fault.Retryable(fmt.Errorf("zoho: %s %s: read: %w: %w", r.method, r.path, errNoAnswer, err), 0)
	}
	if v := resp.Header.Get("X-API-CREDITS-REMAINING"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			cn.mu.Lock()
			cn.credits = n
			cn.mu.Unlock()
			c.m.remaining.Set(float64(n))
		}
	}
	res := result{status: resp.StatusCode, body: data}
	if resp.StatusCode < 300 || resp.StatusCode == 207 {
		cn.mu.Lock()
		cn.throttled = 0
		cn.mu.Unlock()
		c.m.requests.WithLabelValues(r.api, "ok").Inc()
		return res, nil
	}
	ae := &APIError{Status: resp.StatusCode}
	var env struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
		Data    []struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &env) == nil {
		ae.Code, ae.Message, ae.Details = env.Code, env.Message, env.Details
		if ae.Code == "" && len(env.Data) > 0 {
			ae.Code, ae.Message, ae.Details = env.Data[0].Code, env.Data[0].Message, env.Data[0].Details
		}
	}
	switch {
	case resp.StatusCode == 429:
		cn.mu.Lock()
		n := cn.throttled
		cn.throttled++
		cn.mu.Unlock()
		c.m.requests.WithLabelValues(r.api, "throttled").Inc()
		return res, fault.Retryable(ae, c.o.Backoff.Delay(n))
	case resp.StatusCode >= 500:
		c.m.requests.WithLabelValues(r.api, "retry").Inc()
		return res, fault.Retryable(ae, 0)
	case resp.StatusCode == 401 && ae.Code == "INVALID_TOKEN":
		c.m.requests.WithLabelValues(r.api, "auth").Inc()
		return res, ae
	}
	c.m.requests.WithLabelValues(r.api, "permanent").Inc()
	return res, fault.Permanent(ae)
}

// encodeForm encodes form parameters in key order; url.Values.Encode
// escapes "+" as %2B (spec §1.8), which this relies on.
func encodeForm(f map[string][]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range f[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(queryEscape(k))
			b.WriteByte('=')
			b.WriteString(queryEscape(v))
		}
	}
	return b.String()
}
