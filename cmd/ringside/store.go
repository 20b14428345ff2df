package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ringside/ringside/adapters/natsbus"
	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/store"
)

// stateStore is the store as main uses it: the contract and a readiness
// probe (both implementations bound Ready to 2 s).
type stateStore interface {
	store.Store
	Ready() error
}

// openStore opens the configured store: Redis when redis.addr is set, else
// the embedded one on the bus's JetStream. close releases what it opened
// (the Redis client; the embedded store lives and dies with the bus).
func openStore(ctx context.Context, cfg config.Config, bus *natsbus.Bus) (st stateStore, closeFn func(), err error) {
	if !cfg.Redis.Embedded() {
		c := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password.Value(), DB: cfg.Redis.DB})
		return redisstore.New(c, cfg.Redis.Prefix), func() { _ = c.Close() }, nil
	}
	js, err := jetstream.New(bus.Conn())
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	kv, err := natskv.New(ctx, js, "ringside")
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	return kv, func() {}, nil
}

// ensureTenant creates the tenant id if it does not exist yet, so that a
// single-tenant install needs no tenant configuration (pbx.default_tenant).
func ensureTenant(ctx context.Context, st store.Tenants, id string) (created bool, err error) {
	if _, err := st.Tenant(ctx, id); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("store: tenant %s: %w", id, err)
	}
	_, err = st.CreateTenant(ctx, store.Tenant{ID: id, Name: id})
	switch {
	case errors.Is(err, store.ErrConflict): // created meanwhile (another node)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: create tenant %s: %w", id, err)
	}
	return true, nil
}

// prober runs a blocking health check in the background and serves its
// last result, so /readyz never waits on a network round trip: the check
// runs every interval (each bounded by the check itself, 2 s for both
// stores), and the readiness answer is at most one interval old.
type prober struct {
	check    func() error
	interval time.Duration

	mu   sync.Mutex
	last error
}

func newProber(check func() error, interval time.Duration) *prober {
	p := &prober{check: check, interval: interval}
	p.last = check() // the first answer before anything asks
	return p
}

// Run probes until ctx is done.
func (p *prober) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.check()
		p.mu.Lock()
		p.last = err
		p.mu.Unlock()
	}
}

// Ready is a health.Check: the last probe's result.
func (p *prober) Ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// dataDirLock is an exclusive lock on data_dir/ringside.lock, held by a
// process that runs the embedded NATS server on data_dir/nats: the daemon,
// or a `ringside zoho` command opening the embedded store while the daemon
// is stopped. Two processes on one JetStream store would corrupt it, and
// nats-server does not lock its store itself.
type dataDirLock struct{ f *os.File }

// errLocked: another process holds the data directory.
var errLocked = errors.New("data directory in use by another ringside process")

func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	path := filepath.Join(dir, "ringside.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, errLocked)
		}
		return nil, fmt.Errorf("data_dir: lock %s: %w", path, err)
	}
	return &dataDirLock{f: f}, nil
}

// Unlock releases the lock (closing the file releases the flock).
func (l *dataDirLock) Unlock() {
	if l != nil && l.f != nil {
		_ = l.f.Close()
	}
}
