package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/ringside/ringside/pkg/store"
)

// MinPassword is the shortest password accepted.
const MinPassword = 10

// tokenPrefix marks Ringside tokens, so secret scanners and people
// recognise a leaked one.
const tokenPrefix = "rsk_"

// dummyHash is compared against when the username is unknown, so a login
// takes as long for a wrong username as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("ringside-no-such-user"), bcrypt.DefaultCost)

// HashPassword hashes a password for store.Account (bcrypt), refusing one
// shorter than MinPassword or longer than bcrypt's 72 bytes.
func HashPassword(password string) ([]byte, error) {
	switch {
	case utf8.RuneCountInString(password) < MinPassword:
		return nil, fmt.Errorf("password shorter than %d characters: %w", MinPassword, store.ErrInvalid)
	case len(password) > 72:
		return nil, fmt.Errorf("password longer than 72 bytes: %w", store.ErrInvalid)
	}
	return bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
}

// TokenID is the store id of a session token or API token: the hex
// SHA-256 of the token. The token itself is never stored.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// NewAccount is an account to create.
type NewAccount struct {
	Username string
	Password string
	Role     store.Role
	// Tenant of a company admin.
	Tenant string
}

// CreateAccount adds an admin login. Operators create any account; a
// company admin creates admins of its own tenant.
func (s *Service) CreateAccount(ctx context.Context, a Actor, n NewAccount) (store.Account, error) {
	acc, err := s.createAccount(ctx, a, n)
	s.audit(ctx, a, n.Tenant, "account.create", n.Username, string(n.Role), err)
	acc.PasswordHash = nil
	return acc, err
}

func (s *Service) createAccount(ctx context.Context, a Actor, n NewAccount) (store.Account, error) {
	if err := s.mayManage(a, n.Role, n.Tenant); err != nil {
		return store.Account{}, err
	}
	h, err := HashPassword(n.Password)
	if err != nil {
		return store.Account{}, err
	}
	return s.o.Store.CreateAccount(ctx, store.Account{Username: n.Username, PasswordHash: h, Role: n.Role, Tenant: n.Tenant})
}

// mayManage reports whether a may manage an account of role in tenant.
func (s *Service) mayManage(a Actor, role store.Role, tenant string) error {
	if a.IsOperator() || (role == store.RoleAdmin && a.may(tenant)) {
		return nil
	}
	return fmt.Errorf("%s may not manage %s accounts of %q: %w", a.Username, role, tenant, ErrForbidden)
}

// account reads an account a may manage.
func (s *Service) account(ctx context.Context, a Actor, username string) (store.Account, error) {
	acc, err := s.o.Store.Account(ctx, username)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && !a.IsOperator() {
			// do not tell a company admin which usernames exist elsewhere
			return acc, fmt.Errorf("account %s: %w", username, ErrForbidden)
		}
		return acc, err
	}
	return acc, s.mayManage(a, acc.Role, acc.Tenant)
}

// Accounts lists the accounts a may manage (password hashes removed).
func (s *Service) Accounts(ctx context.Context, a Actor) ([]store.Account, error) {
	tenant := ""
	if !a.IsOperator() {
		tenant = a.Tenant
	}
	accs, err := s.o.Store.ListAccounts(ctx, tenant)
	for i := range accs {
		accs[i].PasswordHash = nil
	}
	return accs, err
}

// DeleteAccount removes an account and ends its sessions and tokens.
func (s *Service) DeleteAccount(ctx context.Context, a Actor, username string) error {
	acc, err := s.account(ctx, a, username)
	if err == nil {
		err = s.o.Store.DeleteAccount(ctx, username)
	}
	s.audit(ctx, a, acc.Tenant, "account.delete", username, "", err)
	return err
}

// SetPassword changes an account's password and ends its sessions and
// tokens.
func (s *Service) SetPassword(ctx context.Context, a Actor, username, password string) error {
	acc, err := s.account(ctx, a, username)
	if err == nil {
		err = s.setPassword(ctx, acc, password)
	}
	s.audit(ctx, a, acc.Tenant, "account.password", username, "", err)
	return err
}

func (s *Service) setPassword(ctx context.Context, acc store.Account, password string) error {
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	acc.PasswordHash = h
	if _, err := s.o.Store.UpdateAccount(ctx, acc); err != nil {
		return err
	}
	_, err = s.o.Store.DeleteSessions(ctx, acc.Username)
	return err
}

// Login checks a username and password and opens a session valid for
// ttl. The token returned is shown to the client once; only its hash is
// stored. Wrong credentials give ErrUnauthorized, whichever part was wrong.
func (s *Service) Login(ctx context.Context, username, password, via string, ttl time.Duration) (string, Actor, error) {
	a := Actor{Username: username, Via: via}
	acc, err := s.o.Store.Account(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		err = fmt.Errorf("wrong username or password: %w", ErrUnauthorized)
	case err != nil:
	case bcrypt.CompareHashAndPassword(acc.PasswordHash, []byte(password)) != nil:
		err = fmt.Errorf("wrong username or password: %w", ErrUnauthorized)
	}
	if err != nil {
		s.audit(ctx, a, acc.Tenant, "login.failed", username, "", err)
		return "", Actor{}, err
	}
	a.Role, a.Tenant = acc.Role, acc.Tenant
	tok, err := s.openSession(ctx, username, ttl)
	s.audit(ctx, a, acc.Tenant, "login", username, "", err)
	return tok, a, err
}

func (s *Service) openSession(ctx context.Context, username string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("session lifetime %s: %w", ttl, store.ErrInvalid)
	}
	tok := newToken()
	_, err := s.o.Store.CreateSession(ctx, store.Session{ID: TokenID(tok), Username: username, ExpiresAt: s.now().Add(ttl).UTC()})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// Authenticate returns the actor of a session or API token.
func (s *Service) Authenticate(ctx context.Context, token, via string) (Actor, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return Actor{}, fmt.Errorf("malformed token: %w", ErrUnauthorized)
	}
	sess, err := s.o.Store.Session(ctx, TokenID(token))
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fmt.Errorf("unknown or expired token: %w", ErrUnauthorized)
	} else if err != nil {
		return Actor{}, err
	}
	acc, err := s.o.Store.Account(ctx, sess.Username)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fmt.Errorf("account of the token is gone: %w", ErrUnauthorized)
	} else if err != nil {
		return Actor{}, err
	}
	return Actor{Username: acc.Username, Role: acc.Role, Tenant: acc.Tenant, Via: via}, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, a Actor, token string) error {
	err := s.o.Store.DeleteSession(ctx, TokenID(token))
	s.audit(ctx, a, a.Tenant, "logout", a.Username, "", err)
	return err
}

// CreateToken issues an API token for an account a may manage, valid for
// ttl. The token is returned once; only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, a Actor, username string, ttl time.Duration) (string, error) {
	var tok string
	_, err := s.account(ctx, a, username)
	if err == nil {
		tok, err = s.openSession(ctx, username, ttl)
	}
	s.audit(ctx, a, a.Tenant, "token.create", username, "valid "+ttl.String(), err)
	return tok, err
}
