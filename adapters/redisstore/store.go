// Package redisstore implements the store contract (pkg/store) on Redis with
// go-redis/v9. It is the store of a scaled-out Ringside: every node shares
// it.
//
// Key layout, with P the configured prefix ("ringside:"), t a tenant id, n
// an extension number, zu a Zoho user id. Tenant ids have no dots
// (events.ValidToken), so "<t>.<n>" is unambiguous.
//
//	P{dir}:tenants            sorted set of tenant ids
//	P{dir}:tenant:<t>         tenant (JSON)
//	P{dir}:exts:<t>           sorted set of the tenant's extension numbers
//	P{dir}:ext:<t>.<n>        extension (JSON)
//	P{dir}:links:<t>          sorted set of linked extension numbers
//	P{dir}:link:<t>.<n>       link (JSON), by extension
//	P{dir}:linkzu:<t>.<zu>    extension number, by Zoho user
//	P{dir}:term:<t>.<n>       default terminal (JSON)
//	P{dir}:accounts           sorted set of usernames
//	P{dir}:account:<user>     admin account (JSON)
//	P{dir}:session:<id>       session (JSON), expires at its ExpiresAt
//	P{dir}:sessions:<user>    set of the account's session ids
//	Plookup:<t>.<number>      lookup-cache value, native TTL
//	Pclaim:<key>              idempotency claim, native TTL (SET NX PX)
//	Precord:<key>             record id, native TTL
//	P{audit}:all              list of every audit entry (JSON), newest first
//	P{audit}:tenant:<t>       list of the tenant's audit entries (JSON), newest first
//	P{dir}:webhooks           sorted set of "<t>.<id>", every webhook subscription
//	P{dir}:webhook:<t>.<id>   webhook subscription (JSON)
//	Pdeliveries:<t>.<id>      list of its delivery attempts (JSON), newest first
//
// Sorted sets hold every member at score 0, so they order bytewise and page
// with ZRANGE offset, offset+limit-1. Multi-key changes are Lua scripts
// (scripts.go explains why). The audit lists are pushed at the head and
// trimmed to store.AuditKeep in one script, and page with LRANGE; they
// outlive their tenant (DeleteTenant leaves them). A webhook subscription
// id has no dots, so one index of "<t>.<id>" serves both listings (a
// tenant's is a lexicographic range); a delivery log is trimmed to
// store.DeliveryKeep and goes with its subscription or tenant.
package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ringside/ringside/pkg/store"
)

var _ store.Store = (*Store)(nil)

// Store is the Redis store. It does not own the client: the caller closes it.
type Store struct {
	c      redis.UniversalClient
	prefix string
	dir    string // prefix + "{dir}:"
	now    func() time.Time
}

// New returns a store keeping its keys under prefix (e.g. "ringside:").
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{c: client, prefix: prefix, dir: prefix + "{dir}:", now: func() time.Time { return time.Now().UTC() }}
}

// readyTimeout bounds Ready: readiness checks must not block.
const readyTimeout = 2 * time.Second

// Ready pings Redis: nil when it answers.
func (s *Store) Ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Keys.

func (s *Store) tenantsKey() string            { return s.dir + "tenants" }
func (s *Store) tenantKey(t string) string     { return s.dir + "tenant:" + t }
func (s *Store) extsKey(t string) string       { return s.dir + "exts:" + t }
func (s *Store) extKey(t, n string) string     { return s.dir + "ext:" + t + "." + n }
func (s *Store) linksKey(t string) string      { return s.dir + "links:" + t }
func (s *Store) linkKey(t, n string) string    { return s.dir + "link:" + t + "." + n }
func (s *Store) linkZUKey(t, zu string) string { return s.dir + "linkzu:" + t + "." + zu }
func (s *Store) termKey(t, n string) string    { return s.dir + "term:" + t + "." + n }
func (s *Store) accountsKey() string           { return s.dir + "accounts" }
func (s *Store) accountKey(u string) string    { return s.dir + "account:" + u }
func (s *Store) sessionPrefix() string         { return s.dir + "session:" }
func (s *Store) sessionsKey(u string) string   { return s.dir + "sessions:" + u }
func (s *Store) lookupKey(t, n string) string  { return s.prefix + "lookup:" + t + "." + n }
func (s *Store) claimKey(k string) string      { return s.prefix + "claim:" + k }
func (s *Store) recordKey(k string) string     { return s.prefix + "record:" + k }

