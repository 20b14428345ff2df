package zoho

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/ringside/ringside/pkg/store"
)

// Records and Claims are the store's idempotency keys, split by use.
type (
	Records interface {
		PutRecord(ctx context.Context, key, value string, ttl time.Duration) error
		GetRecord(ctx context.Context, key string) (string, error)
	}
	Claims interface {
		Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
		Release(ctx context.Context, key string) error
	}
)

// knownAccounts are Zoho's accounts servers by location (spec §5.1). A
// callback may only name one of these, or the configured accounts server's
// host: the code exchange sends the client secret there.
var knownAccounts = map[string]string{
	"us": "https://accounts.zoho.com", "eu": "https://accounts.zoho.eu", "in": "https://accounts.zoho.in",
	"au": "https://accounts.zoho.com.au", "jp": "https://accounts.zoho.jp", "cn": "https://accounts.zoho.com.cn",
	"ca": "https://accounts.zohocloud.ca", "sa": "https://accounts.zoho.sa", "uk": "https://accounts.zoho.uk",
	"ae": "https://accounts.zoho.ae",
}

func (c *Client) oauthConfig(accounts, redirect string) *oauth2.Config {
	if accounts == "" {
		accounts = c.o.AccountsURL
	}
	accounts = strings.TrimRight(accounts, "/")
	return &oauth2.Config{
		ClientID: c.o.ClientID, ClientSecret: c.o.ClientSecret, RedirectURL: redirect, Scopes: c.o.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: accounts + "/oauth/v2/auth", TokenURL: accounts + "/oauth/v2/token",
			AuthStyle: oauth2.AuthStyleInParams},
	}
}

// oauthConfig's scopes are joined by spaces by x/oauth2; Zoho wants commas,
// so AuthCodeURL sets scope itself.
func (c *Client) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

const stateTTL = 15 * time.Minute

// AuthCodeURL starts the authorization-code flow for tenant: it returns
// the Zoho consent URL to open in a browser (access_type=offline,
// prompt=consent, a one-time state remembered in the store). Zoho sends
// the browser back to Options.RedirectURL, served by CallbackHandler.
func (c *Client) AuthCodeURL(ctx context.Context, tenant string) (string, error) {
	if c.o.Records == nil || c.o.Claims == nil || c.o.RedirectURL == "" {
		return "", errors.New("zoho: authorization-code flow needs Options.Records, Claims and RedirectURL")
	}
	if _, err := c.o.Tenants.Tenant(ctx, tenant); err != nil {
		return "", fmt.Errorf("zoho: connect %s: %w", tenant, err)
	}
	state := randomHex(24)
	if err := c.o.Records.PutRecord(ctx, "zoho/oauth/state/"+state, tenant, stateTTL); err != nil {
		return "", fmt.Errorf("zoho: connect %s: %w", tenant, err)
	}
	u := c.oauthConfig("", c.o.RedirectURL).AuthCodeURL(state, oauth2.AccessTypeOffline,
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("scope", strings.Join(c.o.Scopes, ",")))
	return u, nil
}

