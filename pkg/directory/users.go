package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/store"
)

// User is one row of the users table: a PBX extension and, when linked,
// its Zoho user and switches.
type User struct {
	store.Extension
	// Link is nil while the extension is not linked.
	Link *store.Link `json:"link,omitempty"`
	// Terminal is the default terminal click-to-call rings first; nil: the
	// extension itself.
	Terminal *store.Terminal `json:"terminal,omitempty"`
}

// Query selects rows of the users table.
type Query struct {
	// Search matches, case-insensitively, a substring of the extension
	// number or name, or of the linked Zoho user's email or name.
	Search string
	// Linked, when set, keeps only linked (true) or unlinked (false) rows.
	Linked *bool
	store.Page
}

func (q Query) match(u User) bool {
	if q.Linked != nil && *q.Linked != (u.Link != nil) {
		return false
	}
	if q.Search == "" {
		return true
	}
	needle := caseFold(q.Search)
	hay := []string{u.Number, u.Name}
	if u.Link != nil {
		hay = append(hay, u.Link.Email, u.Link.Name)
	}
	for _, h := range hay {
		if strings.Contains(strings.ToLower(h), needle) {
			return true
		}
	}
	return false
}

// Users returns one page of the tenant's users table, ordered by extension
// number (numerically: 99 before 100), and how many rows match in all.
func (s *Service) Users(ctx context.Context, a Actor, tenant string, q Query) ([]User, int, error) {
	if err := s.authorize(a, tenant); err != nil {
		return nil, 0, err
	}
	p, err := q.Page.Norm()
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.o.Store.Tenant(ctx, tenant); err != nil {
		return nil, 0, err
	}
	exts, err := all(func(p store.Page) ([]store.Extension, int, error) { return s.o.Store.ListExtensions(ctx, tenant, p) })
	if err != nil {
		return nil, 0, err
	}
	links, err := all(func(p store.Page) ([]store.Link, int, error) { return s.o.Store.ListLinks(ctx, tenant, p) })
	if err != nil {
		return nil, 0, err
	}
	byExt := make(map[string]store.Link, len(links))
	for _, l := range links {
		byExt[l.Extension] = l
	}
	var rows []User
	for _, e := range exts {
		u := User{Extension: e}
		if l, ok := byExt[e.Number]; ok {
			u.Link = &l
		}
		if q.match(u) {
			rows = append(rows, u)
		}
	}
	slices.SortFunc(rows, func(x, y User) int { return CompareNumbers(x.Number, y.Number) })
	start, end := p.Bounds(len(rows))
	page := rows[start:end]
	for i := range page { // terminals only for the rows shown
		if t, err := s.o.Store.Terminal(ctx, tenant, page[i].Number); err == nil {
			page[i].Terminal = &t
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, 0, err
		}
	}
	return page, len(rows), nil
}

// User returns one row of the users table.
func (s *Service) User(ctx context.Context, a Actor, tenant, ext string) (User, error) {
	if err := s.authorize(a, tenant); err != nil {
		return User{}, err
	}
	e, err := s.extension(ctx, tenant, ext)
	if err != nil {
		return User{}, err
	}
	u := User{Extension: e}
	if l, err := s.o.Store.LinkByExtension(ctx, tenant, ext); err == nil {
		u.Link = &l
	} else if !errors.Is(err, store.ErrNotFound) {
		return User{}, err
	}
	if t, err := s.o.Store.Terminal(ctx, tenant, ext); err == nil {
		u.Terminal = &t
	} else if !errors.Is(err, store.ErrNotFound) {
		return User{}, err
	}
	return u, nil
}