func (s *Store) webhooksKey() string               { return s.dir + "webhooks" }
func (s *Store) webhookKey(t, id string) string    { return s.dir + "webhook:" + t + "." + id }
func (s *Store) deliveriesKey(t, id string) string { return s.prefix + "deliveries:" + t + "." + id }

// auditKey is the audit list of tenant t, or of all tenants when t is "".
func (s *Store) auditKey(t string) string {
	if t == "" {
		return s.prefix + "{audit}:all"
	}
	return s.prefix + "{audit}:tenant:" + t
}

// Helpers.

// get reads one JSON document into v; ErrNotFound when absent. It returns
// the raw value for a later compare-and-set.
func (s *Store) get(ctx context.Context, key string, v any) (string, error) {
	raw, err := s.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return "", fmt.Errorf("decode %s: %w", key, err)
	}
	return raw, nil
}

// page reads one page of a sorted index and the documents it names.
func page[T any](ctx context.Context, s *Store, index string, p store.Page, docKey func(member string) string) ([]T, int, error) {
	p, err := p.Norm()
	if err != nil {
		return nil, 0, err
	}
	var members *redis.StringSliceCmd
	var card *redis.IntCmd
	if _, err := s.c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		card = pipe.ZCard(ctx, index)
		members = pipe.ZRange(ctx, index, int64(p.Offset), int64(p.Offset+p.Limit-1))
		return nil
	}); err != nil {
		return nil, 0, err
	}
	out, err := mget[T](ctx, s, members.Val(), docKey)
	return out, int(card.Val()), err
}

// mget reads the documents of members, skipping any deleted meanwhile.
func mget[T any](ctx context.Context, s *Store, members []string, docKey func(string) string) ([]T, error) {
	out := make([]T, 0, len(members))
	if len(members) == 0 {
		return out, nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = docKey(m)
	}
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var doc T
		if err := json.Unmarshal([]byte(str), &doc); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keys[i], err)
		}
		out = append(out, doc)
	}
	return out, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only unsupported types fail, and the store types have none.
		panic(fmt.Sprintf("redisstore: encode %T: %v", v, err))
	}
	return string(b)
}

// firstVersion is the Version of a new document: the creation time, so a
// tenant or account deleted and created again does not restart at a version
// a stale writer may still hold. Each update adds one.
func firstVersion(now time.Time) uint64 { return uint64(now.UnixNano()) }

func ms(d time.Duration) time.Duration { return max(d, time.Millisecond) }

// Tenants.

func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	t = t.Normalize()
	if err := t.Validate(); err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: create tenant: %w", err)
	}
	now := s.now()
	t.Version, t.CreatedAt, t.UpdatedAt = firstVersion(now), now, now
	r, err := createScript.Run(ctx, s.c, []string{s.tenantKey(t.ID), s.tenantsKey(), s.tenantKey(t.ID)}, mustJSON(t), t.ID, "0").Int()
	if err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: create tenant %s: %w", t.ID, err)
	}
	if r == 0 {
		return store.Tenant{}, fmt.Errorf("redisstore: create tenant %s: exists: %w", t.ID, store.ErrConflict)
	}
	return t, nil
}

func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	var t store.Tenant
	if _, err := s.get(ctx, s.tenantKey(id), &t); err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: tenant %s: %w", id, err)
	}
	return t, nil
}

func (s *Store) UpdateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	t = t.Normalize()
	if err := t.Validate(); err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: update tenant: %w", err)
	}
	var cur store.Tenant
	raw, err := s.get(ctx, s.tenantKey(t.ID), &cur)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: update tenant %s: %w", t.ID, err)
	}
	if cur.Version != t.Version {
		return store.Tenant{}, fmt.Errorf("redisstore: update tenant %s: version %d, stored %d: %w", t.ID, t.Version, cur.Version, store.ErrConflict)
	}
	t.Version, t.CreatedAt, t.UpdatedAt = cur.Version+1, cur.CreatedAt, s.now()
	if err := s.cas(ctx, s.tenantKey(t.ID), raw, mustJSON(t)); err != nil {
		return store.Tenant{}, fmt.Errorf("redisstore: update tenant %s: %w", t.ID, err)
	}
	return t, nil
}

