package zoho

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/directory"
)

// Identifying a Zoho user by the device flow (spec §5.6): the person at
// an extension opens Zoho's verification page, enters the code Ringside
// shows and approves as themselves; the token Ringside then gets only
// serves to ask the CRM users API who that is (type=CurrentUser, spec
// §4). The token is never stored; a refresh token Zoho hands out anyway
// is revoked at once.
//
// UNCONFIRMED at Zoho: whether the OAuth client of the authorization-code
// flow may also run the device flow (the spec says device clients are
// created as "Non-browser Applications"; ConnectDevice makes the same
// assumption), whether access_type may be left online in the device flow
// (IdentifyOptions.Offline sends offline), and which org a user of
// several orgs is answered for (Ringside then requires a user of the
// tenant's org, by CRM user id and email).

// IdentifyScopes are the scopes asked for to identify a user: the CRM
// users API (spec §4, §5.7), nothing else.
var IdentifyScopes = []string{"ZohoCRM.users.READ"}

// IdentifyOptions configure identifying users by the device flow.
type IdentifyOptions struct {
	// Scopes default to IdentifyScopes.
	Scopes []string
	// Offline sends access_type=offline instead of online, for a Zoho that
	// insists (UNCONFIRMED); the refresh token it returns is revoked as
	// soon as the user is known.
	Offline bool
}

// DeviceHandle is a device flow between polls. It holds the device code,
// which obtains the user's token: keep it secret (Identifier seals it).
type DeviceHandle struct {
	DeviceCode string `json:"code"`
	// Accounts is the accounts server to poll (the user's, after other_dc)
	// and Location its data centre when known.
	Accounts string `json:"accounts"`
	Location string `json:"location,omitempty"`
	// Interval is the polling interval Zoho asked for, Step the current
	// one (longer after slow_down).
	Interval  time.Duration `json:"interval"`
	Step      time.Duration `json:"step"`
	ExpiresAt time.Time     `json:"expires_at"`
	NextPoll  time.Time     `json:"next_poll"`
}

// Identity is the Zoho user who approved a device code.
type Identity struct {
	CRMUserID string
	ZUID      string
	Email     string
	Name      string
	// Location is the user's data centre, when Zoho said (other_dc).
	Location string
}

// ErrPending: the user has not approved the device code yet.
var ErrPending = errors.New("zoho: the device code is not approved yet")

// IdentifyByDevice starts identifying a Zoho user: it asks the tenant's
// accounts server (the configured one while the tenant is not connected)
// for a device code and returns what the user must do and the handle to
// poll with (PollIdentity).
func (c *Client) IdentifyByDevice(ctx context.Context, tenant string, o IdentifyOptions) (DevicePrompt, DeviceHandle, error) {
	t, err := c.o.Tenants.Tenant(ctx, tenant)
	if err != nil {
		return DevicePrompt{}, DeviceHandle{}, fmt.Errorf("zoho: identify a user of %s: %w", tenant, err)
	}
	accounts := strings.TrimRight(t.Zoho.AccountsURL, "/")
	if accounts == "" {
		accounts = strings.TrimRight(c.o.AccountsURL, "/")
	}
	scopes, access := o.Scopes, "online"
	if len(scopes) == 0 {
		scopes = IdentifyScopes
	}
	if o.Offline {
		access = "offline"
	}
	dc, err := c.requestDeviceCode(ctx, accounts, scopes, access)
	if err != nil {
		return DevicePrompt{}, DeviceHandle{}, err
	}
	p := dc.Prompt
	switch {
	case p.UserCode == "":
		return DevicePrompt{}, DeviceHandle{}, errors.New("zoho: device code: no user_code in the answer")
	case !webURL(p.VerificationURL):
		return DevicePrompt{}, DeviceHandle{}, fmt.Errorf("zoho: device code: verification URL %q is not a web address", p.VerificationURL)
	}
	if !webURL(p.VerificationURLComplete) {
		p.VerificationURLComplete = ""
	}
	now := c.o.Now()
	h := DeviceHandle{DeviceCode: dc.Code, Accounts: accounts, Location: t.Zoho.Location, Interval: dc.Interval, Step: dc.Interval,
		ExpiresAt: now.Add(p.ExpiresIn), NextPoll: now.Add(dc.Interval)}
	return p, h, nil
}

// webURL reports whether u is an http(s) address: the only kind a page
// may link to.
func webURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

// PollIdentity asks Zoho once whether the device code of h was approved,
// unless it is too early to (ErrPending at once). It returns ErrPending
// with the handle for the next poll while the user has not approved
// (slow_down lengthens the step, other_dc moves to the user's data
// centre), ErrAccessDenied, ErrDeviceExpired, or, once approved, who
// approved. Errors wrapping ErrIdentify are final: the flow cannot
// succeed any more. Other errors (no answer) are passing.
func (c *Client) PollIdentity(ctx context.Context, h DeviceHandle) (Identity, DeviceHandle, error) {
	now := c.o.Now()
	switch {
	case !now.Before(h.ExpiresAt):
		return Identity{}, h, ErrDeviceExpired
	case now.Before(h.NextPoll):
		return Identity{}, h, ErrPending
	}
	h.NextPoll = now.Add(h.Step)
	o, err := c.pollDeviceToken(ctx, h.Accounts, h.DeviceCode)
	if err != nil {
		return Identity{}, h, err
	}
	if o.Token != nil && o.Token.RefreshToken != "" {
		defer c.revoke(context.WithoutCancel(ctx), h.Accounts, o.Token.RefreshToken)
	}
	switch o.Status {
	case devicePending:
		return Identity{}, h, ErrPending
	case deviceSlowDown:
		h.Step += h.Interval
		h.NextPoll = now.Add(h.Step)
		return Identity{}, h, ErrPending
	case deviceMoved:
		h.Accounts, h.Location, h.NextPoll = o.Accounts, o.Location, now
		return Identity{}, h, ErrPending
	case deviceDenied:
		return Identity{}, h, ErrAccessDenied
	case deviceExpired:
		return Identity{}, h, ErrDeviceExpired
	case deviceRefused:
		return Identity{}, h, fmt.Errorf("%w: device token: %s", ErrIdentify, o.Reason)
	}
	id, err := c.currentUser(ctx, apiDomain(o.Token, "", c.o.APIURL), o.Token.AccessToken)
	if err != nil {
		return Identity{}, h, fmt.Errorf("%w: who approved: %w", ErrIdentify, err)
	}
	id.Location = h.Location
	c.log.Info("zoho: a user approved a device code", zap.String("crm_user", id.CRMUserID), zap.String("location", id.Location))
	return id, h, nil
}