// CallbackHandler serves the OAuth redirect (mount it at the path of
// Options.RedirectURL): it checks state (known, unused, not expired),
// exchanges the code at the accounts server Zoho names (one of Zoho's, or
// the configured one) and stores the connection with its data centre.
func (c *Client) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page := func(status int, msg string) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<!doctype html><title>Ringside · Zoho</title><p>%s</p>\n", html.EscapeString(msg))
		}
		state := q.Get("state")
		if state == "" || len(state) > 128 {
			page(http.StatusBadRequest, "Missing or invalid state. Start the connection again.")
			return
		}
		tenant, err := c.o.Records.GetRecord(r.Context(), "zoho/oauth/state/"+state)
		if err != nil {
			page(http.StatusBadRequest, "Unknown or expired state. Start the connection again.")
			return
		}
		if fresh, err := c.o.Claims.Claim(r.Context(), "zoho/oauth/state-used/"+state, stateTTL); err != nil || !fresh {
			page(http.StatusBadRequest, "This link was already used. Start the connection again.")
			return
		}
		// The outcome of this attempt: AfterConnect may send the browser
		// elsewhere, else the plain page says it.
		finish := func(status int, msg string, err error) {
			if c.o.AfterConnect != nil {
				if u := c.o.AfterConnect(r, tenant, err); u != "" {
					http.Redirect(w, r, u, http.StatusSeeOther)
					return
				}
			}
			page(status, msg)
		}
		if e := q.Get("error"); e != "" {
			c.log.Warn("zoho consent refused", zap.String("tenant", tenant), zap.String("error", e))
			finish(http.StatusForbidden, "Zoho did not grant access ("+e+").", fmt.Errorf("%w (%s)", ErrAccessDenied, e))
			return
		}
		accounts := strings.TrimRight(q.Get("accounts-server"), "/")
		if accounts == "" {
			accounts = c.o.AccountsURL
		}
		if !c.allowedAccounts(accounts) {
			finish(http.StatusBadRequest, "Unknown Zoho accounts server.", errors.New("zoho: unknown accounts server"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		tok, err := c.oauthConfig(accounts, c.o.RedirectURL).Exchange(c.oauthCtx(ctx), q.Get("code"))
		if err != nil {
			c.log.Warn("zoho code exchange failed", zap.String("tenant", tenant), zap.String("error", safeErr(err)))
			finish(http.StatusBadGateway, "Zoho refused the authorization ("+safeErr(err)+"). Start the connection again.",
				errors.New("zoho: code exchange: "+safeErr(err)))
			return
		}
		if err := c.saveConnection(ctx, tenant, accounts, q.Get("location"), tok); err != nil {
			c.log.Warn("zoho connection not stored", zap.String("tenant", tenant), zap.Error(err))
			finish(http.StatusInternalServerError, "Cannot store the connection: "+err.Error(), err)
			return
		}
		finish(http.StatusOK, "Zoho is connected for "+tenant+". You can close this page.", nil)
	})
}

func (c *Client) allowedAccounts(u string) bool {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") {
		return false
	}
	if d, err := url.Parse(c.o.AccountsURL); err == nil && d.Host == p.Host && d.Scheme == p.Scheme {
		return true
	}
	for _, k := range knownAccounts {
		if k == u {
			return true
		}
	}
	return false
}

