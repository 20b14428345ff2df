// Package directory_test runs the admin service (pkg/directory) on real
// parts: every test runs twice, on the Redis store (adapters/redisstore on
// 127.0.0.1:6379, a unique key prefix per test, deleted afterwards) and on
// the embedded one (adapters/natskv on an in-process nats-server with
// JetStream in a temporary directory). Tests that need Zoho get the Zoho
// simulator (integration/sim/zoho) behind the real client (adapters/zoho)
// and its zoho.Directory and zoho.Identifier adapters, all on one clock the
// test moves. It covers webhook subscriptions, the blacklist and
// self-service linking by device code: what an admin may do, what is
// refused, what the store and Zoho end up holding, and the audit log.
package directory_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/zoho"
	zohosim "github.com/ringside/ringside/integration/sim/zoho"
	"github.com/ringside/ringside/integration/teststore"
	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// eachStore runs fn once on each store, as subtests "redis" and "natskv".
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) { teststore.Each(t, fn) }

// setup is the actor that creates the tenants a test starts with, as
// `ringside tenants add` would.
var setup = directory.Operator("setup")

// newService is the admin service on st without Zoho (as on a server with
// no Zoho client configured), with tenants created through it.
func newService(t *testing.T, st store.Store, tenants ...string) *directory.Service {
	t.Helper()
	return newServiceWith(t, st, directory.Options{}, tenants...)
}