// CompareNumbers orders extension numbers as people read them: numbers of
// digits by value (99 < 100), anything else bytewise after them.
func CompareNumbers(x, y string) int {
	dx, dy := allDigits(x), allDigits(y)
	switch {
	case dx && dy:
		if c := cmp.Compare(len(strings.TrimLeft(x, "0")), len(strings.TrimLeft(y, "0"))); c != 0 {
			return c
		}
		if c := strings.Compare(strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	case dx:
		return -1
	case dy:
		return 1
	}
	return strings.Compare(x, y)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// all reads every page of a store list.
func all[T any](list func(store.Page) ([]T, int, error)) ([]T, error) {
	var out []T
	for off := 0; ; {
		items, total, err := list(store.Page{Offset: off, Limit: store.MaxLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		off += len(items)
		if len(items) == 0 || off >= total {
			return out, nil
		}
	}
}

// extension returns an extension with a clear error when it is unknown.
func (s *Service) extension(ctx context.Context, tenant, ext string) (store.Extension, error) {
	e, err := s.o.Store.Extension(ctx, tenant, ext)
	if errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("tenant %s has no extension %q (extensions come from the PBX): %w", tenant, ext, store.ErrNotFound)
	}
	return e, err
}

// ZohoUsers lists the users of the tenant's Zoho org, each with the
// extension linked to it.
func (s *Service) ZohoUsers(ctx context.Context, a Actor, tenant string) ([]ZohoUser, error) {
	if err := s.authorize(a, tenant); err != nil {
		return nil, err
	}
	us, err := s.orgUsers(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(us)
	for i := range out {
		if l, err := s.o.Store.LinkByZohoUser(ctx, tenant, out[i].key()); err == nil {
			out[i].Extension = l.Extension
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return out, nil
}

// orgUsers returns the org's users, cached for zohoUsersTTL.
func (s *Service) orgUsers(ctx context.Context, tenant string) ([]ZohoUser, error) {
	if _, err := s.connected(ctx, tenant); err != nil {
		return nil, err
	}
	if s.o.Zoho == nil {
		return nil, errNoZoho
	}
	s.mu.Lock()
	c, ok := s.zohoUsers[tenant]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < zohoUsersTTL {
		return c.users, nil
	}
	us, err := s.o.Zoho.Users(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("users of %s: %w: %w", tenant, ErrZoho, err)
	}
	s.mu.Lock()
	s.zohoUsers[tenant] = cachedUsers{at: s.now(), users: us}
	s.mu.Unlock()
	return us, nil
}

func (s *Service) forgetZohoUsers(tenant string) {
	s.mu.Lock()
	delete(s.zohoUsers, tenant)
	s.mu.Unlock()
}

// findZohoUser finds a user of the org by PhoneBridge id, CRM user id or
// email.
func (s *Service) findZohoUser(ctx context.Context, tenant, who string) (ZohoUser, error) {
	us, err := s.orgUsers(ctx, tenant)
	if err != nil {
		return ZohoUser{}, err
	}
	w := caseFold(who)
	for _, u := range us {
		if w != "" && (u.ID == who || u.CRMUserID == who || caseFold(u.Email) == w) {
			return u, nil
		}
	}
	return ZohoUser{}, fmt.Errorf("no user %q in the Zoho org of tenant %s: %w", who, tenant, store.ErrNotFound)
}

// Link links an extension to a Zoho user of the tenant's org (given by
// PhoneBridge id, CRM user id or email), with both switches on. In
// PhoneBridge mode the user's click-to-dial and call-control URLs are
// registered at Zoho with a fresh secret; if Zoho refuses, the link is
// undone and nothing changes.
func (s *Service) Link(ctx context.Context, a Actor, tenant, ext, who string) (store.Link, error) {
	l, err := s.link(ctx, a, tenant, ext, who)
	s.audit(ctx, a, tenant, "user.link", ext, who, err)
	return l, err
}

func (s *Service) link(ctx context.Context, a Actor, tenant, ext, who string) (store.Link, error) {
	if err := s.authorize(a, tenant); err != nil {
		return store.Link{}, err
	}
	t, err := s.connected(ctx, tenant)
	if err != nil {
		return store.Link{}, err
	}
	if _, err := s.extension(ctx, tenant, ext); err != nil {
		return store.Link{}, err
	}
	u, err := s.findZohoUser(ctx, tenant, who)
	if err != nil {
		return store.Link{}, err
	}
	pb := t.Settings.Mode == store.ModePhoneBridge
	if pb && u.ID == "" {
		return store.Link{}, fmt.Errorf("Zoho user %s has no PhoneBridge id (is telephony enabled for the user?): %w", u.Email, store.ErrInvalid)
	}
	l, err := s.o.Store.Link(ctx, store.Link{Tenant: tenant, Extension: ext, ZohoUser: u.key(), CRMUser: u.CRMUserID,
		Email: u.Email, Name: u.Name, Secret: s.o.NewSecret(), Switches: store.Switches{Notifications: true, ClickToCall: true}})
	if err != nil {
		return store.Link{}, err
	}
	if !pb {
		return l, nil
	}
	click, control := s.o.URLs(tenant)
	if err := s.o.Zoho.Register(ctx, tenant, Registration{ZohoUser: l.ZohoUser, ClickToDial: click, CallControl: control, Secret: l.Secret}); err != nil {
		if _, uerr := s.o.Store.Unlink(context.WithoutCancel(ctx), tenant, ext); uerr != nil {
			s.log.Error("undoing a link Zoho refused failed", zap.String("tenant", tenant), zap.String("extension", ext), zap.Error(uerr))
		}
		return store.Link{}, fmt.Errorf("register %s, link undone: %w: %w", u.Email, ErrZoho, err)
	}
	return l, nil
}

// Unlinked is the result of an unlink.
type Unlinked struct {
	Link store.Link `json:"link"`
	// ZohoWarning says why the user may still show click-to-dial at Zoho
	// (unregistering failed); the link is gone either way and its secret
	// no longer opens anything.
	ZohoWarning string `json:"zoho_warning,omitempty"`
}

// Unlink removes the link of an extension and unregisters the Zoho user
// (PhoneBridge mode).
func (s *Service) Unlink(ctx context.Context, a Actor, tenant, ext string) (Unlinked, error) {
	var u Unlinked
	err := s.authorize(a, tenant)
	if err == nil {
		u, err = s.unlink(ctx, tenant, ext)
	}
	detail := u.Link.Email
	if u.ZohoWarning != "" {
		detail += "; " + u.ZohoWarning
	}
	s.audit(ctx, a, tenant, "user.unlink", ext, detail, err)
	return u, err
}

func (s *Service) unlink(ctx context.Context, tenant, ext string) (Unlinked, error) {
	l, err := s.o.Store.Unlink(ctx, tenant, ext)
	if errors.Is(err, store.ErrNotFound) {
		return Unlinked{}, fmt.Errorf("extension %s of tenant %s is not linked: %w", ext, tenant, store.ErrNotFound)
	} else if err != nil {
		return Unlinked{}, err
	}
	u := Unlinked{Link: l}
	t, err := s.o.Store.Tenant(ctx, tenant)
	if err == nil && s.o.Zoho != nil && t.Settings.Mode == store.ModePhoneBridge && t.Zoho.Status == store.Connected {
		err = s.o.Zoho.Unregister(ctx, tenant, l.ZohoUser)
	}
	if err != nil {
		u.ZohoWarning = "unregistering at Zoho failed: " + err.Error()
		s.log.Warn("unlinked, but unregistering at Zoho failed", zap.String("tenant", tenant), zap.String("extension", ext), zap.Error(err))
	}
	return u, nil
}

// unlinkAll unlinks every user of a tenant and returns how many.
func (s *Service) unlinkAll(ctx context.Context, a Actor, tenant string) (int, error) {
	links, err := all(func(p store.Page) ([]store.Link, int, error) { return s.o.Store.ListLinks(ctx, tenant, p) })
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range links {
		u, err := s.unlink(ctx, tenant, l.Extension)
		if errors.Is(err, store.ErrNotFound) {
			continue // unlinked meanwhile
		}
		s.audit(ctx, a, tenant, "user.unlink", l.Extension, l.Email+" "+u.ZohoWarning, err)
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SetSwitches changes a linked user's switches. Click-to-call requires
// call notifications: turning notifications off turns click-to-call off,
// and turning click-to-call on with notifications off is refused.
func (s *Service) SetSwitches(ctx context.Context, a Actor, tenant, ext string, c store.SwitchChange) (store.Link, error) {
	var l store.Link
	err := s.authorize(a, tenant)
	if err == nil {
		l, err = s.o.Store.SetSwitches(ctx, tenant, ext, c)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("extension %s of tenant %s is not linked: %w", ext, tenant, store.ErrNotFound)
		}
	}
	s.audit(ctx, a, tenant, "user.switches", ext, describeSwitches(c), err)
	return l, err
}

func describeSwitches(c store.SwitchChange) string {
	word := map[store.Toggle]string{store.On: "on", store.Off: "off"}
	var parts []string
	if w, ok := word[c.Notifications]; ok {
		parts = append(parts, "notifications="+w)
	}
	if w, ok := word[c.ClickToCall]; ok {
		parts = append(parts, "click_to_call="+w)
	}
	return strings.Join(parts, " ")
}

// SetTerminal sets the default terminal of an extension, as the *037 and
// 3037 feature codes do: a desk device (empty: the extension's own) or a
// mobile number.
func (s *Service) SetTerminal(ctx context.Context, a Actor, tenant, ext string, kind store.TerminalKind, value string) (store.Terminal, error) {
	var t store.Terminal
	err := s.authorize(a, tenant)
	if err == nil {
		var e store.Extension
		if e, err = s.extension(ctx, tenant, ext); err == nil {
			t = store.Terminal{Tenant: tenant, Extension: ext, Kind: kind}
			switch kind {
			case store.Desk:
				t.Device = cmp.Or(value, e.Device)
			case store.Mobile:
				t.Mobile = value
			}
			t, err = s.o.Store.SetTerminal(ctx, t)
		}
	}
	s.audit(ctx, a, tenant, "terminal.set", ext, string(kind)+" "+value, err)
	return t, err
}

// ResetTerminal forgets an extension's default terminal.
func (s *Service) ResetTerminal(ctx context.Context, a Actor, tenant, ext string) error {
	err := s.authorize(a, tenant)
	if err == nil {
		if _, err = s.extension(ctx, tenant, ext); err == nil {
			err = s.o.Store.ResetTerminal(ctx, tenant, ext)
		}
	}
	s.audit(ctx, a, tenant, "terminal.reset", ext, "", err)
	return err
}

// Discovered is the result of a discovery run.
type Discovered struct {
	// Updated counts the extensions stored (new or changed).
	Updated int `json:"updated"`
	// Skipped counts extensions of tenants Ringside does not serve.
	Skipped int `json:"skipped"`
}

// Discover reads the PBX's extensions and stores those of the tenants
// Ringside serves (of tenant only, when set). Extensions gone from the PBX
// are kept (a PBX answering partly must not unlink anyone).
func (s *Service) Discover(ctx context.Context, a Actor, tenant string) (Discovered, error) {
	var d Discovered
	err := s.discover(ctx, a, tenant, &d)
	if a.Via != "" { // the daemon's periodic run is not an admin action
		s.audit(ctx, a, tenant, "extensions.discover", tenant, fmt.Sprintf("%d updated, %d skipped", d.Updated, d.Skipped), err)
	}
	return d, err
}

func (s *Service) discover(ctx context.Context, a Actor, only string, d *Discovered) error {
	if only != "" {
		if err := s.authorize(a, only); err != nil {
			return err
		}
	} else if err := s.operatorOnly(a, "discover every tenant's extensions"); err != nil {
		return err
	}
	if s.o.Discoverer == nil {
		return ErrNoPBX
	}
	exts, err := s.o.Discoverer.Extensions(ctx)
	if err != nil {
		return fmt.Errorf("pbx: list extensions: %w", err)
	}
	known := map[string]bool{}
	for _, e := range exts {
		e.Tenant = cmp.Or(e.Tenant, s.o.DefaultTenant)
		if only != "" && e.Tenant != only {
			continue
		}
		ok, seen := known[e.Tenant]
		if !seen {
			_, terr := s.o.Store.Tenant(ctx, e.Tenant)
			if terr != nil && !errors.Is(terr, store.ErrNotFound) {
				return terr
			}
			ok = terr == nil
			known[e.Tenant] = ok
		}
		if !ok {
			d.Skipped++
			continue
		}
		if old, err := s.o.Store.Extension(ctx, e.Tenant, e.Number); err == nil && old.Name == e.Name && old.Device == e.Device {
			continue
		}
		if _, err := s.o.Store.UpsertExtension(ctx, e); err != nil {
			if errors.Is(err, store.ErrInvalid) {
				d.Skipped++
				s.log.Warn("PBX extension skipped", zap.String("tenant", e.Tenant), zap.String("extension", e.Number), zap.Error(err))
				continue
			}
			return err
		}
		d.Updated++
	}
	return nil
}
