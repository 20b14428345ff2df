package directory

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ringside/ringside/pkg/store"
)

// Tenants lists the tenants a may see: every tenant for an operator, its
// own for a company admin.
func (s *Service) Tenants(ctx context.Context, a Actor) ([]store.Tenant, error) {
	if a.IsOperator() {
		return s.o.Store.ListTenants(ctx)
	}
	t, err := s.Tenant(ctx, a, a.Tenant)
	if err != nil {
		return nil, err
	}
	return []store.Tenant{t}, nil
}

// Tenant returns one tenant.
func (s *Service) Tenant(ctx context.Context, a Actor, id string) (store.Tenant, error) {
	if err := s.authorize(a, id); err != nil {
		return store.Tenant{}, err
	}
	return s.o.Store.Tenant(ctx, id)
}

// CreateTenant adds a company (operators only).
func (s *Service) CreateTenant(ctx context.Context, a Actor, id, name string) (store.Tenant, error) {
	if name == "" {
		name = id
	}
	var t store.Tenant
	err := s.operatorOnly(a, "create tenants")
	if err == nil {
		t, err = s.o.Store.CreateTenant(ctx, store.Tenant{ID: id, Name: name})
	}
	s.audit(ctx, a, "", "tenant.create", id, name, err)
	return t, err
}

// TenantChange is a change of a tenant's name and settings; nil fields are
// kept.
type TenantChange struct {
	Name   *string
	Mode   *store.ZohoMode
	Region *string
	// DefaultUser is the Zoho user responsible for events with no owner:
	// a Zoho user's PhoneBridge id, CRM user id or email, resolved to the
	// CRM user id; "" clears it.
	DefaultUser *string
	// Features switches features on and off by name.
	Features map[string]bool
	// InternalPolicy is what becomes of calls between extensions in the
	// CRM: skip, log or light.
	InternalPolicy *store.InternalPolicy
	// TechnicalExtensions replaces the patterns (globs: "8*", "fax",
	// "60[0-9]") of extensions that are no person; an empty list clears
	// them.
	TechnicalExtensions *[]string
	// OwnNumbers replaces the tenant's own numbers: E.164 numbers and
	// prefixes ending in "*" (spaces, dashes, dots, slashes and brackets
	// are dropped, a leading 00 becomes +); an empty list clears them.
	OwnNumbers *[]string
	// LeadModule is where unknown callers become records: Leads,
	// Contacts, or "" for the daemon's default.
	LeadModule *string
}

// describe is the audit detail of c.
func (c TenantChange) describe() string {
	var parts []string
	if c.Name != nil {
		parts = append(parts, "name="+*c.Name)
	}
	if c.Mode != nil {
		parts = append(parts, "mode="+string(*c.Mode))
	}
	if c.Region != nil {
		parts = append(parts, "region="+*c.Region)
	}
	if c.DefaultUser != nil {
		parts = append(parts, "default_user="+*c.DefaultUser)
	}
	names := make([]string, 0, len(c.Features))
	for f := range c.Features {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		parts = append(parts, fmt.Sprintf("%s=%t", f, c.Features[f]))
	}
	if c.InternalPolicy != nil {
		parts = append(parts, "internal_policy="+string(*c.InternalPolicy))
	}
	if c.TechnicalExtensions != nil {
		parts = append(parts, "technical_extensions="+strings.Join(*c.TechnicalExtensions, ","))
	}
	if c.OwnNumbers != nil {
		parts = append(parts, "own_numbers="+strings.Join(*c.OwnNumbers, ","))
	}
	if c.LeadModule != nil {
		parts = append(parts, "lead_module="+*c.LeadModule)
	}
	return strings.Join(parts, " ")
}

