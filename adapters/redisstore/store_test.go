package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/store"
	"github.com/ringside/ringside/pkg/store/storetest"
)

// The suite runs against the real Redis on 127.0.0.1:6379 (.ci/run starts
// one), each test under its own random prefix, deleted afterwards.
const addr = "127.0.0.1:6379"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func client(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("redis on %s: %v (the store suite needs it; .ci/run starts one)", addr, err)
	}
	return c
}

// fresh gives each test its own prefix; reopening makes a new client over
// the same keys, as a restarted Ringside would.
func fresh(t *testing.T) storetest.Open {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "ringside-test-" + hex.EncodeToString(b) + ":"
	var c *redis.Client
	t.Cleanup(func() {
		if c != nil {
			_ = c.Close()
		}
		cleanup(t, prefix)
	})
	return func() store.Store {
		if c != nil {
			_ = c.Close()
		}
		c = client(t)
		return New(c, prefix)
	}
}

// cleanup deletes every key under prefix.
func cleanup(t *testing.T, prefix string) {
	c := client(t)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s*: %v", prefix, err)
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("delete %s*: %v", prefix, err)
		}
	}
}

func TestContract(t *testing.T) { storetest.Run(t, fresh) }

func TestReady(t *testing.T) {
	c := client(t)
	defer c.Close()
	if err := New(c, "x:").Ready(); err != nil {
		t.Fatalf("Ready against a live Redis: %v", err)
	}
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer down.Close()
	if err := New(down, "x:").Ready(); err == nil {
		t.Fatal("Ready with Redis unreachable: nil, want an error")
	}
}

// TestKeyLayout pins the documented layout: operators inspect it with
// redis-cli, and a changed layout would orphan the data of an upgrade.
func TestKeyLayout(t *testing.T) {
	open := fresh(t)
	s := open().(*Store)
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, store.Link{Tenant: "acme", Extension: "1001", ZohoUser: "42"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLookup(ctx, "acme", "+4930123456", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, "k", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEntry{Actor: "ana", Via: store.ViaPortal, Tenant: "acme", Action: "user.link", Target: "1001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, store.Webhook{Tenant: "acme", ID: "wh_1", URL: "https://crm.example/",
		Secret: "whsec_0123456789abcdef", State: store.WebhookPending}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendDelivery(ctx, store.Delivery{Time: time.Now(), Tenant: "acme", Webhook: "wh_1", EventID: "evt_1",
		EventType: "call.ended", Attempt: 1, Result: store.DeliveryOK, Status: 200}); err != nil {
		t.Fatal(err)
	}
	p := s.prefix
	for _, k := range []string{
		p + "{dir}:tenants", p + "{dir}:tenant:acme", p + "{dir}:exts:acme", p + "{dir}:ext:acme.1001",
		p + "{dir}:links:acme", p + "{dir}:link:acme.1001", p + "{dir}:linkzu:acme.42",
		p + "lookup:acme.+4930123456", p + "claim:k", p + "{audit}:all", p + "{audit}:tenant:acme",
		p + "{dir}:webhooks", p + "{dir}:webhook:acme.wh_1", p + "deliveries:acme.wh_1",
	} {
		if n, err := s.c.Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Errorf("key %s: exists=%d err=%v", k, n, err)
		}
	}
	if ttl, err := s.c.PTTL(ctx, p+"claim:k").Result(); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("claim TTL %s (%v), want native TTL ≤ 1m", ttl, err)
	}
}