// cas writes next over key if it still holds raw.
func (s *Store) cas(ctx context.Context, key, raw, next string) error {
	r, err := casScript.Run(ctx, s.c, []string{key}, raw, next).Int()
	switch {
	case err != nil:
		return err
	case r == -1:
		return store.ErrNotFound
	case r == 0:
		return fmt.Errorf("changed meanwhile: %w", store.ErrConflict)
	}
	return nil
}

func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	r, err := deleteTenantScript.Run(ctx, s.c,
		[]string{s.tenantKey(id), s.tenantsKey(), s.extsKey(id), s.linksKey(id), s.webhooksKey()}, s.dir, id).Result()
	if err != nil {
		return fmt.Errorf("redisstore: delete tenant %s: %w", id, err)
	}
	hooks, ok := r.([]any)
	if !ok {
		return fmt.Errorf("redisstore: delete tenant %s: %w", id, store.ErrNotFound)
	}
	if len(hooks) > 0 {
		logs := make([]string, len(hooks))
		for i, m := range hooks {
			member, _ := m.(string)
			logs[i] = s.prefix + "deliveries:" + member
		}
		if err := s.c.Del(ctx, logs...).Err(); err != nil {
			return fmt.Errorf("redisstore: delete tenant %s: webhook delivery logs: %w", id, err)
		}
	}
	return nil
}

func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	ids, err := s.c.ZRange(ctx, s.tenantsKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list tenants: %w", err)
	}
	out, err := mget[store.Tenant](ctx, s, ids, s.tenantKey)
	if err != nil {
		return nil, fmt.Errorf("redisstore: list tenants: %w", err)
	}
	return out, nil
}

// Extensions.

func (s *Store) UpsertExtension(ctx context.Context, e store.Extension) (store.Extension, error) {
	if err := e.Validate(); err != nil {
		return store.Extension{}, fmt.Errorf("redisstore: upsert extension: %w", err)
	}
	e.UpdatedAt = s.now()
	r, err := putIfParentScript.Run(ctx, s.c,
		[]string{s.tenantKey(e.Tenant), s.extKey(e.Tenant, e.Number), s.extsKey(e.Tenant)}, mustJSON(e), e.Number).Int()
	if err != nil {
		return store.Extension{}, fmt.Errorf("redisstore: upsert extension %s/%s: %w", e.Tenant, e.Number, err)
	}
	if r == -1 {
		return store.Extension{}, fmt.Errorf("redisstore: upsert extension %s/%s: tenant %s: %w", e.Tenant, e.Number, e.Tenant, store.ErrNotFound)
	}
	return e, nil
}

func (s *Store) Extension(ctx context.Context, tenant, number string) (store.Extension, error) {
	var e store.Extension
	if _, err := s.get(ctx, s.extKey(tenant, number), &e); err != nil {
		return store.Extension{}, fmt.Errorf("redisstore: extension %s/%s: %w", tenant, number, err)
	}
	return e, nil
}

func (s *Store) ListExtensions(ctx context.Context, tenant string, p store.Page) ([]store.Extension, int, error) {
	out, total, err := page[store.Extension](ctx, s, s.extsKey(tenant), p, func(n string) string { return s.extKey(tenant, n) })
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: list extensions of %s: %w", tenant, err)
	}
	return out, total, nil
}

func (s *Store) DeleteExtension(ctx context.Context, tenant, number string) error {
	r, err := deleteExtScript.Run(ctx, s.c, []string{
		s.extKey(tenant, number), s.extsKey(tenant), s.linkKey(tenant, number), s.termKey(tenant, number),
	}, number).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: delete extension %s/%s: %w", tenant, number, err)
	case r == -1:
		return fmt.Errorf("redisstore: delete extension %s/%s: %w", tenant, number, store.ErrNotFound)
	case r == 0:
		return fmt.Errorf("redisstore: delete extension %s/%s: linked to a Zoho user, unlink first: %w", tenant, number, store.ErrConflict)
	}
	return nil
}

// Links.

