// Package screen_test runs the screening of inbound calls (pkg/screen's
// Screener) on real stores: the embedded one the daemon runs by default
// (adapters/natskv on an in-process nats-server with JetStream in a
// temporary directory) and Redis on 127.0.0.1:6379 (.ci/run starts one)
// under a fresh key prefix, whose keys are deleted when the test ends. The
// caller-lookup cache is read through adapters/zoho (Lookup.Screening), as
// the daemon reads it, and filled with Lookup.Remember. A slow store is
// Redis paused (CLIENT PAUSE), a store that is down is the Redis client
// closed. BenchmarkScreenDelay measures the ringing delay screening adds
// through the Asterisk adapter and the ARI simulator.
package screen_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// redisAddr is the Redis the tests use (.ci/run starts one).
const redisAddr = "127.0.0.1:6379"

// embeddedStore is the embedded store on its own nats-server with
// JetStream, stopped when the test ends.
func embeddedStore(tb testing.TB) *natskv.Store {
	tb.Helper()
	dir := tb.TempDir() // removed after the server stops (cleanups run last first)
	srv, err := server.NewServer(&server.Options{ServerName: "screen-test", JetStream: true, StoreDir: dir,
		DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Start()
	tb.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := natskv.New(ctx, js, "ringside")
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// redisStore is the Redis store under a fresh prefix on a client of its
// own, returned too (closing it takes the store down); admin is another
// client, for commands to the server and the cleanup.
func redisStore(t *testing.T) (st *redisstore.Store, c, admin *redis.Client) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "rstest-screen-" + hex.EncodeToString(b[:]) + ":"
	admin = redis.NewClient(&redis.Options{Addr: redisAddr})
	// The store's client gives up when a context ends, so that a read on
	// a call's context could not outlive the call's deadline.
	c = redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
	t.Cleanup(func() {
		_ = c.Close()
		ctx := context.Background()
		var keys []string
		it := admin.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Errorf("scan %s*: %v", prefix, err)
		}
		if len(keys) > 0 {
			if err := admin.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete %s*: %v", prefix, err)
			}
		}
		_ = admin.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis on %s: %v (these tests need it; .ci/run starts one)", redisAddr, err)
	}
	return redisstore.New(c, prefix), c, admin
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
