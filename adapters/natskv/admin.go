package natskv

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// Accounts.

func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if err := a.Validate(); err != nil {
		return store.Account{}, fmt.Errorf("natskv: create account: %w", err)
	}
	if a.Role == store.RoleAdmin {
		if _, err := s.tenant(ctx, a.Tenant); err != nil {
			return store.Account{}, fmt.Errorf("natskv: create account %s: tenant %s: %w", a.Username, a.Tenant, err)
		}
	}
	now := s.now()
	a.Version, a.CreatedAt, a.UpdatedAt = 0, now, now
	rev, err := s.admin.Create(ctx, key("account", a.Username), mustJSON(a))
	if isExists(err) {
		return store.Account{}, fmt.Errorf("natskv: create account %s: exists: %w", a.Username, store.ErrConflict)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("natskv: create account %s: %w", a.Username, err)
	}
	a.Version = rev
	return a, nil
}

func (s *Store) account(ctx context.Context, username string) (store.Account, error) {
	var a store.Account
	rev, err := getJSON(ctx, s.admin, key("account", username), &a)
	a.Version = rev
	return a, err
}

func (s *Store) Account(ctx context.Context, username string) (store.Account, error) {
	a, err := s.account(ctx, username)
	if err != nil {
		return store.Account{}, fmt.Errorf("natskv: account %s: %w", username, err)
	}
	return a, nil
}

func (s *Store) UpdateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if err := a.Validate(); err != nil {
		return store.Account{}, fmt.Errorf("natskv: update account: %w", err)
	}
	cur, err := s.account(ctx, a.Username)
	if err != nil {
		return store.Account{}, fmt.Errorf("natskv: update account %s: %w", a.Username, err)
	}
	if cur.Version != a.Version {
		return store.Account{}, fmt.Errorf("natskv: update account %s: version %d, stored %d: %w", a.Username, a.Version, cur.Version, store.ErrConflict)
	}
	read := a.Version
	a.Version, a.CreatedAt, a.UpdatedAt = 0, cur.CreatedAt, s.now()
	rev, err := s.admin.Update(ctx, key("account", a.Username), mustJSON(a), read)
	if isMismatch(err) {
		return store.Account{}, fmt.Errorf("natskv: update account %s: changed meanwhile: %w", a.Username, store.ErrConflict)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("natskv: update account %s: %w", a.Username, err)
	}
	a.Version = rev
	return a, nil
}

func (s *Store) DeleteAccount(ctx context.Context, username string) error {
	for range casAttempts {
		e, err := get(ctx, s.admin, key("account", username))
		if err != nil {
			return fmt.Errorf("natskv: delete account %s: %w", username, err)
		}
		// The account first: a CreateSession racing with this checks it
		// again after writing and undoes its session.
		err = s.admin.Delete(ctx, key("account", username), jetstream.LastRevision(e.Revision()))
		if isMismatch(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("natskv: delete account %s: %w", username, err)
		}
		if _, err := s.DeleteSessions(ctx, username); err != nil {
			return fmt.Errorf("natskv: delete account %s: %w", username, err)
		}
		return nil
	}
	return fmt.Errorf("natskv: delete account %s: changing too fast: %w", username, store.ErrConflict)
}

func (s *Store) ListAccounts(ctx context.Context, tenant string) ([]store.Account, error) {
	entries, err := values(ctx, s.admin, "account.*")
	if err != nil {
		return nil, fmt.Errorf("natskv: list accounts: %w", err)
	}
	all, revs, err := sortedJSON[store.Account](entries)
	if err != nil {
		return nil, fmt.Errorf("natskv: list accounts: %w", err)
	}
	out := all[:0]
	for i, a := range all {
		a.Version = revs[i]
		if tenant == "" || a.Tenant == tenant {
			out = append(out, a)
		}
	}
	return out, nil
}

// Sessions.

func (s *Store) CreateSession(ctx context.Context, ses store.Session) (store.Session, error) {
	now := s.now()
	if err := ses.Validate(now); err != nil {
		return store.Session{}, fmt.Errorf("natskv: create session: %w", err)
	}
	if _, err := s.account(ctx, ses.Username); err != nil {
		return store.Session{}, fmt.Errorf("natskv: create session of %s: account: %w", ses.Username, err)
	}
	ses.CreatedAt, ses.ExpiresAt = now, ses.ExpiresAt.UTC()
	ttl := ses.ExpiresAt.Sub(now)
	sk := key("session", ses.ID)
	v := mustJSON(ses)
	if _, err := s.admin.Create(ctx, sk, v, jetstream.KeyTTL(serverTTL(ttl))); isExists(err) {
		// Taken, unless by a session that expired and is not removed yet.
		var old store.Session
		rev, gerr := getJSON(ctx, s.admin, sk, &old)
		if gerr != nil || !old.Expired(now) {
			return store.Session{}, fmt.Errorf("natskv: create session of %s: id exists: %w", ses.Username, store.ErrConflict)
		}
		if err := s.putTTL(ctx, s.admin, sk, v, ttl, rev); err != nil {
			if isWrongSeq(err) {
				err = fmt.Errorf("id exists: %w", store.ErrConflict)
			}
			return store.Session{}, fmt.Errorf("natskv: create session of %s: %w", ses.Username, err)
		}
	} else if err != nil {
		return store.Session{}, fmt.Errorf("natskv: create session of %s: %w", ses.Username, err)
	}
	if err := s.putTTL(ctx, s.admin, key("sessionof", ses.Username, ses.ID), nil, ttl, 0); err != nil {
		_ = forget(ctx, s.admin, sk)
		return store.Session{}, fmt.Errorf("natskv: create session of %s: %w", ses.Username, err)
	}
	if _, err := s.account(ctx, ses.Username); errors.Is(err, store.ErrNotFound) {
		_ = forget(ctx, s.admin, sk) // the account was deleted meanwhile
		return store.Session{}, fmt.Errorf("natskv: create session of %s: account: %w", ses.Username, err)
	}
	return ses, nil
}

func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	var ses store.Session
	_, err := getJSON(ctx, s.admin, key("session", id), &ses)
	if err == nil && ses.Expired(s.now()) {
		err = store.ErrNotFound // the server removes it within a second
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("natskv: session: %w", err)
	}
	return ses, nil
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	// The index entry sessionof.<user>.<id> expires with the session.
	if err := forget(ctx, s.admin, key("session", id)); err != nil {
		return fmt.Errorf("natskv: delete session: %w", err)
	}
	return nil
}

func (s *Store) DeleteSessions(ctx context.Context, username string) (int, error) {
	keys, err := listKeys(ctx, s.admin, "sessionof."+escape(username)+".*")
	if err != nil {
		return 0, fmt.Errorf("natskv: delete sessions of %s: %w", username, err)
	}
	n := 0
	for _, k := range keys {
		id := lastPart(k)
		var ses store.Session
		_, err := getJSON(ctx, s.admin, key("session", id), &ses)
		switch {
		case err == nil && ses.Username == username:
			if !ses.Expired(s.now()) {
				n++
			}
			if err := forget(ctx, s.admin, key("session", id)); err != nil {
				return n, fmt.Errorf("natskv: delete sessions of %s: %w", username, err)
			}
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return n, fmt.Errorf("natskv: delete sessions of %s: %w", username, err)
		}
		if err := forget(ctx, s.admin, k); err != nil {
			return n, fmt.Errorf("natskv: delete sessions of %s: %w", username, err)
		}
	}
	return n, nil
}