func (s *Store) Link(ctx context.Context, l store.Link) (store.Link, error) {
	if err := l.Validate(); err != nil {
		return store.Link{}, fmt.Errorf("redisstore: link: %w", err)
	}
	l.LinkedAt = s.now()
	what := l.Tenant + "/" + l.Extension + " to Zoho user " + l.ZohoUser
	res, err := linkScript.Run(ctx, s.c, []string{
		s.extKey(l.Tenant, l.Extension), s.linkKey(l.Tenant, l.Extension), s.linkZUKey(l.Tenant, l.ZohoUser), s.linksKey(l.Tenant),
	}, mustJSON(l), l.Extension).StringSlice()
	if err != nil {
		return store.Link{}, fmt.Errorf("redisstore: link %s: %w", what, err)
	}
	switch res[0] {
	case "ok":
		return l, nil
	case "noext":
		return store.Link{}, fmt.Errorf("redisstore: link %s: extension %s: %w", what, l.Extension, store.ErrNotFound)
	case "ext":
		var cur store.Link
		_ = json.Unmarshal([]byte(res[1]), &cur)
		return store.Link{}, fmt.Errorf("redisstore: link %s: extension %s is linked to Zoho user %s: %w", what, l.Extension, cur.ZohoUser, store.ErrConflict)
	default: // "zu"
		return store.Link{}, fmt.Errorf("redisstore: link %s: Zoho user %s is linked to extension %s: %w", what, l.ZohoUser, res[1], store.ErrConflict)
	}
}

// casAttempts bounds the retries of a compare-and-set that lost a race.
const casAttempts = 16

func (s *Store) Unlink(ctx context.Context, tenant, extension string) (store.Link, error) {
	for range casAttempts {
		var l store.Link
		raw, err := s.get(ctx, s.linkKey(tenant, extension), &l)
		if err != nil {
			return store.Link{}, fmt.Errorf("redisstore: unlink %s/%s: %w", tenant, extension, err)
		}
		r, err := unlinkScript.Run(ctx, s.c, []string{
			s.linkKey(tenant, extension), s.linkZUKey(tenant, l.ZohoUser), s.linksKey(tenant),
		}, raw, extension).Int()
		switch {
		case err != nil:
			return store.Link{}, fmt.Errorf("redisstore: unlink %s/%s: %w", tenant, extension, err)
		case r == -1:
			return store.Link{}, fmt.Errorf("redisstore: unlink %s/%s: %w", tenant, extension, store.ErrNotFound)
		case r == 1:
			return l, nil
		}
	}
	return store.Link{}, fmt.Errorf("redisstore: unlink %s/%s: changing too fast: %w", tenant, extension, store.ErrConflict)
}

func (s *Store) LinkByExtension(ctx context.Context, tenant, extension string) (store.Link, error) {
	var l store.Link
	if _, err := s.get(ctx, s.linkKey(tenant, extension), &l); err != nil {
		return store.Link{}, fmt.Errorf("redisstore: link of %s/%s: %w", tenant, extension, err)
	}
	return l, nil
}

func (s *Store) LinkByZohoUser(ctx context.Context, tenant, zohoUser string) (store.Link, error) {
	ext, err := s.c.Get(ctx, s.linkZUKey(tenant, zohoUser)).Result()
	if errors.Is(err, redis.Nil) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Link{}, fmt.Errorf("redisstore: link of Zoho user %s/%s: %w", tenant, zohoUser, err)
	}
	var l store.Link
	if _, err := s.get(ctx, s.linkKey(tenant, ext), &l); err != nil {
		return store.Link{}, fmt.Errorf("redisstore: link of Zoho user %s/%s: %w", tenant, zohoUser, err)
	}
	if l.ZohoUser != zohoUser { // relinked between the two reads
		return store.Link{}, fmt.Errorf("redisstore: link of Zoho user %s/%s: %w", tenant, zohoUser, store.ErrNotFound)
	}
	return l, nil
}

func (s *Store) ListLinks(ctx context.Context, tenant string, p store.Page) ([]store.Link, int, error) {
	out, total, err := page[store.Link](ctx, s, s.linksKey(tenant), p, func(n string) string { return s.linkKey(tenant, n) })
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: list links of %s: %w", tenant, err)
	}
	return out, total, nil
}

