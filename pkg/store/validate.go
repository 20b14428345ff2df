package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ringside/ringside/pkg/events"
)

// The rules below are the contract's; implementations call them before they
// write anything, so both backends refuse exactly the same input.

// maxID bounds identifiers: extension numbers, Zoho user ids, usernames,
// session ids, phone numbers.
const maxID = 128

// MaxKey bounds the keys of Keys.
const MaxKey = 512

// CheckID reports whether s can be an identifier: 1 to 128 bytes of valid
// UTF-8 without spaces or control characters. what names it in the error.
func CheckID(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	}
	if len(s) > maxID || !utf8.ValidString(s) {
		return fmt.Errorf("%s %.40q: too long or not UTF-8: %w", what, s, ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%s %q: contains a space or control character: %w", what, s, ErrInvalid)
		}
	}
	return nil
}

// CheckTenantID reports whether id can name a tenant: a subject token
// (events.ValidToken).
func CheckTenantID(id string) error {
	if !events.ValidToken(id) {
		return fmt.Errorf("tenant id %.70q: want 1-64 bytes without dots, wildcards or spaces, not cmd/call/deadletter: %w", id, ErrInvalid)
	}
	return nil
}

// CheckKey reports whether key can be a key of Keys: 1 to MaxKey bytes.
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKey {
		return fmt.Errorf("key of %d bytes: want 1-%d: %w", len(key), MaxKey, ErrInvalid)
	}
	return nil
}

// CheckTTL reports whether ttl is usable: > 0.
func CheckTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("ttl %s: want > 0: %w", ttl, ErrInvalid)
	}
	return nil
}

// CheckLookup reports whether a lookup cache entry can be stored: a valid
// tenant, a number and a TTL > 0.
func CheckLookup(tenant, number string, ttl time.Duration) error {
	if err := CheckTenantID(tenant); err != nil {
		return err
	}
	if err := CheckID("number", number); err != nil {
		return err
	}
	return CheckTTL(ttl)
}

// Normalize returns t as it is stored: an empty Zoho status is Disconnected.
func (t Tenant) Normalize() Tenant {
	if t.Zoho.Status == "" {
		t.Zoho.Status = Disconnected
	}
	return t
}

