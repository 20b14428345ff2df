package natskv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// casAttempts bounds the retries of a compare-and-set that lost a race.
const casAttempts = 16

// tombstone is the value of a tenant key while the tenant is being deleted:
// the tenant is gone for readers, and its directory keys are being swept.
var tombstone = []byte(`{"deleting":true}`)

// Tenants.

func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	t = t.Normalize()
	if err := t.Validate(); err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: create tenant: %w", err)
	}
	k := key("tenant", t.ID)
	// A tombstone is a delete a crash interrupted: finish it first.
	if e, err := get(ctx, s.dir, k); err == nil {
		if !bytes.Equal(e.Value(), tombstone) {
			return store.Tenant{}, fmt.Errorf("natskv: create tenant %s: exists: %w", t.ID, store.ErrConflict)
		}
		if err := s.finishDelete(ctx, t.ID, e.Revision()); err != nil {
			return store.Tenant{}, fmt.Errorf("natskv: create tenant %s: %w", t.ID, err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, fmt.Errorf("natskv: create tenant %s: %w", t.ID, err)
	}
	now := s.now()
	t.Version, t.CreatedAt, t.UpdatedAt = 0, now, now
	rev, err := s.dir.Create(ctx, k, mustJSON(t))
	if isExists(err) {
		return store.Tenant{}, fmt.Errorf("natskv: create tenant %s: exists: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: create tenant %s: %w", t.ID, err)
	}
	t.Version = rev
	return t, nil
}

// tenant reads a tenant; a tombstone is ErrNotFound.
func (s *Store) tenant(ctx context.Context, id string) (store.Tenant, error) {
	e, err := get(ctx, s.dir, key("tenant", id))
	if err != nil {
		return store.Tenant{}, err
	}
	return decodeTenant(e)
}

func decodeTenant(e jetstream.KeyValueEntry) (store.Tenant, error) {
	if bytes.Equal(e.Value(), tombstone) {
		return store.Tenant{}, store.ErrNotFound
	}
	var t store.Tenant
	if err := jsonDecode(e, &t); err != nil {
		return store.Tenant{}, err
	}
	t.Version = e.Revision()
	return t, nil
}

func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := s.tenant(ctx, id)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: tenant %s: %w", id, err)
	}
	return t, nil
}

func (s *Store) UpdateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	t = t.Normalize()
	if err := t.Validate(); err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: update tenant: %w", err)
	}
	cur, err := s.tenant(ctx, t.ID)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: update tenant %s: %w", t.ID, err)
	}
	if cur.Version != t.Version {
		return store.Tenant{}, fmt.Errorf("natskv: update tenant %s: version %d, stored %d: %w", t.ID, t.Version, cur.Version, store.ErrConflict)
	}
	read := t.Version
	t.Version, t.CreatedAt, t.UpdatedAt = 0, cur.CreatedAt, s.now()
	rev, err := s.dir.Update(ctx, key("tenant", t.ID), mustJSON(t), read)
	if isMismatch(err) {
		return store.Tenant{}, fmt.Errorf("natskv: update tenant %s: changed meanwhile: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return store.Tenant{}, fmt.Errorf("natskv: update tenant %s: %w", t.ID, err)
	}
	t.Version = rev
	return t, nil
}

func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	k := key("tenant", id)
	for range casAttempts {
		e, err := get(ctx, s.dir, k)
		if err == nil && bytes.Equal(e.Value(), tombstone) {
			err = store.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("natskv: delete tenant %s: %w", id, err)
		}
		rev, err := s.dir.Update(ctx, k, tombstone, e.Revision())
		if isMismatch(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("natskv: delete tenant %s: %w", id, err)
		}
		if err := s.finishDelete(ctx, id, rev); err != nil {
			return fmt.Errorf("natskv: delete tenant %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("natskv: delete tenant %s: changing too fast: %w", id, store.ErrConflict)
}

// finishDelete sweeps a tenant's directory keys, links first (so no link
// is ever half visible), and its webhooks' delivery logs, then removes its
// tombstone.
func (s *Store) finishDelete(ctx context.Context, id string, tombRev uint64) error {
	t := escape(id)
	for _, filter := range []string{"link." + t + ".*", "linkzu." + t + ".*", "term." + t + ".*", "ext." + t + ".*", "webhook." + t + ".*"} {
		keys, err := listKeys(ctx, s.dir, filter)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := s.dir.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	if err := s.deliveries.purge(ctx, s.deliverySubject(id, "*")); err != nil {
		return err
	}
	if err := s.dir.Delete(ctx, key("tenant", id), jetstream.LastRevision(tombRev)); err != nil && !isMismatch(err) {
		return err
	}
	return nil
}

func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	entries, err := values(ctx, s.dir, "tenant.*")
	if err != nil {
		return nil, fmt.Errorf("natskv: list tenants: %w", err)
	}
	for k, e := range entries {
		if bytes.Equal(e.Value(), tombstone) {
			delete(entries, k)
		}
	}
	out, revs, err := sortedJSON[store.Tenant](entries)
	if err != nil {
		return nil, fmt.Errorf("natskv: list tenants: %w", err)
	}
	for i := range out {
		out[i].Version = revs[i]
	}
	return out, nil
}

// listKeys returns the keys matching filter.
func listKeys(ctx context.Context, kv jetstream.KeyValue, filter string) ([]string, error) {
	l, err := kv.ListKeysFiltered(ctx, filter)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range l.Keys() {
		out = append(out, k)
	}
	return out, ctx.Err()
}

// Extensions.

func (s *Store) UpsertExtension(ctx context.Context, e store.Extension) (store.Extension, error) {
	if err := e.Validate(); err != nil {
		return store.Extension{}, fmt.Errorf("natskv: upsert extension: %w", err)
	}
	what := e.Tenant + "/" + e.Number
	if _, err := s.tenant(ctx, e.Tenant); err != nil {
		return store.Extension{}, fmt.Errorf("natskv: upsert extension %s: tenant %s: %w", what, e.Tenant, err)
	}
	e.UpdatedAt = s.now()
	k := key("ext", e.Tenant, e.Number)
	if _, err := s.dir.Put(ctx, k, mustJSON(e)); err != nil {
		return store.Extension{}, fmt.Errorf("natskv: upsert extension %s: %w", what, err)
	}
	// The tenant may have been deleted meanwhile; do not leave an orphan.
	if _, err := s.tenant(ctx, e.Tenant); errors.Is(err, store.ErrNotFound) {
		_ = s.dir.Delete(ctx, k)
		return store.Extension{}, fmt.Errorf("natskv: upsert extension %s: tenant %s: %w", what, e.Tenant, err)
	}
	return e, nil
}

func (s *Store) Extension(ctx context.Context, tenant, number string) (store.Extension, error) {
	var e store.Extension
	if _, err := getJSON(ctx, s.dir, key("ext", tenant, number), &e); err != nil {
		return store.Extension{}, fmt.Errorf("natskv: extension %s/%s: %w", tenant, number, err)
	}
	return e, nil
}

func (s *Store) ListExtensions(ctx context.Context, tenant string, p store.Page) ([]store.Extension, int, error) {
	p, err := p.Norm()
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list extensions of %s: %w", tenant, err)
	}
	entries, err := values(ctx, s.dir, "ext."+escape(tenant)+".*")
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list extensions of %s: %w", tenant, err)
	}
	all, _, err := sortedJSON[store.Extension](entries)
	if err != nil {
		return nil, 0, fmt.Errorf("natskv: list extensions of %s: %w", tenant, err)
	}
	start, end := p.Bounds(len(all))
	return all[start:end], len(all), nil
}