func (s *Store) SetSwitches(ctx context.Context, tenant, extension string, c store.SwitchChange) (store.Link, error) {
	for range casAttempts {
		var l store.Link
		raw, err := s.get(ctx, s.linkKey(tenant, extension), &l)
		if err != nil {
			return store.Link{}, fmt.Errorf("redisstore: set switches of %s/%s: %w", tenant, extension, err)
		}
		if l.Switches, err = l.Switches.Apply(c); err != nil {
			return store.Link{}, fmt.Errorf("redisstore: set switches of %s/%s: %w", tenant, extension, err)
		}
		err = s.cas(ctx, s.linkKey(tenant, extension), raw, mustJSON(l))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Link{}, fmt.Errorf("redisstore: set switches of %s/%s: %w", tenant, extension, err)
		}
	}
	return store.Link{}, fmt.Errorf("redisstore: set switches of %s/%s: changing too fast: %w", tenant, extension, store.ErrConflict)
}

// Terminals.

func (s *Store) SetTerminal(ctx context.Context, t store.Terminal) (store.Terminal, error) {
	if err := t.Validate(); err != nil {
		return store.Terminal{}, fmt.Errorf("redisstore: set terminal: %w", err)
	}
	t.SetAt = s.now()
	key := s.termKey(t.Tenant, t.Extension)
	r, err := putIfParentScript.Run(ctx, s.c, []string{s.extKey(t.Tenant, t.Extension), key, key}, mustJSON(t), "").Int()
	if err != nil {
		return store.Terminal{}, fmt.Errorf("redisstore: set terminal of %s/%s: %w", t.Tenant, t.Extension, err)
	}
	if r == -1 {
		return store.Terminal{}, fmt.Errorf("redisstore: set terminal of %s/%s: extension: %w", t.Tenant, t.Extension, store.ErrNotFound)
	}
	return t, nil
}

func (s *Store) Terminal(ctx context.Context, tenant, extension string) (store.Terminal, error) {
	var t store.Terminal
	if _, err := s.get(ctx, s.termKey(tenant, extension), &t); err != nil {
		return store.Terminal{}, fmt.Errorf("redisstore: terminal of %s/%s: %w", tenant, extension, err)
	}
	return t, nil
}

func (s *Store) ResetTerminal(ctx context.Context, tenant, extension string) error {
	if err := s.c.Del(ctx, s.termKey(tenant, extension)).Err(); err != nil {
		return fmt.Errorf("redisstore: reset terminal of %s/%s: %w", tenant, extension, err)
	}
	return nil
}

// Cache.

func (s *Store) GetLookup(ctx context.Context, tenant, number string) ([]byte, error) {
	v, err := s.c.Get(ctx, s.lookupKey(tenant, number)).Bytes()
	if errors.Is(err, redis.Nil) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: lookup %s/%s: %w", tenant, number, err)
	}
	return v, nil
}

func (s *Store) PutLookup(ctx context.Context, tenant, number string, value []byte, ttl time.Duration) error {
	if err := store.CheckLookup(tenant, number, ttl); err != nil {
		return fmt.Errorf("redisstore: put lookup: %w", err)
	}
	if err := s.c.Set(ctx, s.lookupKey(tenant, number), value, ms(ttl)).Err(); err != nil {
		return fmt.Errorf("redisstore: put lookup %s/%s: %w", tenant, number, err)
	}
	return nil
}

func (s *Store) DeleteLookup(ctx context.Context, tenant, number string) error {
	if err := s.c.Del(ctx, s.lookupKey(tenant, number)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete lookup %s/%s: %w", tenant, number, err)
	}
	return nil
}

// Keys.

func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(key); err != nil {
		return false, fmt.Errorf("redisstore: claim: %w", err)
	}
	if err := store.CheckTTL(ttl); err != nil {
		return false, fmt.Errorf("redisstore: claim %s: %w", key, err)
	}
	ok, err := s.c.SetNX(ctx, s.claimKey(key), "1", ms(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: claim %s: %w", key, err)
	}
	return ok, nil
}

func (s *Store) Release(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.claimKey(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: release %s: %w", key, err)
	}
	return nil
}

