package natskv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// The link protocol is described in the package comment.

// reverse is the value of a reverse key linkzu.<t>.<zu>.
type reverse struct {
	Extension string    `json:"extension"`
	At        time.Time `json:"at"`
}

func (s *Store) forward(ctx context.Context, tenant, ext string) (store.Link, uint64, error) {
	var l store.Link
	rev, err := getJSON(ctx, s.dir, key("link", tenant, ext), &l)
	return l, rev, err
}

func (s *Store) reverse(ctx context.Context, tenant, zu string) (reverse, uint64, error) {
	var r reverse
	rev, err := getJSON(ctx, s.dir, key("linkzu", tenant, zu), &r)
	return r, rev, err
}

// linkByExt returns the link of an extension when both directions agree.
func (s *Store) linkByExt(ctx context.Context, tenant, ext string) (store.Link, uint64, error) {
	l, frev, err := s.forward(ctx, tenant, ext)
	if err != nil {
		return store.Link{}, 0, err
	}
	r, _, err := s.reverse(ctx, tenant, l.ZohoUser)
	if err != nil {
		return store.Link{}, 0, err
	}
	if r.Extension != ext {
		return store.Link{}, 0, store.ErrNotFound // a dangling forward key
	}
	return l, frev, nil
}

// linkByZU returns the link of a Zoho user when both directions agree.
func (s *Store) linkByZU(ctx context.Context, tenant, zu string) (store.Link, error) {
	r, _, err := s.reverse(ctx, tenant, zu)
	if err != nil {
		return store.Link{}, err
	}
	l, _, err := s.forward(ctx, tenant, r.Extension)
	if err != nil {
		return store.Link{}, err
	}
	if l.ZohoUser != zu {
		return store.Link{}, store.ErrNotFound // a dangling reverse key
	}
	return l, nil
}

func (s *Store) Link(ctx context.Context, l store.Link) (store.Link, error) {
	if err := l.Validate(); err != nil {
		return store.Link{}, fmt.Errorf("natskv: link: %w", err)
	}
	what := l.Tenant + "/" + l.Extension + " to Zoho user " + l.ZohoUser
	ek := key("ext", l.Tenant, l.Extension)
	if _, err := get(ctx, s.dir, ek); err != nil {
		return store.Link{}, fmt.Errorf("natskv: link %s: extension %s: %w", what, l.Extension, err)
	}
	l.LinkedAt = s.now()

	// 1. Reserve the reverse key.
	rk := key("linkzu", l.Tenant, l.ZohoUser)
	rrev, err := s.reserve(ctx, l)
	if err != nil {
		return store.Link{}, fmt.Errorf("natskv: link %s: %w", what, err)
	}
	undoReverse := func() { _ = s.dir.Delete(context.WithoutCancel(ctx), rk, jetstream.LastRevision(rrev)) }

	// 2. Create the forward key.
	fk := key("link", l.Tenant, l.Extension)
	frev, err := s.claimForward(ctx, l)
	if err != nil {
		undoReverse()
		return store.Link{}, fmt.Errorf("natskv: link %s: %w", what, err)
	}
	undoForward := func() { _ = s.dir.Delete(context.WithoutCancel(ctx), fk, jetstream.LastRevision(frev)) }

	// 3. Both still hold: the reservation is ours, the extension exists.
	e, err := get(ctx, s.dir, rk)
	if err != nil || e.Revision() != rrev {
		undoForward()
		return store.Link{}, fmt.Errorf("natskv: link %s: Zoho user %s taken over meanwhile: %w", what, l.ZohoUser, store.ErrConflict)
	}
	if _, err := get(ctx, s.dir, ek); err != nil {
		undoForward()
		undoReverse()
		return store.Link{}, fmt.Errorf("natskv: link %s: extension %s: %w", what, l.Extension, err)
	}
	return l, nil
}