// cleanList trims a list's entries and drops the empty ones.
func cleanList(in []string, clean func(string) string) []string {
	var out []string
	for _, v := range in {
		if v = clean(strings.TrimSpace(v)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// cleanNumber drops the usual separators from a number and turns a
// leading 00 into +.
func cleanNumber(n string) string {
	n = strings.NewReplacer(" ", "", "-", "", ".", "", "/", "", "(", "", ")", "").Replace(n)
	if rest, ok := strings.CutPrefix(n, "00"); ok {
		n = "+" + rest
	}
	return n
}

// UpdateTenant applies c. The default user must be a user of the tenant's
// Zoho org (ErrNotFound otherwise), so that tasks and logs without an owner
// go to someone real.
func (s *Service) UpdateTenant(ctx context.Context, a Actor, id string, c TenantChange) (store.Tenant, error) {
	t, err := s.updateTenant(ctx, a, id, c)
	s.audit(ctx, a, id, "tenant.update", id, c.describe(), err)
	return t, err
}

func (s *Service) updateTenant(ctx context.Context, a Actor, id string, c TenantChange) (store.Tenant, error) {
	if err := s.authorize(a, id); err != nil {
		return store.Tenant{}, err
	}
	if c.Mode != nil {
		switch *c.Mode {
		case store.ModeREST, store.ModePhoneBridge:
		default:
			return store.Tenant{}, fmt.Errorf("mode %q: want rest or phonebridge: %w", *c.Mode, store.ErrInvalid)
		}
	}
	defaultUser := ""
	if c.DefaultUser != nil && *c.DefaultUser != "" {
		u, err := s.findZohoUser(ctx, id, *c.DefaultUser)
		if err != nil {
			return store.Tenant{}, err
		}
		if defaultUser = u.CRMUserID; defaultUser == "" {
			return store.Tenant{}, fmt.Errorf("Zoho user %s has no CRM user id: %w", u.Email, store.ErrInvalid)
		}
	}
	return store.ModifyTenant(ctx, s.o.Store, id, func(t *store.Tenant) error {
		if c.Name != nil {
			t.Name = strings.TrimSpace(*c.Name)
		}
		if c.Mode != nil {
			t.Settings.Mode = *c.Mode
		}
		if c.Region != nil {
			t.Settings.Region = strings.ToUpper(strings.TrimSpace(*c.Region))
		}
		if c.DefaultUser != nil {
			t.Settings.DefaultUser = defaultUser
		}
		for f, on := range c.Features {
			if t.Settings.Features == nil {
				t.Settings.Features = map[string]bool{}
			}
			if on {
				t.Settings.Features[f] = true
			} else {
				delete(t.Settings.Features, f)
			}
		}
		if c.InternalPolicy != nil {
			t.Settings.InternalPolicy = *c.InternalPolicy
		}
		if c.TechnicalExtensions != nil {
			t.Settings.TechnicalExtensions = cleanList(*c.TechnicalExtensions, func(v string) string { return v })
		}
		if c.OwnNumbers != nil {
			t.Settings.OwnNumbers = cleanList(*c.OwnNumbers, cleanNumber)
		}
		if c.LeadModule != nil {
			t.Settings.LeadModule = strings.TrimSpace(*c.LeadModule)
		}
		return nil
	})
}

// DeleteTenant removes a company (operators only) after unlinking every
// user, so that none stays registered at Zoho.
func (s *Service) DeleteTenant(ctx context.Context, a Actor, id string) error {
	err := s.operatorOnly(a, "delete tenants")
	if err == nil {
		if _, err = s.o.Store.Tenant(ctx, id); err == nil {
			if _, err = s.unlinkAll(ctx, a, id); err == nil {
				err = s.o.Store.DeleteTenant(ctx, id)
			}
		}
	}
	s.audit(ctx, a, "", "tenant.delete", id, "", err)
	return err
}

// EnableZoho starts connecting the tenant to its Zoho org in the given
// mode (empty: keep the tenant's, rest for a new one) and returns the Zoho
// consent URL to send the admin's browser to. The OAuth callback completes
// the connection.
func (s *Service) EnableZoho(ctx context.Context, a Actor, id string, mode store.ZohoMode) (string, error) {
	u, err := s.enableZoho(ctx, a, id, mode)
	s.audit(ctx, a, id, "zoho.enable", id, "mode="+string(mode), err)
	return u, err
}

func (s *Service) enableZoho(ctx context.Context, a Actor, id string, mode store.ZohoMode) (string, error) {
	if err := s.authorize(a, id); err != nil {
		return "", err
	}
	if s.o.Connector == nil {
		return "", errNoZoho
	}
	switch mode {
	case store.ModeUnset, store.ModeREST, store.ModePhoneBridge:
	default:
		return "", fmt.Errorf("mode %q: want rest or phonebridge: %w", mode, store.ErrInvalid)
	}
	if _, err := store.ModifyTenant(ctx, s.o.Store, id, func(t *store.Tenant) error {
		if mode != store.ModeUnset {
			t.Settings.Mode = mode
		} else if t.Settings.Mode == store.ModeUnset {
			t.Settings.Mode = store.ModeREST
		}
		return nil
	}); err != nil {
		return "", err
	}
	return s.o.Connector.AuthURL(ctx, id)
}

// DisableZoho turns the integration off for the whole company: every user
// is unlinked (and unregistered at Zoho), then the connection is revoked.
// It returns how many users were unlinked.
func (s *Service) DisableZoho(ctx context.Context, a Actor, id string) (int, error) {
	n, err := s.disableZoho(ctx, a, id)
	s.audit(ctx, a, id, "zoho.disable", id, fmt.Sprintf("%d users unlinked", n), err)
	return n, err
}

func (s *Service) disableZoho(ctx context.Context, a Actor, id string) (int, error) {
	if err := s.authorize(a, id); err != nil {
		return 0, err
	}
	if _, err := s.o.Store.Tenant(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.unlinkAll(ctx, a, id)
	if err != nil {
		return n, err
	}
	if s.o.Connector == nil {
		return n, nil
	}
	s.forgetZohoUsers(id)
	return n, s.o.Connector.Disconnect(ctx, id)
}

// operatorOnly refuses a company admin.
func (s *Service) operatorOnly(a Actor, what string) error {
	if a.IsOperator() {
		return nil
	}
	return fmt.Errorf("only operators may %s: %w", what, ErrForbidden)
}

// connected returns the tenant if its Zoho integration is connected.
func (s *Service) connected(ctx context.Context, id string) (store.Tenant, error) {
	t, err := s.o.Store.Tenant(ctx, id)
	if err != nil {
		return t, err
	}
	switch t.Zoho.Status {
	case store.Connected:
		return t, nil
	case store.Revoked:
		return t, fmt.Errorf("tenant %s: Zoho revoked Ringside's access; enable the integration again: %w", id, ErrNotConnected)
	default:
		return t, fmt.Errorf("tenant %s: enable the Zoho integration first: %w", id, ErrNotConnected)
	}
}