func (s *Store) PutRecord(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := store.CheckKey(key); err != nil {
		return fmt.Errorf("redisstore: put record: %w", err)
	}
	if err := store.CheckTTL(ttl); err != nil {
		return fmt.Errorf("redisstore: put record %s: %w", key, err)
	}
	if err := s.c.Set(ctx, s.recordKey(key), value, ms(ttl)).Err(); err != nil {
		return fmt.Errorf("redisstore: put record %s: %w", key, err)
	}
	return nil
}

func (s *Store) GetRecord(ctx context.Context, key string) (string, error) {
	v, err := s.c.Get(ctx, s.recordKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		err = store.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redisstore: record %s: %w", key, err)
	}
	return v, nil
}

// Accounts.

func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if err := a.Validate(); err != nil {
		return store.Account{}, fmt.Errorf("redisstore: create account: %w", err)
	}
	now := s.now()
	a.Version, a.CreatedAt, a.UpdatedAt = firstVersion(now), now, now
	need, parent := "0", s.accountKey(a.Username)
	if a.Role == store.RoleAdmin {
		need, parent = "1", s.tenantKey(a.Tenant)
	}
	r, err := createScript.Run(ctx, s.c, []string{s.accountKey(a.Username), s.accountsKey(), parent}, mustJSON(a), a.Username, need).Int()
	switch {
	case err != nil:
		return store.Account{}, fmt.Errorf("redisstore: create account %s: %w", a.Username, err)
	case r == -1:
		return store.Account{}, fmt.Errorf("redisstore: create account %s: tenant %s: %w", a.Username, a.Tenant, store.ErrNotFound)
	case r == 0:
		return store.Account{}, fmt.Errorf("redisstore: create account %s: exists: %w", a.Username, store.ErrConflict)
	}
	return a, nil
}

func (s *Store) Account(ctx context.Context, username string) (store.Account, error) {
	var a store.Account
	if _, err := s.get(ctx, s.accountKey(username), &a); err != nil {
		return store.Account{}, fmt.Errorf("redisstore: account %s: %w", username, err)
	}
	return a, nil
}

func (s *Store) UpdateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if err := a.Validate(); err != nil {
		return store.Account{}, fmt.Errorf("redisstore: update account: %w", err)
	}
	var cur store.Account
	raw, err := s.get(ctx, s.accountKey(a.Username), &cur)
	if err != nil {
		return store.Account{}, fmt.Errorf("redisstore: update account %s: %w", a.Username, err)
	}
	if cur.Version != a.Version {
		return store.Account{}, fmt.Errorf("redisstore: update account %s: version %d, stored %d: %w", a.Username, a.Version, cur.Version, store.ErrConflict)
	}
	a.Version, a.CreatedAt, a.UpdatedAt = cur.Version+1, cur.CreatedAt, s.now()
	if err := s.cas(ctx, s.accountKey(a.Username), raw, mustJSON(a)); err != nil {
		return store.Account{}, fmt.Errorf("redisstore: update account %s: %w", a.Username, err)
	}
	return a, nil
}

func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	r, err := deleteAccountScript.Run(ctx, s.c, []string{s.accountKey(username), s.accountsKey(), s.sessionsKey(username)},
		username, s.sessionPrefix()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: delete account %s: %w", username, err)
	}
	if r == -1 {
		return fmt.Errorf("redisstore: delete account %s: %w", username, store.ErrNotFound)
	}
	return nil
}