// ErrIdentify: a device flow ended without telling who approved (Zoho
// refused the client or the code, or the users API refused the token).
var ErrIdentify = errors.New("zoho: cannot identify the user")

// currentUser asks the CRM users API who the token's user is
// (GET /crm/v8/users?type=CurrentUser, spec §4).
func (c *Client) currentUser(ctx context.Context, dom, token string) (Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dom+"/crm/v8/users?type=CurrentUser", nil)
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return Identity{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Identity{}, err
	}
	if resp.StatusCode != http.StatusOK {
		ae := &APIError{Status: resp.StatusCode}
		var env struct{ Code, Message string }
		if json.Unmarshal(data, &env) == nil {
			ae.Code, ae.Message = env.Code, env.Message
		}
		return Identity{}, ae
	}
	var b struct {
		Users []CRMUser `json:"users"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return Identity{}, fmt.Errorf("users?type=CurrentUser: %w", err)
	}
	if len(b.Users) != 1 || b.Users[0].ID == "" {
		return Identity{}, fmt.Errorf("users?type=CurrentUser answered %d users", len(b.Users))
	}
	u := b.Users[0]
	return Identity{CRMUserID: u.ID, ZUID: u.ZUID, Email: u.Email, Name: u.Name}, nil
}

// revoke revokes a refresh token at an accounts server (best effort).
func (c *Client) revoke(ctx context.Context, accounts, token string) {
	u := strings.TrimRight(accounts, "/") + "/oauth/v2/token/revoke?" + url.Values{"token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = c.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		c.log.Warn("zoho: revoking the refresh token of an identified user failed", zap.Error(err))
	}
}

// Identifier is directory.Identifier on a Client: the handle is the
// DeviceHandle sealed with the client's Cipher for the tenant.
type Identifier struct {
	Client *Client
	IdentifyOptions
}

var _ directory.Identifier = Identifier{}

// StartIdentify starts the device flow (Client.IdentifyByDevice).
func (d Identifier) StartIdentify(ctx context.Context, tenant string) (directory.DevicePrompt, string, error) {
	p, h, err := d.Client.IdentifyByDevice(ctx, tenant, d.IdentifyOptions)
	if err != nil {
		return directory.DevicePrompt{}, "", err
	}
	sealed, err := d.seal(tenant, h)
	if err != nil {
		return directory.DevicePrompt{}, "", err
	}
	return directory.DevicePrompt{UserCode: p.UserCode, VerificationURL: p.VerificationURL,
		VerificationURLComplete: p.VerificationURLComplete, ExpiresAt: h.ExpiresAt, Interval: h.Interval}, sealed, nil
}

// PollIdentify polls once (Client.PollIdentity), with the outcomes said
// as the directory's errors.
func (d Identifier) PollIdentify(ctx context.Context, tenant, handle string) (directory.Identity, string, error) {
	h, err := d.open(tenant, handle)
	if err != nil {
		return directory.Identity{}, handle, fmt.Errorf("%w: %w", directory.ErrZoho, err)
	}
	before := h
	id, h, err := d.Client.PollIdentity(ctx, h)
	next := handle
	if h != before { // sealing again would change the handle for nothing (a fresh nonce)
		var serr error
		if next, serr = d.seal(tenant, h); serr != nil {
			return directory.Identity{}, handle, fmt.Errorf("%w: %w", directory.ErrZoho, serr)
		}
	}
	switch {
	case errors.Is(err, ErrPending):
		err = directory.ErrPending
	case errors.Is(err, ErrAccessDenied):
		err = fmt.Errorf("%w (%w)", directory.ErrDeviceDenied, err)
	case errors.Is(err, ErrDeviceExpired):
		err = fmt.Errorf("%w (%w)", directory.ErrDeviceExpired, err)
	case errors.Is(err, ErrIdentify):
		err = fmt.Errorf("%w: %w", directory.ErrZoho, err)
	}
	return directory.Identity{CRMUserID: id.CRMUserID, Email: id.Email, Name: id.Name}, next, err
}

func (d Identifier) seal(tenant string, h DeviceHandle) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	sealed, err := d.Client.o.Cipher.Seal("device/"+tenant, string(b))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (d Identifier) open(tenant, handle string) (DeviceHandle, error) {
	var h DeviceHandle
	sealed, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil {
		return h, errors.New("zoho: device handle: bad format")
	}
	plain, err := d.Client.o.Cipher.Open("device/"+tenant, sealed)
	if err != nil {
		return h, err
	}
	return h, json.Unmarshal([]byte(plain), &h)
}