// Validate reports the first rule t breaks (after Normalize), wrapping
// ErrInvalid.
func (t Tenant) Validate() error {
	t = t.Normalize()
	if err := CheckTenantID(t.ID); err != nil {
		return err
	}
	if !utf8.ValidString(t.Name) || len(t.Name) > 256 {
		return fmt.Errorf("tenant %s: name: too long or not UTF-8: %w", t.ID, ErrInvalid)
	}
	switch t.Settings.Mode {
	case ModeUnset, ModePhoneBridge, ModeREST:
	default:
		return fmt.Errorf("tenant %s: mode %q: want phonebridge or rest: %w", t.ID, t.Settings.Mode, ErrInvalid)
	}
	if r := t.Settings.Region; r != "" && (len(r) != 2 || r[0] < 'A' || r[0] > 'Z' || r[1] < 'A' || r[1] > 'Z') {
		return fmt.Errorf("tenant %s: region %q: want two upper-case letters (DE): %w", t.ID, r, ErrInvalid)
	}
	if u := t.Settings.DefaultUser; u != "" {
		if err := CheckID("default user", u); err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
	}
	for name := range t.Settings.Features {
		if err := CheckID("feature", name); err != nil {
			return fmt.Errorf("tenant %s: %w", t.ID, err)
		}
	}
	if err := CheckBlacklist(t.Settings.Blacklist, t.Settings.BlacklistReason); err != nil {
		return fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	if err := checkCallSettings(t.Settings); err != nil {
		return fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	z := t.Zoho
	switch z.Status {
	case Disconnected, Revoked:
	case Connected:
		if len(z.RefreshToken) == 0 || z.AccountsURL == "" || z.APIDomain == "" {
			return fmt.Errorf("tenant %s: connected without refresh token, accounts server or api domain: %w", t.ID, ErrInvalid)
		}
	default:
		return fmt.Errorf("tenant %s: zoho status %q: want disconnected, connected or revoked: %w", t.ID, z.Status, ErrInvalid)
	}
	return nil
}

// Validate reports the first rule e breaks, wrapping ErrInvalid.
func (e Extension) Validate() error {
	if err := CheckTenantID(e.Tenant); err != nil {
		return err
	}
	return CheckID("extension", e.Number)
}

// Validate reports the first rule l breaks, wrapping ErrInvalid.
func (l Link) Validate() error {
	if err := CheckTenantID(l.Tenant); err != nil {
		return err
	}
	if err := CheckID("extension", l.Extension); err != nil {
		return err
	}
	if err := CheckID("zoho user", l.ZohoUser); err != nil {
		return err
	}
	return l.Switches.Validate()
}

// ErrClickToCallNeedsNotifications is why a switch change is refused; it
// wraps ErrInvalid.
var ErrClickToCallNeedsNotifications = fmt.Errorf("click-to-call requires notifications: %w", ErrInvalid)

// Validate reports whether s keeps the rule: click-to-call requires
// notifications.
func (s Switches) Validate() error {
	if s.ClickToCall && !s.Notifications {
		return ErrClickToCallNeedsNotifications
	}
	return nil
}

// Apply returns s changed by c: turning notifications off turns
// click-to-call off; turning click-to-call on while notifications end up
// off (including "notifications off, click-to-call on" in one change) is
// ErrClickToCallNeedsNotifications.
func (s Switches) Apply(c SwitchChange) (Switches, error) {
	if c.Notifications > Off || c.ClickToCall > Off {
		return s, fmt.Errorf("switch change %+v: %w", c, ErrInvalid)
	}
	switch c.Notifications {
	case On:
		s.Notifications = true
	case Off:
		s.Notifications, s.ClickToCall = false, false
	}
	switch c.ClickToCall {
	case On:
		s.ClickToCall = true
	case Off:
		s.ClickToCall = false
	}
	return s, s.Validate()
}

// Validate reports the first rule t breaks, wrapping ErrInvalid.
func (t Terminal) Validate() error {
	if err := CheckTenantID(t.Tenant); err != nil {
		return err
	}
	if err := CheckID("extension", t.Extension); err != nil {
		return err
	}
	switch t.Kind {
	case Desk:
		if err := CheckID("device", t.Device); err != nil {
			return err
		}
		if t.Mobile != "" {
			return fmt.Errorf("desk terminal with a mobile number: %w", ErrInvalid)
		}
	case Mobile:
		if err := CheckID("mobile number", t.Mobile); err != nil {
			return err
		}
	default:
		return fmt.Errorf("terminal kind %q: want desk or mobile: %w", t.Kind, ErrInvalid)
	}
	return nil
}

// Validate reports the first rule a breaks, wrapping ErrInvalid.
func (a Account) Validate() error {
	if err := CheckID("username", a.Username); err != nil {
		return err
	}
	if len(a.PasswordHash) == 0 {
		return fmt.Errorf("account %s: no password hash: %w", a.Username, ErrInvalid)
	}
	switch a.Role {
	case RoleOperator:
		if a.Tenant != "" {
			return fmt.Errorf("account %s: an operator has no tenant: %w", a.Username, ErrInvalid)
		}
	case RoleAdmin:
		if err := CheckTenantID(a.Tenant); err != nil {
			return fmt.Errorf("account %s: %w", a.Username, err)
		}
	default:
		return fmt.Errorf("account %s: role %q: want operator or admin: %w", a.Username, a.Role, ErrInvalid)
	}
	return nil
}

// Validate reports the first rule s breaks at time now, wrapping ErrInvalid.
func (s Session) Validate(now time.Time) error {
	if err := CheckID("session id", s.ID); err != nil {
		return err
	}
	if err := CheckID("username", s.Username); err != nil {
		return err
	}
	if !s.ExpiresAt.After(now) {
		return fmt.Errorf("session of %s expires at %s, not in the future: %w", s.Username, s.ExpiresAt.Format(time.RFC3339), ErrInvalid)
	}
	return nil
}

// Expired reports whether the session has expired at now.
func (s Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Bounds of the audit entries' fields.
const (
	// MaxAuditDetail bounds an audit entry's Detail and Error, in bytes.
	MaxAuditDetail = 1024
	// maxAuditAction bounds its Action; maxAuditTarget its Target.
	maxAuditAction = 64
	maxAuditTarget = 256
)

// Validate reports the first rule e breaks, wrapping ErrInvalid. Time is
// not checked: the store sets it.
func (e AuditEntry) Validate() error {
	if err := CheckID("actor", e.Actor); err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	switch e.Via {
	case ViaPortal, ViaAPI, ViaCLI, ViaDaemon:
	default:
		return fmt.Errorf("audit entry by %s: via %q: want portal, api, cli or daemon: %w", e.Actor, e.Via, ErrInvalid)
	}
	if e.Tenant != "" {
		if err := CheckTenantID(e.Tenant); err != nil {
			return fmt.Errorf("audit entry by %s: %w", e.Actor, err)
		}
	}
	if !validAction(e.Action) {
		return fmt.Errorf("audit entry by %s: action %.70q: want 1-%d bytes of a-z, _ and .: %w", e.Actor, e.Action, maxAuditAction, ErrInvalid)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"target", e.Target, maxAuditTarget}, {"detail", e.Detail, MaxAuditDetail}, {"error", e.Error, MaxAuditDetail}} {
		if len(f.v) > f.max || !utf8.ValidString(f.v) {
			return fmt.Errorf("audit entry %s by %s: %s of %d bytes: want up to %d of UTF-8: %w", e.Action, e.Actor, f.name, len(f.v), f.max, ErrInvalid)
		}
	}
	return nil
}

// validAction reports whether a is 1 to maxAuditAction bytes of a-z, '_'
// and '.'.
func validAction(a string) bool {
	if a == "" || len(a) > maxAuditAction {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; (c < 'a' || c > 'z') && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// MaxWebhookURL bounds a webhook subscription's URL, in bytes.
const MaxWebhookURL = 2048

// maxWebhookID bounds a subscription id.
const maxWebhookID = 64

// CheckWebhookID reports whether id can name a webhook subscription: 1 to
// 64 bytes of A-Z, a-z, 0-9, '_' and '-'.
func CheckWebhookID(id string) error {
	ok := id != "" && len(id) <= maxWebhookID
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("webhook id %.70q: want 1-%d bytes of A-Z, a-z, 0-9, _ and -: %w", id, maxWebhookID, ErrInvalid)
	}
	return nil
}

// CheckWebhookURL reports whether raw can be a subscription's URL: an
// absolute http or https URL with a host, without user info or fragment,
// up to MaxWebhookURL bytes.
func CheckWebhookURL(raw string) error {
	if len(raw) > MaxWebhookURL {
		return fmt.Errorf("webhook url of %d bytes: want up to %d: %w", len(raw), MaxWebhookURL, ErrInvalid)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("webhook url: %v: %w", err, ErrInvalid)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("webhook url %.100q: want an absolute http or https URL: %w", raw, ErrInvalid)
	case u.User != nil:
		return fmt.Errorf("webhook url: no user or password in the URL (the signature authenticates Ringside): %w", ErrInvalid)
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return fmt.Errorf("webhook url %.100q: no fragment: %w", raw, ErrInvalid)
	}
	return nil
}

// Secret bounds of webhook subscriptions.
const (
	minWebhookSecret = 16
	maxWebhookSecret = 256
)

// Validate reports the first rule w breaks, wrapping ErrInvalid. Version
// and times are not checked: the store sets them.
func (w Webhook) Validate() error {
	if err := CheckTenantID(w.Tenant); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if err := CheckWebhookID(w.ID); err != nil {
		return err
	}
	what := w.Tenant + "/" + w.ID
	if err := CheckWebhookURL(w.URL); err != nil {
		return fmt.Errorf("webhook %s: %w", what, err)
	}
	seen := map[string]bool{}
	for _, e := range w.Events {
		if !slices.Contains(events.Types, events.Type(e)) || seen[e] {
			return fmt.Errorf("webhook %s: event type %.70q: unknown or listed twice: %w", what, e, ErrInvalid)
		}
		seen[e] = true
	}
	if n := len(w.Secret); n < minWebhookSecret || n > maxWebhookSecret {
		return fmt.Errorf("webhook %s: secret of %d bytes: want %d-%d: %w", what, n, minWebhookSecret, maxWebhookSecret, ErrInvalid)
	}
	for i := 0; i < len(w.Secret); i++ {
		if c := w.Secret[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("webhook %s: secret: want printable ASCII without spaces: %w", what, ErrInvalid)
		}
	}
	switch w.State {
	case WebhookPending, WebhookActive, WebhookDisabled:
	default:
		return fmt.Errorf("webhook %s: state %q: want pending, active or disabled: %w", what, w.State, ErrInvalid)
	}
	if len(w.Reason) > MaxAuditDetail || !utf8.ValidString(w.Reason) {
		return fmt.Errorf("webhook %s: reason of %d bytes: want up to %d of UTF-8: %w", what, len(w.Reason), MaxAuditDetail, ErrInvalid)
	}
	if w.Failures < 0 {
		return fmt.Errorf("webhook %s: failures %d: want ≥ 0: %w", what, w.Failures, ErrInvalid)
	}
	return nil
}

// Validate reports the first rule d breaks, wrapping ErrInvalid.
func (d Delivery) Validate() error {
	if err := CheckTenantID(d.Tenant); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	if err := CheckWebhookID(d.Webhook); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	what := d.Tenant + "/" + d.Webhook
	if err := CheckID("event id", d.EventID); err != nil {
		return fmt.Errorf("delivery to %s: %w", what, err)
	}
	switch {
	case d.Time.IsZero():
		return fmt.Errorf("delivery to %s: no time: %w", what, ErrInvalid)
	case !validAction(d.EventType):
		return fmt.Errorf("delivery to %s: event type %.70q: want 1-%d bytes of a-z, _ and .: %w", what, d.EventType, maxAuditAction, ErrInvalid)
	case d.Attempt < 1:
		return fmt.Errorf("delivery to %s: attempt %d: want ≥ 1: %w", what, d.Attempt, ErrInvalid)
	case d.Status != 0 && (d.Status < 100 || d.Status > 599):
		return fmt.Errorf("delivery to %s: status %d: want 0 or 100-599: %w", what, d.Status, ErrInvalid)
	case d.Duration < 0:
		return fmt.Errorf("delivery to %s: negative duration: %w", what, ErrInvalid)
	case len(d.Error) > MaxAuditDetail || !utf8.ValidString(d.Error):
		return fmt.Errorf("delivery to %s: error of %d bytes: want up to %d of UTF-8: %w", what, len(d.Error), MaxAuditDetail, ErrInvalid)
	}
	switch d.Result {
	case DeliveryOK, DeliveryHTTPError, DeliveryNetworkError, DeliveryTimeout:
	default:
		return fmt.Errorf("delivery to %s: result %q: want ok, http_error, network_error or timeout: %w", what, d.Result, ErrInvalid)
	}
	return nil
}

// Norm returns p with the default limit applied, or ErrInvalid for a
// negative offset or limit.
func (p Page) Norm() (Page, error) {
	if p.Offset < 0 || p.Limit < 0 {
		return p, fmt.Errorf("page offset %d limit %d: %w", p.Offset, p.Limit, ErrInvalid)
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit > MaxLimit {
		p.Limit = MaxLimit
	}
	return p, nil
}

// Bounds returns the half-open index range [start, end) of a normalised p
// within a list of total items.
func (p Page) Bounds(total int) (start, end int) {
	start = min(p.Offset, total)
	end = min(start+p.Limit, total)
	return start, end
}

// modifyAttempts bounds the retries of ModifyTenant.
const modifyAttempts = 8

// WebhookUpdater is what ModifyWebhook needs of a store.
type WebhookUpdater interface {
	Webhook(ctx context.Context, tenant, id string) (Webhook, error)
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
}

// ModifyWebhook reads the subscription, lets fn change it and writes it
// back, reading again and retrying when another writer got there first,
// like ModifyTenant. fn may run more than once and must only change the
// subscription it is given (its tenant and id are kept); an error from fn
// stops everything and is returned as is. ErrConflict after repeated
// losses.
func ModifyWebhook(ctx context.Context, s WebhookUpdater, tenant, id string, fn func(*Webhook) error) (Webhook, error) {
	var err error
	for range modifyAttempts {
		var w Webhook
		if w, err = s.Webhook(ctx, tenant, id); err != nil {
			return Webhook{}, err
		}
		if err = fn(&w); err != nil {
			return Webhook{}, err
		}
		w.Tenant, w.ID = tenant, id
		if w, err = s.UpdateWebhook(ctx, w); !errors.Is(err, ErrConflict) {
			return w, err
		}
	}
	return Webhook{}, err
}

// ModifyTenant reads the tenant, lets fn change it and writes it back,
// reading again and retrying when another writer got there first. fn may run
// more than once and must only change the tenant it is given; an error from
// fn stops everything and is returned as is. ErrConflict after repeated
// losses.
func ModifyTenant(ctx context.Context, s Tenants, id string, fn func(*Tenant) error) (Tenant, error) {
	var err error
	for range modifyAttempts {
		var t Tenant
		if t, err = s.Tenant(ctx, id); err != nil {
			return Tenant{}, err
		}
		if err = fn(&t); err != nil {
			return Tenant{}, err
		}
		t.ID = id
		if t, err = s.UpdateTenant(ctx, t); !errors.Is(err, ErrConflict) {
			return t, err
		}
	}
	return Tenant{}, err
}

// How a blacklisted call is rejected (Settings.BlacklistReason): the
// caller hears busy (SIP 486, the default), congestion (503) or the call
// just ends.
const (
	BlockBusy       = "busy"
	BlockCongestion = "congestion"
	BlockHangup     = "hangup"
)

// MaxBlacklist bounds a tenant's blacklist.
const MaxBlacklist = 10000

// CheckBlacklistEntry reports whether s can be a blacklist entry: an E.164
// number ("+" and 2 to 15 digits), or such a prefix followed by "*".
func CheckBlacklistEntry(s string) error {
	digits := strings.TrimSuffix(strings.TrimPrefix(s, "+"), "*")
	if !strings.HasPrefix(s, "+") || len(digits) < 2 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
		return fmt.Errorf("blacklist entry %.40q: want an E.164 number (+4930123456) or prefix (+4990*): %w", s, ErrInvalid)
	}
	return nil
}

// CheckBlacklist reports the first problem of a blacklist and its reason:
// at most MaxBlacklist entries, each valid and listed once; the reason
// empty or one of BlockBusy, BlockCongestion, BlockHangup.
func CheckBlacklist(entries []string, reason string) error {
	switch reason {
	case "", BlockBusy, BlockCongestion, BlockHangup:
	default:
		return fmt.Errorf("blacklist reason %.40q: want busy, congestion or hangup: %w", reason, ErrInvalid)
	}
	if len(entries) > MaxBlacklist {
		return fmt.Errorf("blacklist of %d entries: at most %d: %w", len(entries), MaxBlacklist, ErrInvalid)
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if err := CheckBlacklistEntry(e); err != nil {
			return err
		}
		if seen[e] {
			return fmt.Errorf("blacklist entry %s listed twice: %w", e, ErrInvalid)
		}
		seen[e] = true
	}
	return nil
}

// Bounds of the call settings' lists.
const (
	MaxTechnicalExtensions = 100
	MaxOwnNumbers          = 1000
	maxPattern             = 64
)

// checkCallSettings reports the first problem of the internal-call policy,
// the technical extensions, the own numbers and the lead module.
func checkCallSettings(s Settings) error {
	switch s.InternalPolicy {
	case "", InternalSkip, InternalLog, InternalLight:
	default:
		return fmt.Errorf("internal policy %.40q: want skip, log or light: %w", s.InternalPolicy, ErrInvalid)
	}
	switch s.LeadModule {
	case "", "Leads", "Contacts":
	default:
		return fmt.Errorf("lead module %.40q: want Leads or Contacts: %w", s.LeadModule, ErrInvalid)
	}
	if err := CheckTechnicalExtensions(s.TechnicalExtensions); err != nil {
		return err
	}
	return CheckOwnNumbers(s.OwnNumbers)
}

// CheckTechnicalExtensions reports the first problem of a list of
// technical-extension patterns: at most MaxTechnicalExtensions, each 1 to
// 64 bytes without spaces, control characters or "/", a valid path.Match
// pattern, listed once.
func CheckTechnicalExtensions(patterns []string) error {
	if len(patterns) > MaxTechnicalExtensions {
		return fmt.Errorf("%d technical extension patterns: at most %d: %w", len(patterns), MaxTechnicalExtensions, ErrInvalid)
	}
	seen := make(map[string]bool, len(patterns))
	for _, p := range patterns {
		if err := CheckID("technical extension pattern", p); err != nil {
			return err
		}
		if _, err := path.Match(p, ""); err != nil || len(p) > maxPattern || strings.Contains(p, "/") {
			return fmt.Errorf("technical extension pattern %.40q: want a glob of up to %d bytes (* any, ? one, [0-9] a class), no /: %w",
				p, maxPattern, ErrInvalid)
		}
		if seen[p] {
			return fmt.Errorf("technical extension pattern %s listed twice: %w", p, ErrInvalid)
		}
		seen[p] = true
	}
	return nil
}

// CheckOwnNumbers reports the first problem of a tenant's own numbers: at
// most MaxOwnNumbers, each an E.164 number or prefix ending in "*" (as a
// blacklist entry), listed once.
func CheckOwnNumbers(numbers []string) error {
	if len(numbers) > MaxOwnNumbers {
		return fmt.Errorf("%d own numbers: at most %d: %w", len(numbers), MaxOwnNumbers, ErrInvalid)
	}
	seen := make(map[string]bool, len(numbers))
	for _, n := range numbers {
		if CheckBlacklistEntry(n) != nil {
			return fmt.Errorf("own number %.40q: want an E.164 number (+4930999000) or prefix (+4930999*): %w", n, ErrInvalid)
		}
		if seen[n] {
			return fmt.Errorf("own number %s listed twice: %w", n, ErrInvalid)
		}
		seen[n] = true
	}
	return nil
}