func (s *Store) ListAccounts(ctx context.Context, tenant string) ([]store.Account, error) {
	names, err := s.c.ZRange(ctx, s.accountsKey(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list accounts: %w", err)
	}
	all, err := mget[store.Account](ctx, s, names, s.accountKey)
	if err != nil {
		return nil, fmt.Errorf("redisstore: list accounts: %w", err)
	}
	if tenant == "" {
		return all, nil
	}
	out := all[:0]
	for _, a := range all {
		if a.Tenant == tenant {
			out = append(out, a)
		}
	}
	return out, nil
}

// Sessions.

func (s *Store) CreateSession(ctx context.Context, ses store.Session) (store.Session, error) {
	now := s.now()
	if err := ses.Validate(now); err != nil {
		return store.Session{}, fmt.Errorf("redisstore: create session: %w", err)
	}
	ses.CreatedAt, ses.ExpiresAt = now, ses.ExpiresAt.UTC()
	r, err := createSessionScript.Run(ctx, s.c,
		[]string{s.accountKey(ses.Username), s.sessionPrefix() + ses.ID, s.sessionsKey(ses.Username)},
		mustJSON(ses), ses.ID, ses.ExpiresAt.UnixMilli(), s.sessionPrefix()).Int()
	switch {
	case err != nil:
		return store.Session{}, fmt.Errorf("redisstore: create session of %s: %w", ses.Username, err)
	case r == -1:
		return store.Session{}, fmt.Errorf("redisstore: create session of %s: account: %w", ses.Username, store.ErrNotFound)
	case r == 0:
		return store.Session{}, fmt.Errorf("redisstore: create session of %s: id exists: %w", ses.Username, store.ErrConflict)
	}
	return ses, nil
}

func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	var ses store.Session
	_, err := s.get(ctx, s.sessionPrefix()+id, &ses)
	if err == nil && ses.Expired(s.now()) {
		err = store.ErrNotFound // Redis expires at millisecond precision; be exact
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: session: %w", err)
	}
	return ses, nil
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	// The id stays in its account's set until the next CreateSession or
	// DeleteSessions prunes it.
	if err := s.c.Del(ctx, s.sessionPrefix()+id).Err(); err != nil {
		return fmt.Errorf("redisstore: delete session: %w", err)
	}
	return nil
}

func (s *Store) DeleteSessions(ctx context.Context, username string) (int, error) {
	n, err := deleteSessionsScript.Run(ctx, s.c, []string{s.sessionsKey(username)}, s.sessionPrefix()).Int()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete sessions of %s: %w", username, err)
	}
	return n, nil
}

// Audit.

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if err := e.Validate(); err != nil {
		return store.AuditEntry{}, fmt.Errorf("redisstore: append audit: %w", err)
	}
	e.Time = s.now()
	keys := []string{s.auditKey("")}
	if e.Tenant != "" {
		keys = append(keys, s.auditKey(e.Tenant))
	}
	if err := appendAuditScript.Run(ctx, s.c, keys, mustJSON(e), store.AuditKeep).Err(); err != nil {
		return store.AuditEntry{}, fmt.Errorf("redisstore: append audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

func (s *Store) ListAudit(ctx context.Context, tenant string, p store.Page) ([]store.AuditEntry, int, error) {
	what := "audit"
	if tenant != "" {
		what = "audit of " + tenant
	}
	return listJSON[store.AuditEntry](ctx, s.c, s.auditKey(tenant), what, p)
}

// Webhooks.

func (s *Store) CreateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, fmt.Errorf("redisstore: create webhook: %w", err)
	}
	what := w.Tenant + "/" + w.ID
	now := s.now()
	w.Version, w.CreatedAt, w.UpdatedAt = firstVersion(now), now, now
	r, err := createScript.Run(ctx, s.c, []string{s.webhookKey(w.Tenant, w.ID), s.webhooksKey(), s.tenantKey(w.Tenant)},
		mustJSON(w), w.Tenant+"."+w.ID, "1").Int()
	switch {
	case err != nil:
		return store.Webhook{}, fmt.Errorf("redisstore: create webhook %s: %w", what, err)
	case r == -1:
		return store.Webhook{}, fmt.Errorf("redisstore: create webhook %s: tenant %s: %w", what, w.Tenant, store.ErrNotFound)
	case r == 0:
		return store.Webhook{}, fmt.Errorf("redisstore: create webhook %s: exists: %w", what, store.ErrConflict)
	}
	return w, nil
}

func (s *Store) Webhook(ctx context.Context, tenant, id string) (store.Webhook, error) {
	var w store.Webhook
	if _, err := s.get(ctx, s.webhookKey(tenant, id), &w); err != nil {
		return store.Webhook{}, fmt.Errorf("redisstore: webhook %s/%s: %w", tenant, id, err)
	}
	return w, nil
}

