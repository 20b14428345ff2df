// Package screen_test runs the screening of inbound calls (pkg/screen's
// Screener) on real stores (integration/teststore): the embedded one the
// daemon runs by default (adapters/natskv on an in-process nats-server
// with JetStream) and Redis on 127.0.0.1:6379 (.ci/run starts one) under
// a fresh key prefix, whose keys are deleted when the test ends. The
// caller-lookup cache is read through adapters/zoho (Lookup.Screening), as
// the daemon reads it, and filled with Lookup.Remember. A slow store is
// Redis paused (CLIENT PAUSE), a store that is down is the Redis client
// closed. BenchmarkScreenDelay measures the ringing delay screening adds
// through the Asterisk adapter and the ARI simulator.
package screen_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// redisStore is the Redis store under a fresh prefix (integration/teststore
// deletes its keys when the test ends) on a client of its own, returned
// too: CLIENT PAUSE through it pauses the server, closing it takes the
// store down. Unlike the daemon's, the client gives up when a context
// ends, so that a read tied to a call's deadline would end with it.
func redisStore(t *testing.T) (*redisstore.Store, *redis.Client) {
	t.Helper()
	prefix := teststore.Prefix(t)
	c := redis.NewClient(&redis.Options{Addr: teststore.RedisAddr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis on %s: %v (these tests need it; .ci/run starts one)", teststore.RedisAddr, err)
	}
	return redisstore.New(c, prefix), c
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newScreener is the screener of node pbx-01 whose default tenant is acme,
// as the daemon builds it without Zoho (cmd/ringside/screen.go): on st,
// reading the lookup cache through zoho.Lookup, with the screen.* defaults
// and the clock now; closed when the test ends.
func newScreener(tb testing.TB, st store.Store, now func() time.Time) *screen.Screener {
	tb.Helper()
	cfg := config.Default().Screen
	s := screen.New(screen.Options{Store: st, Cache: zoho.NewLookup(nil, st, zoho.LookupOptions{}).Screening(),
		Normalize: zoho.Normalize, DefaultTenant: "acme", CallIDPrefix: "pbx-01-", SettingsTTL: cfg.SettingsTTL,
		RefreshConcurrency: cfg.RefreshConcurrency, Logger: zaptest.NewLogger(tb), Registerer: prometheus.NewRegistry(), Now: now})
	tb.Cleanup(s.Close)
	return s
}

// remember caches m as the CRM record of number in tenant, as a lookup
// does (zoho owns the cache's value format).
func remember(tb testing.TB, st store.Cache, tenant, number string, m zoho.Match) {
	tb.Helper()
	if err := zoho.NewLookup(nil, st, zoho.LookupOptions{}).Remember(context.Background(), tenant, "", number, m); err != nil {
		tb.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
