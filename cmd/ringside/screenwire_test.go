package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/natskv"
	"github.com/ringside/ringside/adapters/redisstore"
	"github.com/ringside/ringside/adapters/zoho"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// The screener reads real stores: the embedded one the daemon runs by
// default (adapters/natskv on an in-process nats-server) and Redis on
// 127.0.0.1:6379 (.ci/run starts one) under a fresh prefix, whose keys are
// deleted when the test ends. A slow store is Redis paused (CLIENT PAUSE),
// a store that is down is the Redis client closed.

// embeddedStore is the embedded store on its own nats-server with
// JetStream, stopped when the test ends.
func embeddedStore(t *testing.T) *natskv.Store {
	t.Helper()
	dir := t.TempDir() // removed after the server stops (cleanups run last first)
	srv, err := server.NewServer(&server.Options{ServerName: "screen-test", JetStream: true, StoreDir: dir,
		DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
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
	admin = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	c = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
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
		t.Fatalf("redis on 127.0.0.1:6379: %v (these tests need it; .ci/run starts one)", err)
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

// newScreenTest is the screener of a node whose default tenant is acme,
// on st, with the clock c.
func newScreenTest(t *testing.T, st screenStore, c *testClock) *screenSide {
	t.Helper()
	cfg := config.Default()
	cfg.NodeID, cfg.PBX.DefaultTenant = "pbx-01", "acme"
	s := newScreenSide(cfg, nil, st, nil, zaptest.NewLogger(t), prometheus.NewRegistry())
	s.now = c.Now
	t.Cleanup(s.stop)
	return s
}

func match(m zoho.Match) []byte { b, _ := json.Marshal(m); return b }

// TestScreenSideDecides: with acme's settings, links and cached callers in
// the store, each waiting call gets its verdict (owner routing through the
// CRM user id or a REST-mode link's Zoho user, the blacklist, a caller with
// no record, a cache miss, an anonymous caller, an unknown tenant); the
// tenant's settings are kept screen.settings_ttl (a change in the store
// shows only after), the lookup cache is read for each call.
func TestScreenSideDecides(t *testing.T) {
	t.Run("natskv", func(t *testing.T) { testScreenSideDecides(t, embeddedStore(t)) })
	t.Run("redis", func(t *testing.T) {
		st, _, _ := redisStore(t)
		testScreenSideDecides(t, st)
	})
}

func testScreenSideDecides(t *testing.T, st store.Store) {
	ctx := context.Background()
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "acme", Settings: store.Settings{Region: "DE", Blacklist: []string{"+4990*"},
		Features: map[string]bool{screen.FeatureCallerName: true, screen.FeatureOwnerRouting: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []store.Link{{Tenant: "acme", Extension: "1001", ZohoUser: "pb-1001", CRMUser: "9001"}, {Tenant: "acme", Extension: "1002", ZohoUser: "9002"}} {
		if _, err := st.UpsertExtension(ctx, store.Extension{Tenant: "acme", Number: l.Extension}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Link(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for number, m := range map[string]zoho.Match{
		"+4930123456": {Module: "Contacts", ID: "4711", Name: "Eva Meyer", Owner: "9002"},
		"+4930999999": {},
	} {
		if err := st.PutLookup(ctx, "acme", number, match(m), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	clock := &testClock{now: time.Now()}
	s := newScreenTest(t, st, clock)
	for _, tc := range []struct {
		c    screen.Call
		want screen.Verdict
	}{
		{screen.Call{Channel: "1.1", Number: "030 123456"}, // national, read in DE; the default tenant
			screen.Verdict{Outcome: screen.OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}},
		{screen.Call{Channel: "1.2", Tenant: "acme", Number: "+4990012345"},
			screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: "busy", Blocked: "+4990*"}},
		{screen.Call{Channel: "1.3", Number: "+4930999999"}, screen.Verdict{Outcome: screen.OutcomeNoRecord}},
		{screen.Call{Channel: "1.4", Number: "+4930555555"}, screen.Verdict{Outcome: screen.OutcomeMiss, Refresh: true}},
		{screen.Call{Channel: "1.5", Number: "anonymous"}, screen.Verdict{Outcome: screen.OutcomeOff}},
		{screen.Call{Channel: "1.6", Tenant: "globex", Number: "+4930123456"}, screen.Verdict{Outcome: screen.OutcomeLate}},
	} {
		if got := s.Screen(ctx, tc.c); got != tc.want {
			t.Errorf("%+v: %+v, want %+v", tc.c, got, tc.want)
		}
	}
	// CRM user 9001 is linked through its CRM user id, 9002 (a REST-mode
	// link) through the Zoho user field; the cache is read for each call.
	if err := st.PutLookup(ctx, "acme", "+4930123456", match(zoho.Match{Module: "Leads", ID: "5", Name: "Max", Owner: "9001"}), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4930123456"}); v.Owner != "1001" {
		t.Errorf("owner by CRM user id: %+v", v)
	}
	// The settings are kept: the blacklist emptied in the store still
	// rejects until screen.settings_ttl has passed.
	if _, err := store.ModifyTenant(ctx, st, "acme", func(t *store.Tenant) error { t.Settings.Blacklist = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Outcome != screen.OutcomeBlacklisted {
		t.Errorf("within the settings TTL: %+v, want the settings kept", v)
	}
	clock.Add(config.Default().Screen.SettingsTTL)
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Outcome == screen.OutcomeBlacklisted {
		t.Errorf("past the settings TTL: %+v, want the settings read again", v)
	}
}

// TestScreenSideDeadlineAndStaleSettings: with Redis paused, a call waits
// no longer than its deadline and rings as it is; the read goes on and
// serves the next calls once Redis answers. Past the settings TTL with the
// store down (its client closed), the settings kept still serve.
func TestScreenSideDeadlineAndStaleSettings(t *testing.T) {
	st, c, admin := redisStore(t)
	ctx := context.Background()
	if _, err := st.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "acme", Settings: store.Settings{Blacklist: []string{"+4990*"}}}); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: time.Now()}
	s := newScreenTest(t, st, clock)

	// Every client of the shared Redis waits 300 ms: kept short.
	const pause = 300 * time.Millisecond
	paused := time.Now()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if v := s.Screen(dctx, screen.Call{Number: "+4990012345"}); v.Outcome != screen.OutcomeLate || time.Since(start) > 500*time.Millisecond {
		t.Errorf("slow store: %+v after %v", v, time.Since(start))
	}
	eventually(t, "the slow load to land", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.tenants) == 1 })
	if d := time.Since(paused); d < pause-50*time.Millisecond {
		t.Errorf("the load landed %v after the pause began, within the %v pause: was Redis paused?", d, pause)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("after the load: %+v", v)
	}
	// Past the TTL with the store down, the settings kept still serve.
	clock.Add(time.Minute)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Tenant(ctx, "acme"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store with its client closed: %v, want it failing", err)
	}
	if v := s.Screen(ctx, screen.Call{Number: "+4990012345"}); v.Reject != "busy" {
		t.Errorf("store failing: %+v", v)
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

// recordingPublisher keeps what it is asked to publish.
type recordingPublisher struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (r *recordingPublisher) Publish(_ context.Context, _, msgID string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data[msgID] = data
	return nil
}

func TestMarkingPublisher(t *testing.T) {
	s := newScreenTest(t, embeddedStore(t), &testClock{now: time.Now()})
	rec := &recordingPublisher{data: map[string][]byte{}}
	pub := s.publisher(rec)
	s.Screened(screen.Call{Channel: "1736935300.51"}, screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: "busy"})
	s.Screened(screen.Call{Channel: "1736935300.52"}, screen.Verdict{Outcome: screen.OutcomeMiss, Refresh: true})
	publish := func(e events.Call) events.Call {
		b, _ := json.Marshal(e)
		if err := pub.Publish(context.Background(), "s", e.ID, b); err != nil {
			t.Fatal(err)
		}
		var out events.Call
		if err := json.Unmarshal(rec.data[e.ID], &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ended := publish(events.Call{V: 1, ID: "pbx-01-1736935300.51:2", CallID: "pbx-01-1736935300.51", Type: events.Ended, Direction: events.Inbound})
	if ended.Screen == nil || !ended.Screen.Blacklisted || ended.Reason != events.ReasonBlacklisted {
		t.Errorf("blacklisted call's ended event %+v", ended)
	}
	other := events.Call{V: 1, ID: "pbx-01-1736935300.52:1", CallID: "pbx-01-1736935300.52", Type: events.Started}
	raw, _ := json.Marshal(other)
	publish(other)
	if string(rec.data[other.ID]) != string(raw) {
		t.Errorf("an unmarked call's event changed: %s", rec.data[other.ID])
	}
}