func (s *Store) ListWebhooks(ctx context.Context, tenant string) ([]store.Webhook, error) {
	what := "webhooks"
	var members []string
	var err error
	if tenant == "" {
		members, err = s.c.ZRange(ctx, s.webhooksKey(), 0, -1).Result()
	} else {
		what = "webhooks of " + tenant
		members, err = s.c.ZRangeByLex(ctx, s.webhooksKey(), &redis.ZRangeBy{Min: "[" + tenant + ".", Max: "(" + tenant + "/"}).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %s: %w", what, err)
	}
	out, err := mget[store.Webhook](ctx, s, members, func(m string) string { return s.dir + "webhook:" + m })
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %s: %w", what, err)
	}
	slices.SortFunc(out, func(a, b store.Webhook) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Store) UpdateWebhook(ctx context.Context, w store.Webhook) (store.Webhook, error) {
	if err := w.Validate(); err != nil {
		return store.Webhook{}, fmt.Errorf("redisstore: update webhook: %w", err)
	}
	what := w.Tenant + "/" + w.ID
	var cur store.Webhook
	raw, err := s.get(ctx, s.webhookKey(w.Tenant, w.ID), &cur)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("redisstore: update webhook %s: %w", what, err)
	}
	if cur.Version != w.Version {
		return store.Webhook{}, fmt.Errorf("redisstore: update webhook %s: version %d, stored %d: %w", what, w.Version, cur.Version, store.ErrConflict)
	}
	w.Version, w.CreatedAt, w.UpdatedAt = cur.Version+1, cur.CreatedAt, s.now()
	if err := s.cas(ctx, s.webhookKey(w.Tenant, w.ID), raw, mustJSON(w)); err != nil {
		return store.Webhook{}, fmt.Errorf("redisstore: update webhook %s: %w", what, err)
	}
	return w, nil
}

func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	what := tenant + "/" + id
	r, err := deleteWebhookScript.Run(ctx, s.c, []string{s.webhookKey(tenant, id), s.webhooksKey()}, tenant+"."+id).Int()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: delete webhook %s: %w", what, err)
	case r == -1:
		return fmt.Errorf("redisstore: delete webhook %s: %w", what, store.ErrNotFound)
	}
	if err := s.c.Del(ctx, s.deliveriesKey(tenant, id)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete webhook %s: delivery log: %w", what, err)
	}
	return nil
}

func (s *Store) AppendDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	if err := d.Validate(); err != nil {
		return store.Delivery{}, fmt.Errorf("redisstore: append delivery: %w", err)
	}
	d.Time = d.Time.UTC()
	k := s.deliveriesKey(d.Tenant, d.Webhook)
	if _, err := s.c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.LPush(ctx, k, mustJSON(d))
		pipe.LTrim(ctx, k, 0, store.DeliveryKeep-1)
		return nil
	}); err != nil {
		return store.Delivery{}, fmt.Errorf("redisstore: append delivery to %s/%s: %w", d.Tenant, d.Webhook, err)
	}
	return d, nil
}

func (s *Store) ListDeliveries(ctx context.Context, tenant, id string, p store.Page) ([]store.Delivery, int, error) {
	return listJSON[store.Delivery](ctx, s.c, s.deliveriesKey(tenant, id), "deliveries of "+tenant+"/"+id, p)
}

// listJSON reads one page of a newest-first list of JSON values (the audit
// log, a delivery log) and the list's length, in one transaction.
func listJSON[T any](ctx context.Context, c redis.UniversalClient, k, what string, p store.Page) ([]T, int, error) {
	p, err := p.Norm()
	if err != nil {
		return nil, 0, fmt.Errorf("redisstore: list %s: %w", what, err)
	}
	var n *redis.IntCmd
	var vals *redis.StringSliceCmd
	if _, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		n = pipe.LLen(ctx, k)
		vals = pipe.LRange(ctx, k, int64(p.Offset), int64(p.Offset+p.Limit-1))
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("redisstore: list %s: %w", what, err)
	}
	out := make([]T, len(vals.Val()))
	for i, v := range vals.Val() {
		if err := json.Unmarshal([]byte(v), &out[i]); err != nil {
			return nil, 0, fmt.Errorf("redisstore: list %s: decode %s: %w", what, k, err)
		}
	}
	return out, int(n.Val()), nil
}
