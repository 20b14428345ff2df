package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ringside/ringside/pkg/store"
)

// The blacklist: callers of a tenant rejected before their call rings
// (pkg/screen decides, the PBX adapter rejects). Entries are E.164 numbers
// ("+4930123456") and prefixes ending in "*" ("+4990*"); the reason says
// what the caller hears: busy (the default), congestion or hangup.

// Blacklist is a tenant's blacklist.
type Blacklist struct {
	Entries []string `json:"entries"`
	// Reason is how blacklisted calls are rejected (store.BlockBusy when
	// the tenant never chose).
	Reason string `json:"reason"`
}

func blacklistOf(t store.Tenant) Blacklist {
	b := Blacklist{Entries: slices.Clone(t.Settings.Blacklist), Reason: t.Settings.BlacklistReason}
	if b.Entries == nil {
		b.Entries = []string{}
	}
	if b.Reason == "" {
		b.Reason = store.BlockBusy
	}
	return b
}

// BlacklistEntry turns what an admin typed into an entry: blanks and the
// separators " -./()" dropped, a leading 00 read as +. The result still has
// to pass store.CheckBlacklistEntry.
func BlacklistEntry(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '.', '/', '(', ')':
			return -1
		}
		return r
	}, s)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	return s
}

// ListBlocked returns a tenant's blacklist.
func (s *Service) ListBlocked(ctx context.Context, a Actor, tenant string) (Blacklist, error) {
	t, err := s.Tenant(ctx, a, tenant)
	if err != nil {
		return Blacklist{}, err
	}
	return blacklistOf(t), nil
}

// AddBlocked adds a number or prefix to a tenant's blacklist (ErrConflict if
// it is there already) and returns the blacklist.
func (s *Service) AddBlocked(ctx context.Context, a Actor, tenant, entry string) (Blacklist, error) {
	e := BlacklistEntry(entry)
	b, err := s.changeBlacklist(ctx, a, tenant, func(t *store.Tenant) error {
		if err := store.CheckBlacklistEntry(e); err != nil {
			return err
		}
		if slices.Contains(t.Settings.Blacklist, e) {
			return fmt.Errorf("%s is on the blacklist of %s already: %w", e, tenant, store.ErrConflict)
		}
		if len(t.Settings.Blacklist) >= store.MaxBlacklist {
			return fmt.Errorf("the blacklist of %s is full (%d entries): %w", tenant, store.MaxBlacklist, store.ErrInvalid)
		}
		t.Settings.Blacklist = append(t.Settings.Blacklist, e)
		return nil
	})
	s.audit(ctx, a, tenant, "blacklist.add", e, "", err)
	return b, err
}

// RemoveBlocked removes a number or prefix from a tenant's blacklist
// (ErrNotFound if it is not there) and returns the blacklist.
func (s *Service) RemoveBlocked(ctx context.Context, a Actor, tenant, entry string) (Blacklist, error) {
	e := BlacklistEntry(entry)
	b, err := s.changeBlacklist(ctx, a, tenant, func(t *store.Tenant) error {
		i := slices.Index(t.Settings.Blacklist, e)
		if i < 0 {
			return fmt.Errorf("%q is not on the blacklist of %s: %w", e, tenant, store.ErrNotFound)
		}
		t.Settings.Blacklist = slices.Delete(t.Settings.Blacklist, i, i+1)
		return nil
	})
	s.audit(ctx, a, tenant, "blacklist.remove", e, "", err)
	return b, err
}

// SetBlockedReason sets how a tenant's blacklisted calls are rejected:
// store.BlockBusy, BlockCongestion or BlockHangup.
func (s *Service) SetBlockedReason(ctx context.Context, a Actor, tenant, reason string) (Blacklist, error) {
	reason = strings.ToLower(strings.TrimSpace(reason))
	b, err := s.changeBlacklist(ctx, a, tenant, func(t *store.Tenant) error {
		if err := store.CheckBlacklist(nil, reason); err != nil || reason == "" {
			return fmt.Errorf("reason %q: want busy, congestion or hangup: %w", reason, store.ErrInvalid)
		}
		t.Settings.BlacklistReason = reason
		return nil
	})
	s.audit(ctx, a, tenant, "blacklist.reason", tenant, "reason="+reason, err)
	return b, err
}

func (s *Service) changeBlacklist(ctx context.Context, a Actor, tenant string, fn func(*store.Tenant) error) (Blacklist, error) {
	if err := s.authorize(a, tenant); err != nil {
		return Blacklist{}, err
	}
	t, err := store.ModifyTenant(ctx, s.o.Store, tenant, fn)
	if err != nil {
		return Blacklist{}, err
	}
	return blacklistOf(t), nil
}
