package natskv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// Cache.

func (s *Store) GetLookup(ctx context.Context, tenant, number string) ([]byte, error) {
	v, err := s.getTTL(ctx, s.cache, key("lookup", tenant, number))
	if err != nil {
		return nil, fmt.Errorf("natskv: lookup %s/%s: %w", tenant, number, err)
	}
	return v, nil
}

// getTTL reads an envelope; expired is ErrNotFound.
func (s *Store) getTTL(ctx context.Context, kv jetstream.KeyValue, k string) ([]byte, error) {
	e, err := get(ctx, kv, k)
	if err != nil {
		return nil, err
	}
	v, ok := open(e.Value(), s.now())
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

func (s *Store) PutLookup(ctx context.Context, tenant, number string, value []byte, ttl time.Duration) error {
	if err := store.CheckLookup(tenant, number, ttl); err != nil {
		return fmt.Errorf("natskv: put lookup: %w", err)
	}
	if err := s.putTTL(ctx, s.cache, key("lookup", tenant, number), envelope(s.now().Add(ttl), value), ttl, 0); err != nil {
		return fmt.Errorf("natskv: put lookup %s/%s: %w", tenant, number, err)
	}
	return nil
}

func (s *Store) DeleteLookup(ctx context.Context, tenant, number string) error {
	if err := forget(ctx, s.cache, key("lookup", tenant, number)); err != nil {
		return fmt.Errorf("natskv: delete lookup %s/%s: %w", tenant, number, err)
	}
	return nil
}

// Keys.

func (s *Store) Claim(ctx context.Context, k string, ttl time.Duration) (bool, error) {
	if err := store.CheckKey(k); err != nil {
		return false, fmt.Errorf("natskv: claim: %w", err)
	}
	if err := store.CheckTTL(ttl); err != nil {
		return false, fmt.Errorf("natskv: claim %s: %w", k, err)
	}
	ck := key("claim", k)
	for range 2 {
		v := envelope(s.now().Add(ttl), nil)
		_, err := s.keys.Create(ctx, ck, v, jetstream.KeyTTL(serverTTL(ttl)))
		if err == nil {
			return true, nil
		}
		if !isExists(err) {
			return false, fmt.Errorf("natskv: claim %s: %w", k, err)
		}
		e, err := get(ctx, s.keys, ck)
		if errors.Is(err, store.ErrNotFound) {
			continue // expired or released meanwhile: try again
		}
		if err != nil {
			return false, fmt.Errorf("natskv: claim %s: %w", k, err)
		}
		if _, live := open(e.Value(), s.now()); live {
			return false, nil
		}
		// Expired, and the server has not removed it yet (it counts whole
		// seconds): take it over unless someone else does first.
		err = s.putTTL(ctx, s.keys, ck, v, ttl, e.Revision())
		if isWrongSeq(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("natskv: claim %s: %w", k, err)
		}
		return true, nil
	}
	return false, nil
}

func (s *Store) Release(ctx context.Context, k string) error {
	if err := store.CheckKey(k); err != nil {
		return fmt.Errorf("natskv: release: %w", err)
	}
	if err := forget(ctx, s.keys, key("claim", k)); err != nil {
		return fmt.Errorf("natskv: release %s: %w", k, err)
	}
	return nil
}

func (s *Store) PutRecord(ctx context.Context, k, value string, ttl time.Duration) error {
	if err := store.CheckKey(k); err != nil {
		return fmt.Errorf("natskv: put record: %w", err)
	}
	if err := store.CheckTTL(ttl); err != nil {
		return fmt.Errorf("natskv: put record %s: %w", k, err)
	}
	if err := s.putTTL(ctx, s.keys, key("record", k), envelope(s.now().Add(ttl), []byte(value)), ttl, 0); err != nil {
		return fmt.Errorf("natskv: put record %s: %w", k, err)
	}
	return nil
}

func (s *Store) GetRecord(ctx context.Context, k string) (string, error) {
	v, err := s.getTTL(ctx, s.keys, key("record", k))
	if err != nil {
		return "", fmt.Errorf("natskv: record %s: %w", k, err)
	}
	return string(v), nil
}