// reserve creates the reverse key of l, taking over a leftover.
func (s *Store) reserve(ctx context.Context, l store.Link) (uint64, error) {
	rk := key("linkzu", l.Tenant, l.ZohoUser)
	v := mustJSON(reverse{Extension: l.Extension, At: l.LinkedAt})
	rev, err := s.dir.Create(ctx, rk, v)
	if !isExists(err) {
		return rev, err
	}
	cur, crev, err := s.reverse(ctx, l.Tenant, l.ZohoUser)
	if errors.Is(err, store.ErrNotFound) { // unlinked meanwhile
		rev, err = s.dir.Create(ctx, rk, v)
		if isExists(err) {
			return 0, fmt.Errorf("Zoho user %s is being linked: %w", l.ZohoUser, store.ErrConflict)
		}
		return rev, err
	}
	if err != nil {
		return 0, err
	}
	taken := fmt.Errorf("Zoho user %s is linked to extension %s: %w", l.ZohoUser, cur.Extension, store.ErrConflict)
	if s.now().Sub(cur.At) < reservationLease {
		return 0, taken // linked just now, or a Link in progress
	}
	if f, _, err := s.forward(ctx, l.Tenant, cur.Extension); err == nil && f.ZohoUser == l.ZohoUser {
		return 0, taken
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	// A leftover of a crash: take it over, if nobody else did.
	rev, err = s.dir.Update(ctx, rk, v, crev)
	if isMismatch(err) {
		return 0, fmt.Errorf("Zoho user %s is being linked: %w", l.ZohoUser, store.ErrConflict)
	}
	return rev, err
}

// claimForward creates the forward key of l, taking over a leftover.
func (s *Store) claimForward(ctx context.Context, l store.Link) (uint64, error) {
	fk := key("link", l.Tenant, l.Extension)
	v := mustJSON(l)
	rev, err := s.dir.Create(ctx, fk, v)
	if !isExists(err) {
		return rev, err
	}
	cur, crev, err := s.forward(ctx, l.Tenant, l.Extension)
	if errors.Is(err, store.ErrNotFound) { // unlinked meanwhile
		rev, err = s.dir.Create(ctx, fk, v)
		if isExists(err) {
			return 0, fmt.Errorf("extension %s is being linked: %w", l.Extension, store.ErrConflict)
		}
		return rev, err
	}
	if err != nil {
		return 0, err
	}
	// The reverse key is always written first, so a forward key whose
	// reverse key does not point back is a leftover, never a Link in
	// progress.
	if r, _, err := s.reverse(ctx, l.Tenant, cur.ZohoUser); err == nil && r.Extension == l.Extension {
		return 0, fmt.Errorf("extension %s is linked to Zoho user %s: %w", l.Extension, cur.ZohoUser, store.ErrConflict)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	rev, err = s.dir.Update(ctx, fk, v, crev)
	if isMismatch(err) {
		return 0, fmt.Errorf("extension %s is being linked: %w", l.Extension, store.ErrConflict)
	}
	return rev, err
}

func (s *Store) Unlink(ctx context.Context, tenant, extension string) (store.Link, error) {
	what := tenant + "/" + extension
	for range casAttempts {
		l, frev, err := s.linkByExt(ctx, tenant, extension)
		if err != nil {
			return store.Link{}, fmt.Errorf("natskv: unlink %s: %w", what, err)
		}
		// Deleting the forward key ends the link for every reader.
		err = s.dir.Delete(ctx, key("link", tenant, extension), jetstream.LastRevision(frev))
		if isMismatch(err) {
			continue // switches changed meanwhile
		}
		if err != nil {
			return store.Link{}, fmt.Errorf("natskv: unlink %s: %w", what, err)
		}
		// Best effort: a reverse key left behind is a leftover the next
		// Link of this Zoho user takes over.
		if r, rrev, err := s.reverse(ctx, tenant, l.ZohoUser); err == nil && r.Extension == extension {
			_ = s.dir.Delete(ctx, key("linkzu", tenant, l.ZohoUser), jetstream.LastRevision(rrev))
		}
		return l, nil
	}
	return store.Link{}, fmt.Errorf("natskv: unlink %s: changing too fast: %w", what, store.ErrConflict)
}

func (s *Store) LinkByExtension(ctx context.Context, tenant, extension string) (store.Link, error) {
	l, _, err := s.linkByExt(ctx, tenant, extension)
	if err != nil {
		return store.Link{}, fmt.Errorf("natskv: link of %s/%s: %w", tenant, extension, err)
	}
	return l, nil
}

func (s *Store) LinkByZohoUser(ctx context.Context, tenant, zohoUser string) (store.Link, error) {
	l, err := s.linkByZU(ctx, tenant, zohoUser)
	if err != nil {
		return store.Link{}, fmt.Errorf("natskv: link of Zoho user %s/%s: %w", tenant, zohoUser, err)
	}
	return l, nil
}

func (s *Store) ListLinks(ctx context.Context, tenant string, p store.Page) ([]store.Link, int, error) {
	p, err := p.Norm()
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list links of %s: %w", tenant, err)
	}
	t := escape(tenant)
	fwd, err := values(ctx, s.dir, "link."+t+".*")
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list links of %s: %w", tenant, err)
	}
	rev, err := values(ctx, s.dir, "linkzu."+t+".*")
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list links of %s: %w", tenant, err)
	}
	all, _, err := sortedJSON[store.Link](fwd)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list links of %s: %w", tenant, err)
	}
	valid := all[:0]
	for _, l := range all {
		var r reverse
		if e, ok := rev[key("linkzu", tenant, l.ZohoUser)]; ok && jsonDecode(e, &r) == nil && r.Extension == l.Extension {
			valid = append(valid, l)
		}
	}
	start, end := p.Bounds(len(valid))
	return valid[start:end], len(valid), nil
}

func (s *Store) SetSwitches(ctx context.Context, tenant, extension string, c store.SwitchChange) (store.Link, error) {
	what := tenant + "/" + extension
	for range casAttempts {
		l, frev, err := s.linkByExt(ctx, tenant, extension)
		if err != nil {
			return store.Link{}, fmt.Errorf("natskv: set switches of %s: %w", what, err)
		}
		if l.Switches, err = l.Switches.Apply(c); err != nil {
			return store.Link{}, fmt.Errorf("natskv: set switches of %s: %w", what, err)
		}
		_, err = s.dir.Update(ctx, key("link", tenant, extension), mustJSON(l), frev)
		if isMismatch(err) {
			continue
		}
		if err != nil {
			return store.Link{}, fmt.Errorf("natskv: set switches of %s: %w", what, err)
		}
		return l, nil
	}
	return store.Link{}, fmt.Errorf("natskv: set switches of %s: changing too fast: %w", what, store.ErrConflict)
}