func (s *Store) DeleteExtension(ctx context.Context, tenant, number string) error {
	what := tenant + "/" + number
	k := key("ext", tenant, number)
	for range casAttempts {
		e, err := get(ctx, s.dir, k)
		if err != nil {
			return fmt.Errorf("natskv: delete extension %s: %w", what, err)
		}
		if err := s.refuseLinked(ctx, tenant, number); err != nil {
			return fmt.Errorf("natskv: delete extension %s: %w", what, err)
		}
		err = s.dir.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
		if isMismatch(err) {
			continue // rediscovered meanwhile
		}
		if err != nil {
			return fmt.Errorf("natskv: delete extension %s: %w", what, err)
		}
		// A Link that checked the extension before it went may have
		// completed meanwhile: put the extension back and refuse.
		if err := s.refuseLinked(ctx, tenant, number); err != nil {
			_, _ = s.dir.Create(ctx, k, e.Value())
			return fmt.Errorf("natskv: delete extension %s: %w", what, err)
		}
		if err := s.dir.Delete(ctx, key("term", tenant, number)); err != nil {
			return fmt.Errorf("natskv: delete extension %s: terminal: %w", what, err)
		}
		return nil
	}
	return fmt.Errorf("natskv: delete extension %s: changing too fast: %w", what, store.ErrConflict)
}

// refuseLinked is ErrConflict while the extension is linked.
func (s *Store) refuseLinked(ctx context.Context, tenant, number string) error {
	l, _, err := s.linkByExt(ctx, tenant, number)
	switch {
	case err == nil:
		return fmt.Errorf("linked to Zoho user %s, unlink first: %w", l.ZohoUser, store.ErrConflict)
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// Terminals.

func (s *Store) SetTerminal(ctx context.Context, t store.Terminal) (store.Terminal, error) {
	if err := t.Validate(); err != nil {
		return store.Terminal{}, fmt.Errorf("natskv: set terminal: %w", err)
	}
	what := t.Tenant + "/" + t.Extension
	ek := key("ext", t.Tenant, t.Extension)
	if _, err := get(ctx, s.dir, ek); err != nil {
		return store.Terminal{}, fmt.Errorf("natskv: set terminal of %s: extension: %w", what, err)
	}
	t.SetAt = s.now()
	k := key("term", t.Tenant, t.Extension)
	if _, err := s.dir.Put(ctx, k, mustJSON(t)); err != nil {
		return store.Terminal{}, fmt.Errorf("natskv: set terminal of %s: %w", what, err)
	}
	if _, err := get(ctx, s.dir, ek); errors.Is(err, store.ErrNotFound) {
		_ = s.dir.Delete(ctx, k)
		return store.Terminal{}, fmt.Errorf("natskv: set terminal of %s: extension deleted meanwhile: %w", what, err)
	}
	return t, nil
}

func (s *Store) Terminal(ctx context.Context, tenant, extension string) (store.Terminal, error) {
	var t store.Terminal
	if _, err := getJSON(ctx, s.dir, key("term", tenant, extension), &t); err != nil {
		return store.Terminal{}, fmt.Errorf("natskv: terminal of %s/%s: %w", tenant, extension, err)
	}
	return t, nil
}

func (s *Store) ResetTerminal(ctx context.Context, tenant, extension string) error {
	if err := s.dir.Delete(ctx, key("term", tenant, extension)); err != nil {
		return fmt.Errorf("natskv: reset terminal of %s/%s: %w", tenant, extension, err)
	}
	return nil
}

func jsonDecode(e jetstream.KeyValueEntry, v any) error {
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	return nil
}

// lastPart is the unescaped last dot-separated part of a key.
func lastPart(k string) string { return unescape(k[strings.LastIndexByte(k, '.')+1:]) }