// newServiceWith is newService with options (Store, Logger, URLs and
// NewSecret are set).
func newServiceWith(t *testing.T, st store.Store, o directory.Options, tenants ...string) *directory.Service {
	t.Helper()
	o.Store, o.Logger = st, zaptest.NewLogger(t)
	o.URLs = func(string) (string, map[string]string) { return "", nil }
	o.NewSecret = func() string { return "s" }
	s, err := directory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range tenants {
		if _, err := s.CreateTenant(context.Background(), setup, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// auditLog returns the store's audit log oldest first: tenant's, or with
// tenant "" every entry.
func auditLog(t *testing.T, st store.Store, tenant string) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	for p := (store.Page{Limit: store.MaxLimit}); ; p.Offset += store.MaxLimit {
		es, total, err := st.ListAudit(context.Background(), tenant, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
		if len(es) == 0 || p.Offset+len(es) >= total {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// ---- the Zoho side of self-service links ----

// clock is the one clock of a linkWorld: the admin service's, the Zoho
// client's and the simulator's.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The Zoho org of tenant acme, and two other orgs whose users approve
// device codes in some tests; all in the EU data centre.
const (
	acmeOrg  = "org-acme"
	evilOrg  = "org-evil"
	otherOrg = "org-ben-elsewhere"
)

var acmeUsers = []zohosim.User{
	{ID: "9001", ZohoUser: "pb-1", Email: "ana@acme.example", Name: "Ana", Admin: true},
	{ID: "9002", ZohoUser: "pb-2", Email: "ben@acme.example", Name: "Ben"},
	{ID: "9003", ZohoUser: "pb-3", Email: "cleo@acme.example", Name: "Cleo"},
}

// deviceInterval is the simulator's device-flow polling interval (its
// default): a poll is only sent to Zoho once it has passed.
const deviceInterval = 5 * time.Second

// linkWorld is one self-link test's world: a store, the Zoho simulator,
// a Zoho client on it, the admin service and its self-service links.
// Tenant acme is connected to org-acme (in the mode asked for), with
// extensions 1001 and 1002; tenant globex is not connected and has 2001.
type linkWorld struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	clock *clock
	sim   *zohosim.Server
	zc    *zoho.Client
	dir   *directory.Service
	links *directory.SelfLinks
	o     linkOpts
}

type linkOpts struct {
	// identify configures the Identifier (default scopes when zero).
	identify zoho.IdentifyOptions
	// timeout bounds one request to Zoho (default 5s).
	timeout time.Duration
}

func newLinkWorld(t *testing.T, st store.Store, mode store.ZohoMode, o linkOpts) *linkWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	w := &linkWorld{t: t, ctx: ctx, st: st, clock: &clock{now: time.Now().UTC()}, o: o}

	w.sim = zohosim.New(zohosim.Options{DeviceInterval: deviceInterval, DeviceExpiry: 5 * time.Minute})
	if err := w.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.sim.SetNow(w.clock.Now)
	w.sim.AddOrg(acmeOrg, "eu", acmeUsers...)
	// Users of other orgs: Eve has Ben's CRM user id there, Mallory Ana's
	// (CRM user ids are per org); Ben also belongs to a third org, under
	// the same CRM user id, with his address spelt with a capital.
	w.sim.AddOrg(evilOrg, "eu",
		zohosim.User{ID: "9002", ZohoUser: "pb-e2", Email: "eve@evil.example", Name: "Eve", Admin: true},
		zohosim.User{ID: "9001", ZohoUser: "pb-e1", Email: "mallory@acme.example", Name: "Mallory"})
	w.sim.AddOrg(otherOrg, "eu", zohosim.User{ID: "9002", ZohoUser: "pb-o2", Email: "Ben@acme.example", Name: "Ben", Admin: true})

	w.zc, w.dir, w.links = w.node()
	for _, id := range []string{"acme", "globex"} {
		if _, err := w.dir.CreateTenant(ctx, setup, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.dir.UpdateTenant(ctx, setup, "acme", directory.TenantChange{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	// Connected with a Self Client token, as `ringside zoho connect
	// -import-token` does.
	rt := w.sim.SelfClientToken(acmeOrg, strings.Join(zoho.DefaultScopes, ","))
	if err := w.zc.ImportRefreshToken(ctx, "acme", rt, w.sim.AccountsURL("eu")); err != nil {
		t.Fatal(err)
	}
	// The extensions, as discovery stores them.
	for _, e := range []store.Extension{{Tenant: "acme", Number: "1001"}, {Tenant: "acme", Number: "1002"}, {Tenant: "globex", Number: "2001"}} {
		if _, err := st.UpsertExtension(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// node is one Ringside node of the world: its own Zoho client (with the
// shared token key) and admin service over the world's store and clock.
func (w *linkWorld) node() (*zoho.Client, *directory.Service, *directory.SelfLinks) {
	w.t.Helper()
	log := zaptest.NewLogger(w.t)
	ci, err := zoho.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		w.t.Fatal(err)
	}
	zc, err := zoho.New(zoho.Options{ClientID: w.sim.ClientID(), ClientSecret: w.sim.ClientSecret(),
		AccountsURL: w.sim.AccountsURL("eu"), APIURL: w.sim.APIDomain("eu"), RedirectURL: "https://pbx.example/zoho/callback",
		Tenants: w.st, Records: w.st, Claims: w.st, Cipher: ci, Timeout: w.o.timeout, Logger: log, Now: w.clock.Now,
		Backoff: backoff.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond}})
	if err != nil {
		w.t.Fatal(err)
	}
	z := zoho.Directory{Client: zc}
	dir, err := directory.New(directory.Options{Store: w.st, Zoho: z, Connector: z, Logger: log, Now: w.clock.Now,
		NewSecret: zoho.NewSecret,
		URLs: func(tenant string) (string, map[string]string) {
			return clicktocall.ClickToDialURL("https://pbx.example", tenant), clicktocall.CallControlURLs("https://pbx.example", tenant)
		}})
	if err != nil {
		w.t.Fatal(err)
	}
	return zc, dir, dir.SelfLinks(zoho.Identifier{Client: zc, IdentifyOptions: w.o.identify})
}

// tick moves the clock by the device polling interval, so that the next
// poll asks Zoho.
func (w *linkWorld) tick() { w.clock.Add(deviceInterval) }

// devicePolls is how many times Zoho was asked whether a code was
// approved; deviceCodes how many codes were requested.
func (w *linkWorld) devicePolls() int { return len(w.sim.Requests("POST /oauth/v3/device/token")) }
func (w *linkWorld) deviceCodes() int { return len(w.sim.Requests("POST /oauth/v3/device/code")) }

// registered returns the zohousers of org-acme with a click-to-dial
// registration.
func (w *linkWorld) registered() []string {
	var out []string
	w.sim.Org(acmeOrg, func(o *zohosim.Org) {
		for zu := range o.ClickToDial {
			out = append(out, zu)
		}
	})
	slices.Sort(out)
	return out
}

// audit returns acme's audit entries of action, oldest first.
func (w *linkWorld) audit(action string) []store.AuditEntry {
	w.t.Helper()
	var out []store.AuditEntry
	for _, e := range auditLog(w.t, w.st, "acme") {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
