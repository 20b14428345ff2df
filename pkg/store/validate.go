package store

import (
	"context"
	"errors"
	"fmt"
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
	case ViaPortal, ViaAPI, ViaCLI:
	default:
		return fmt.Errorf("audit entry by %s: via %q: want portal, api or cli: %w", e.Actor, e.Via, ErrInvalid)
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