// saveConnection stores a new refresh token (sealed) with the data centre
// it belongs to and takes the access token into use.
func (c *Client) saveConnection(ctx context.Context, tenant, accounts, location string, tok *oauth2.Token) error {
	if tok.RefreshToken == "" {
		return errors.New("zoho: no refresh token in Zoho's answer (was access_type=offline and prompt=consent sent?)")
	}
	sealed, err := c.o.Cipher.Seal(tenant, tok.RefreshToken)
	if err != nil {
		return err
	}
	if location == "" {
		location = c.locationOf(ctx, accounts)
	}
	dom := apiDomain(tok, "", c.o.APIURL)
	scopes := c.o.Scopes
	if s, _ := tok.Extra("scope").(string); s != "" {
		scopes = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	}
	_, err = c.modifyTenant(ctx, tenant, func(t *store.Tenant) error {
		t.Zoho = store.ZohoConnection{Status: store.Connected, AccountsURL: strings.TrimRight(accounts, "/"), APIDomain: dom,
			Location: location, RefreshToken: sealed, Scopes: scopes, ConnectedAt: c.o.Now().UTC()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("zoho: store connection of %s: %w", tenant, err)
	}
	c.stamp(tok)
	cn := c.conn(tenant)
	cn.mu.Lock()
	cn.tok, cn.apiDomain = tok, dom
	cn.mu.Unlock()
	c.clearDisconnected(tenant)
	c.log.Info("zoho connected", zap.String("tenant", tenant), zap.String("location", location), zap.String("api_domain", dom))
	return nil
}

// locationOf finds the data centre code of an accounts server.
func (c *Client) locationOf(ctx context.Context, accounts string) string {
	for loc, u := range knownAccounts {
		if u == accounts {
			return loc
		}
	}
	locs, err := c.serverInfo(ctx, accounts)
	if err != nil {
		return ""
	}
	for loc, u := range locs {
		if strings.TrimRight(u, "/") == accounts {
			return loc
		}
	}
	return ""
}

// serverInfo asks an accounts server for every location's accounts server
// (GET /oauth/serverinfo).
func (c *Client) serverInfo(ctx context.Context, accounts string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(accounts, "/")+"/oauth/serverinfo", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var si struct {
		Locations map[string]string `json:"locations"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&si); err != nil {
		return nil, err
	}
	return si.Locations, nil
}

// DevicePrompt is what the user must do to finish the device flow.
type DevicePrompt struct {
	UserCode        string
	VerificationURL string
	// VerificationURLComplete carries the code (for a QR code).
	VerificationURLComplete string
	ExpiresIn               time.Duration
}

// Device-flow outcomes.
var (
	ErrAccessDenied  = errors.New("zoho: the user denied access")
	ErrDeviceExpired = errors.New("zoho: the device code expired before the user approved it")
)

// ConnectDevice connects tenant with the device flow (spec §5.6): it asks
// for a user code, hands it to prompt (print it), then polls at the
// server's interval, slowing down on slow_down, following other_dc to the
// user's data centre, until the user approves (the connection is stored),
// denies (ErrAccessDenied), the code expires (ErrDeviceExpired) or ctx
// ends. Intervals and lifetimes of 100 or more are milliseconds (Zoho),
// smaller ones seconds (RFC 8628).
func (c *Client) ConnectDevice(ctx context.Context, tenant string, prompt func(DevicePrompt)) error {
	if _, err := c.o.Tenants.Tenant(ctx, tenant); err != nil {
		return fmt.Errorf("zoho: connect %s: %w", tenant, err)
	}
	accounts := strings.TrimRight(c.o.AccountsURL, "/")
	dc, err := c.requestDeviceCode(ctx, accounts, c.o.Scopes, "offline")
	if err != nil {
		return err
	}
	prompt(dc.Prompt)
	deadline := time.Now().Add(dc.Prompt.ExpiresIn)
	step, location := dc.Interval, ""
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(step):
		}
		if time.Now().After(deadline) {
			return ErrDeviceExpired
		}
		o, err := c.pollDeviceToken(ctx, accounts, dc.Code)
		if err != nil {
			c.log.Debug("zoho device poll failed", zap.Error(err))
			continue
		}
		switch o.Status {
		case devicePending:
		case deviceSlowDown:
			step += dc.Interval
		case deviceMoved:
			accounts, location = o.Accounts, o.Location
		case deviceApproved:
			return c.saveConnection(ctx, tenant, accounts, location, o.Token)
		case deviceDenied:
			return ErrAccessDenied
		case deviceExpired:
			return ErrDeviceExpired
		default:
			return fmt.Errorf("zoho: device token: %s", o.Reason)
		}
	}
}

// deviceCode is Zoho's answer to a device-code request.
type deviceCode struct {
	// Code is the device code: it obtains the user's token, keep it secret.
	Code string
	// Prompt is what the user must do; its ExpiresIn is the code's lifetime.
	Prompt DevicePrompt
	// Interval is the polling interval Zoho asks for.
	Interval time.Duration
}

// requestDeviceCode asks the accounts server for a device code for scopes
// (spec §5.6), with access_type accessType ("offline" also gets a refresh
// token) and prompt=consent. A missing verification_url is taken from
// verification_uri (RFC 8628); intervals and lifetimes of 100 or more are
// milliseconds (Zoho), smaller ones seconds (RFC 8628).
func (c *Client) requestDeviceCode(ctx context.Context, accounts string, scopes []string, accessType string) (deviceCode, error) {
	var a struct {
		UserCode        string          `json:"user_code"`
		DeviceCode      string          `json:"device_code"`
		VerificationURL string          `json:"verification_url"`
		VerificationURI string          `json:"verification_uri"`
		Complete        string          `json:"verification_uri_complete"`
		Interval        json.RawMessage `json:"interval"`
		ExpiresIn       json.RawMessage `json:"expires_in"`
		Error           string          `json:"error"`
	}
	err := c.postForm(ctx, accounts+"/oauth/v3/device/code", url.Values{"client_id": {c.o.ClientID},
		"grant_type": {"device_request"}, "scope": {strings.Join(scopes, ",")}, "access_type": {accessType},
		"prompt": {"consent"}}, &a)
	switch {
	case err != nil:
		return deviceCode{}, fmt.Errorf("zoho: device code: %w", err)
	case a.Error != "":
		return deviceCode{}, fmt.Errorf("zoho: device code: %s", a.Error)
	case a.DeviceCode == "":
		return deviceCode{}, errors.New("zoho: device code: no device_code in the answer")
	}
	if a.VerificationURL == "" {
		a.VerificationURL = a.VerificationURI
	}
	return deviceCode{Code: a.DeviceCode, Interval: msOrSeconds(a.Interval, 5*time.Second),
		Prompt: DevicePrompt{UserCode: a.UserCode, VerificationURL: a.VerificationURL, VerificationURLComplete: a.Complete,
			ExpiresIn: msOrSeconds(a.ExpiresIn, 5*time.Minute)}}, nil
}

// deviceStatus is what one poll of the device token endpoint said.
type deviceStatus int

const (
	devicePending  deviceStatus = iota // authorization_pending: poll again after the step
	deviceSlowDown                     // slow_down: lengthen the step by the interval
	deviceMoved                        // other_dc: poll the user's accounts server from now on
	deviceApproved                     // the user approved: a token
	deviceDenied                       // access_denied
	deviceExpired                      // expired, expired_token
	deviceRefused                      // any other error: the flow cannot succeed any more
)

// deviceOutcome is the outcome of one poll of the device token endpoint.
type deviceOutcome struct {
	Status deviceStatus
	// Accounts and Location are the user's accounts server and data
	// centre (deviceMoved).
	Accounts, Location string
	// Token is the token answered (deviceApproved; deviceRefused too when
	// it lacks the access token, so that a refresh token can be revoked),
	// with api_domain and scope as extras.
	Token *oauth2.Token
	// Reason says why (deviceRefused).
	Reason string
}

// pollDeviceToken asks the accounts server once whether the device code
// was approved (spec §5.6). other_dc is followed to the user's data centre
// (serverinfo, else Zoho's known accounts servers). An error means no
// answer: the next poll may get one.
func (c *Client) pollDeviceToken(ctx context.Context, accounts, code string) (deviceOutcome, error) {
	var a struct {
		Error        string  `json:"error"`
		UserLocation string  `json:"user_location"`
		AccessToken  string  `json:"access_token"`
		RefreshToken string  `json:"refresh_token"`
		APIDomain    string  `json:"api_domain"`
		TokenType    string  `json:"token_type"`
		ExpiresIn    float64 `json:"expires_in"`
		Scope        string  `json:"scope"`
	}
	err := c.postForm(ctx, accounts+"/oauth/v3/device/token", url.Values{"client_id": {c.o.ClientID},
		"client_secret": {c.o.ClientSecret}, "grant_type": {"device_token"}, "code": {code}}, &a)
	if err != nil {
		return deviceOutcome{}, fmt.Errorf("zoho: device token: %w", err)
	}
	switch a.Error {
	case "":
		tok := (&oauth2.Token{AccessToken: a.AccessToken, RefreshToken: a.RefreshToken, TokenType: a.TokenType,
			ExpiresIn: int64(a.ExpiresIn)}).WithExtra(map[string]any{"api_domain": a.APIDomain, "scope": a.Scope})
		if a.AccessToken == "" {
			return deviceOutcome{Status: deviceRefused, Token: tok, Reason: "no access_token in the answer"}, nil
		}
		return deviceOutcome{Status: deviceApproved, Token: tok}, nil
	case "authorization_pending":
		return deviceOutcome{Status: devicePending}, nil
	case "slow_down":
		return deviceOutcome{Status: deviceSlowDown}, nil
	case "access_denied":
		return deviceOutcome{Status: deviceDenied}, nil
	case "expired", "expired_token":
		return deviceOutcome{Status: deviceExpired}, nil
	case "other_dc":
		locs, err := c.serverInfo(ctx, accounts)
		next := strings.TrimRight(locs[a.UserLocation], "/")
		if err != nil || next == "" {
			next = knownAccounts[a.UserLocation]
		}
		if next == "" {
			return deviceOutcome{Status: deviceRefused, Reason: fmt.Sprintf("the user lives in unknown data centre %q", a.UserLocation)}, nil
		}
		c.log.Info("zoho device flow: the user's data centre", zap.String("location", a.UserLocation))
		return deviceOutcome{Status: deviceMoved, Accounts: next, Location: a.UserLocation}, nil
	}
	return deviceOutcome{Status: deviceRefused, Reason: a.Error}, nil
}

func msOrSeconds(raw json.RawMessage, def time.Duration) time.Duration {
	var v float64
	if json.Unmarshal(raw, &v) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return def
		}
		if _, err := fmt.Sscan(s, &v); err != nil {
			return def
		}
	}
	switch {
	case v <= 0:
		return def
	case v >= 100:
		return time.Duration(v * float64(time.Millisecond))
	}
	return time.Duration(v * float64(time.Second))
}

// postForm posts a form to the accounts server and decodes the JSON answer
// (errors come as {"error":…}, often with HTTP 200).
func (c *Client) postForm(ctx context.Context, u string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// OAuth errors are JSON answers (400 included); a server failing or
	// refusing for load gave no answer worth reading.
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	return nil
}

// ImportRefreshToken connects tenant with a refresh token made elsewhere
// (a Self Client in the Zoho API console, spec §5.5), for the data centre
// of accounts (empty: zoho.accounts_url). It refreshes once to prove the
// token and learn the api_domain, then stores it.
func (c *Client) ImportRefreshToken(ctx context.Context, tenant, refreshToken, accounts string) error {
	if _, err := c.o.Tenants.Tenant(ctx, tenant); err != nil {
		return fmt.Errorf("zoho: connect %s: %w", tenant, err)
	}
	if accounts == "" {
		accounts = c.o.AccountsURL
	}
	accounts = strings.TrimRight(accounts, "/")
	tok, err := c.oauthConfig(accounts, "").TokenSource(c.oauthCtx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return fmt.Errorf("zoho: the refresh token does not work at %s: %s", accounts, safeErr(err))
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return c.saveConnection(ctx, tenant, accounts, "", tok)
}

// Disconnect revokes the tenant's refresh token at Zoho (best effort) and
// forgets it; its events pause until it is connected again.
func (c *Client) Disconnect(ctx context.Context, tenant string) error {
	t, err := c.o.Tenants.Tenant(ctx, tenant)
	if err != nil {
		return fmt.Errorf("zoho: disconnect %s: %w", tenant, err)
	}
	if len(t.Zoho.RefreshToken) > 0 {
		if rt, err := c.o.Cipher.Open(tenant, t.Zoho.RefreshToken); err == nil {
			u := strings.TrimRight(t.Zoho.AccountsURL, "/") + "/oauth/v2/token/revoke?" + url.Values{"token": {rt}}.Encode()
			if req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil); err == nil {
				if resp, err := c.http.Do(req); err == nil {
					resp.Body.Close()
				} else {
					c.log.Warn("zoho: revoke failed; the token is forgotten anyway", zap.String("tenant", tenant))
				}
			}
		}
	}
	_, err = c.modifyTenant(ctx, tenant, func(t *store.Tenant) error {
		t.Zoho = store.ZohoConnection{Status: store.Disconnected}
		return nil
	})
	cn := c.conn(tenant)
	cn.mu.Lock()
	cn.tok = nil
	cn.mu.Unlock()
	return err
}

// Status is a tenant's connection as the CLI shows it (no secrets).
type Status struct {
	Tenant      string
	Mode        store.ZohoMode
	Status      store.ConnStatus
	Location    string
	AccountsURL string
	APIDomain   string
	Scopes      []string
	ConnectedAt time.Time
	LastError   string
	LastErrorAt time.Time
	// TokenValid: an access token is cached and not about to expire.
	TokenValid bool
	// CreditsRemaining is Zoho's last X-API-CREDITS-REMAINING, -1 unknown.
	CreditsRemaining int
}

// Status reports a tenant's connection.
func (c *Client) Status(ctx context.Context, tenant string) (Status, error) {
	t, err := c.o.Tenants.Tenant(ctx, tenant)
	if err != nil {
		return Status{}, fmt.Errorf("zoho: status %s: %w", tenant, err)
	}
	z := t.Zoho
	if z.Status == "" {
		z.Status = store.Disconnected
	}
	cn := c.conn(tenant)
	_, _, valid := cn.valid(c.o.Now(), c.o.RefreshAhead)
	cn.mu.Lock()
	credits := cn.credits
	cn.mu.Unlock()
	return Status{Tenant: tenant, Mode: t.Settings.Mode, Status: z.Status, Location: z.Location, AccountsURL: z.AccountsURL,
		APIDomain: z.APIDomain, Scopes: z.Scopes, ConnectedAt: z.ConnectedAt, LastError: z.LastError,
		LastErrorAt: z.LastErrorAt, TokenValid: valid, CreditsRemaining: credits}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func queryEscape(s string) string { return url.QueryEscape(s) }
