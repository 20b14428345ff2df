// Package teststore opens the real stores for tests: Redis on
// 127.0.0.1:6379 (which .ci/run starts) under a fresh key prefix deleted
// when the test ends, and the embedded store on an in-process NATS server
// with JetStream, as the daemon runs it when nats.url is empty.
package teststore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/pkg/store"
)

// RedisAddr is the Redis the tests use.
const RedisAddr = "127.0.0.1:6379"

// Each runs fn once on each store, as subtests "redis" and "natskv".
func Each(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("redis", func(t *testing.T) { fn(t, Redis(t)) })
	t.Run("natskv", func(t *testing.T) { fn(t, Embedded(t)) })
}

// Redis is the Redis store under a fresh prefix whose keys are deleted
// when the test ends.
func Redis(t testing.TB) *redisstore.Store {
	st, _ := RedisAt(t, Prefix(t))
	return st
}

// RedisAt is the Redis store under prefix, with its client for tests that
// act on Redis itself (CLIENT PAUSE, closing it); the client is closed when
// the test ends.
func RedisAt(t testing.TB, prefix string) (*redisstore.Store, *redis.Client) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: RedisAddr})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis on %s: %v (the tests need it; .ci/run starts one)", RedisAddr, err)
	}
	return redisstore.New(c, prefix), c
}

// Prefix returns a fresh Redis key prefix ("rstest-<random>:"); its keys are
// deleted when the test ends, whoever wrote them (a daemon the test runs
// with redis.prefix set to it, say).
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "rstest-" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: RedisAddr})
		defer c.Close()
		ctx := context.Background()
		var keys []string
		it := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			t.Errorf("scan %s*: %v", prefix, err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

// Embedded is the embedded store on its own in-process NATS server, stopped
// when the test ends.
func Embedded(t testing.TB) *natskv.Store {
	t.Helper()
	dir := t.TempDir() // removed after the server stops (cleanups run last first)
	srv, err := server.NewServer(&server.Options{ServerName: "teststore", JetStream: true, StoreDir: dir,
		DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := natskv.New(ctx, js, "ringside")
	if err != nil {
		t.Fatalf("natskv: %v", err)
	}
	return st
}
