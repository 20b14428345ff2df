package zoho

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ringside/ringside/pkg/store"
)

// memStore is an in-memory stand-in for the store parts the adapter uses
// (the real stores are adapters of their own; integration/sim/zoho runs
// the adapter on the embedded store).
type memStore struct {
	mu      sync.Mutex
	tenants map[string]store.Tenant
	links   map[string]store.Link
	cache   map[string]entry
	keys    map[string]entry
	claims  map[string]time.Time
	fail    error // every call fails with it when set
}

type entry struct {
	v   []byte
	exp time.Time
}

func newMemStore() *memStore {
	return &memStore{tenants: map[string]store.Tenant{}, links: map[string]store.Link{}, cache: map[string]entry{},
		keys: map[string]entry{}, claims: map[string]time.Time{}}
}

func (m *memStore) Tenant(_ context.Context, id string) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tenants[id]
	if !ok {
		return t, fmt.Errorf("tenant %s: %w", id, store.ErrNotFound)
	}
	return t, nil
}

func (m *memStore) UpdateTenant(_ context.Context, t store.Tenant) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.tenants[t.ID]
	if !ok {
		return t, store.ErrNotFound
	}
	if old.Version != t.Version {
		return t, store.ErrConflict
	}
	t.Version++
	m.tenants[t.ID] = t
	return t, nil
}

func (m *memStore) putTenant(t store.Tenant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants[t.ID] = t
}

func (m *memStore) LinkByExtension(_ context.Context, tenant, ext string) (store.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[tenant+"/"+ext]
	if !ok {
		return l, store.ErrNotFound
	}
	return l, nil
}

func (m *memStore) link(l store.Link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links[l.Tenant+"/"+l.Extension] = l
}

func (m *memStore) get(mp map[string]entry, k string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	e, ok := mp[k]
	if !ok || time.Now().After(e.exp) {
		return nil, store.ErrNotFound
	}
	return e.v, nil
}

func (m *memStore) put(mp map[string]entry, k string, v []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if ttl <= 0 {
		return store.ErrInvalid
	}
	mp[k] = entry{v: v, exp: time.Now().Add(ttl)}
	return nil
}

func (m *memStore) GetLookup(_ context.Context, t, n string) ([]byte, error) {
	return m.get(m.cache, t+"/"+n)
}
func (m *memStore) PutLookup(_ context.Context, t, n string, v []byte, ttl time.Duration) error {
	return m.put(m.cache, t+"/"+n, v, ttl)
}
func (m *memStore) DeleteLookup(_ context.Context, t, n string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cache, t+"/"+n)
	return nil
}
func (m *memStore) GetRecord(_ context.Context, k string) (string, error) {
	v, err := m.get(m.keys, k)
	return string(v), err
}
func (m *memStore) PutRecord(_ context.Context, k, v string, ttl time.Duration) error {
	return m.put(m.keys, k, []byte(v), ttl)
}
func (m *memStore) Claim(_ context.Context, k string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	if exp, ok := m.claims[k]; ok && time.Now().Before(exp) {
		return false, nil
	}
	m.claims[k] = time.Now().Add(ttl)
	return true, nil
}
func (m *memStore) Release(_ context.Context, k string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, k)
	return nil
}
