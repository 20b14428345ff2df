package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/store"
)

// These tests write what a crash in the middle of a multi-key change leaves
// behind, and check that no reader sees it as valid and that it blocks
// nobody for longer than the protocol says.

func crashStore(t *testing.T) (*Store, context.Context) {
	t.Helper()
	s := fresh(t)().(*Store)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if _, err := s.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1001", "1002", "1003"} {
		if _, err := s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: n}); err != nil {
			t.Fatal(err)
		}
	}
	return s, ctx
}

func put(t *testing.T, ctx context.Context, kv jetstream.KeyValue, k string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, k, b); err != nil {
		t.Fatal(err)
	}
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

func zl(ext, zu string) store.Link {
	return store.Link{Tenant: "acme", Extension: ext, ZohoUser: zu, Switches: store.Switches{Notifications: true}}
}

// A crash after the reservation: a reverse key alone.
func TestCrashLeavesReservationOnly(t *testing.T) {
	s, ctx := crashStore(t)
	put(t, ctx, s.dir, key("linkzu", "acme", "zu1"), reverse{Extension: "1001", At: time.Now().Add(-time.Hour)})

	_, err := s.LinkByZohoUser(ctx, "acme", "zu1")
	notFound(t, "Zoho user of a reservation-only link", err)
	_, err = s.LinkByExtension(ctx, "acme", "1001")
	notFound(t, "extension of a reservation-only link", err)
	if _, total, err := s.ListLinks(ctx, "acme", store.Page{}); err != nil || total != 0 {
		t.Fatalf("list: %d links, %v; want none", total, err)
	}
	// The leftover is older than the lease: the Zoho user links elsewhere.
	if _, err := s.Link(ctx, zl("1002", "zu1")); err != nil {
		t.Fatalf("link over a stale reservation: %v", err)
	}
	if l, err := s.LinkByZohoUser(ctx, "acme", "zu1"); err != nil || l.Extension != "1002" {
		t.Fatalf("after take-over: %+v, %v", l, err)
	}
}

// A reservation younger than the lease is a Link in progress: it blocks.
func TestFreshReservationBlocks(t *testing.T) {
	s, ctx := crashStore(t)
	put(t, ctx, s.dir, key("linkzu", "acme", "zu1"), reverse{Extension: "1001", At: time.Now()})
	_, err := s.Link(ctx, zl("1002", "zu1"))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("link while another is in progress: %v, want ErrConflict", err)
	}
	_, err = s.LinkByZohoUser(ctx, "acme", "zu1")
	notFound(t, "in-progress link", err)
}

// A forward key whose reverse key is missing (crash in Unlink) or points
// elsewhere is invisible and taken over at once.
func TestCrashLeavesForwardOnly(t *testing.T) {
	s, ctx := crashStore(t)
	if _, err := s.Link(ctx, zl("1003", "zu1")); err != nil {
		t.Fatal(err)
	}
	put(t, ctx, s.dir, key("link", "acme", "1001"), zl("1001", "zu1")) // reverse names 1003
	put(t, ctx, s.dir, key("link", "acme", "1002"), zl("1002", "zu9")) // no reverse at all

	for _, ext := range []string{"1001", "1002"} {
		_, err := s.LinkByExtension(ctx, "acme", ext)
		notFound(t, "dangling forward "+ext, err)
		_, err = s.Unlink(ctx, "acme", ext)
		notFound(t, "unlink dangling forward "+ext, err)
		_, err = s.SetSwitches(ctx, "acme", ext, store.SwitchChange{ClickToCall: store.On})
		notFound(t, "switches of dangling forward "+ext, err)
	}
	if l, err := s.LinkByZohoUser(ctx, "acme", "zu1"); err != nil || l.Extension != "1003" {
		t.Fatalf("zu1: %+v, %v; want its valid link to 1003", l, err)
	}
	_, err := s.LinkByZohoUser(ctx, "acme", "zu9")
	notFound(t, "zu9", err)
	if links, total, err := s.ListLinks(ctx, "acme", store.Page{}); err != nil || total != 1 || links[0].Extension != "1003" {
		t.Fatalf("list: %+v (%d), %v; want only 1003", links, total, err)
	}
	if err := s.DeleteExtension(ctx, "acme", "1002"); err != nil {
		t.Fatalf("delete an extension with a dangling forward key: %v", err)
	}
	if _, err := s.Link(ctx, zl("1001", "zu2")); err != nil {
		t.Fatalf("link over a dangling forward key: %v", err)
	}
	if l, err := s.LinkByExtension(ctx, "acme", "1001"); err != nil || l.ZohoUser != "zu2" {
		t.Fatalf("after take-over: %+v, %v", l, err)
	}
}

// A crash in DeleteTenant leaves the tombstone and some directory keys.
func TestCrashDuringTenantDelete(t *testing.T) {
	s, ctx := crashStore(t)
	if _, err := s.Link(ctx, zl("1001", "zu1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.dir.Put(ctx, key("tenant", "acme"), tombstone); err != nil {
		t.Fatal(err)
	}
	_, err := s.Tenant(ctx, "acme")
	notFound(t, "tenant being deleted", err)
	if list, err := s.ListTenants(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list: %+v, %v; want none", list, err)
	}
	_, err = s.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: "1009"})
	notFound(t, "upsert into a tenant being deleted", err)
	err = s.DeleteTenant(ctx, "acme")
	notFound(t, "delete a tenant being deleted", err)

	if _, err := s.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
		t.Fatalf("create over a tombstone: %v", err)
	}
	if exts, total, err := s.ListExtensions(ctx, "acme", store.Page{}); err != nil || total != 0 {
		t.Fatalf("leftover extensions after re-create: %+v, %v", exts, err)
	}
	_, err = s.LinkByZohoUser(ctx, "acme", "zu1")
	notFound(t, "leftover link after re-create", err)
}

// Expired values are removed by the server, not only hidden by readers.
func TestServerRemovesExpiredValues(t *testing.T) {
	s, ctx := crashStore(t)
	if err := s.PutLookup(ctx, "acme", "+1", []byte("v"), 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, "k", 500*time.Millisecond); err != nil || !ok {
		t.Fatal(ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, kk := range []struct {
		kv jetstream.KeyValue
		k  string
	}{{s.cache, key("lookup", "acme", "+1")}, {s.keys, key("claim", "k")}} {
		for {
			_, err := kk.kv.Get(ctx, kk.k)
			if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still in bucket %s after its TTL", kk.k, kk.kv.Bucket())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestNewRejectsBadPrefix(t *testing.T) {
	n := start(t, t.TempDir())
	defer n.stop()
	if _, err := New(context.Background(), n.js, "ring.side"); err == nil {
		t.Fatal("prefix with a dot accepted")
	}
	s, err := New(context.Background(), n.js, "ringside:")
	if err != nil {
		t.Fatalf("the Redis-style prefix: %v", err)
	}
	if s.dir.Bucket() != "ringside_directory" {
		t.Fatalf("bucket %q", s.dir.Bucket())
	}
	if err := s.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}
