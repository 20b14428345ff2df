package discovery

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/freeswitch"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

func startESL(t *testing.T, users []eslsim.User) *eslsim.Server {
	t.Helper()
	sim, err := eslsim.Start(eslsim.Options{Password: "s3cret", HeartbeatInterval: 20 * time.Millisecond, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func newFreeSWITCH(t *testing.T, addr string, rule config.TenantRule) *freeswitch.Adapter {
	t.Helper()
	a, err := freeswitch.New(freeswitch.Options{
		FreeSWITCH: config.FreeSWITCH{Address: addr, Password: config.Secret("s3cret")},
		PBX:        config.PBX{DefaultTenant: "default", Tenant: rule},
		Logger:     zaptest.NewLogger(t),
		// The watchdog notices a frozen link after 1s; a command gives up
		// after 300ms.
		HeartbeatInterval: 20 * time.Millisecond, MissedHeartbeats: 50, CommandTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func connectFreeSWITCH(t *testing.T, a *freeswitch.Adapter) {
	t.Helper()
	run(t, func(ctx context.Context) error { return a.Run(ctx, nullSink{}) })
	await(t, "connected", func() bool { return a.Ready() == nil })
}

var domainName = config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}

// TestFreeSWITCHScriptExtensions: the simulator's own directory (the
// conformance scripts' 1001-1003 in domain acme) under FusionPBX's
// domain_name rule, listed with `bgapi list_users` while a call is up.
func TestFreeSWITCHScriptExtensions(t *testing.T) {
	sim := startESL(t, nil)
	a := newFreeSWITCH(t, sim.Addr(), domainName)
	connectFreeSWITCH(t, a)
	sim.Do(func(p *eslsim.Player) {
		c := p.Trunk()
		p.Ring(p.Dial(c, "1001"))
	})

	got, err := a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "script directory", got, []store.Extension{
		{Tenant: "acme", Number: "1001", Name: "Ext 1001", Device: "user/1001@acme"},
		{Tenant: "acme", Number: "1002", Name: "Ext 1002", Device: "user/1002@acme"},
		{Tenant: "acme", Number: "1003", Name: "Ext 1003", Device: "user/1003@acme"},
	})
	if cmds := sim.Commands(); !slices.ContainsFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "bgapi list_users") }) {
		t.Errorf("commands %q: no bgapi list_users", cmds)
	}
}

// TestFreeSWITCHTwoTenants: two domains on one switch, each with its 1001,
// users in several groups listed once, a user with no name.
func TestFreeSWITCHTwoTenants(t *testing.T) {
	sim := startESL(t, []eslsim.User{
		{ID: "1001", Domain: "acme", Groups: []string{"default", "sales"}, Context: "default", CallerIDName: "Ana García", CallerIDNumber: "1001",
			Contact: "sofia/internal/sip:1001@192.0.2.11:5060"},
		{ID: "1002", Domain: "acme", Groups: []string{"sales"}, Context: "default"},
		{ID: "1001", Domain: "globex", Groups: []string{"default"}, Context: "default", CallerIDName: "Gil Globex", CallerIDNumber: "1001"},
		{ID: "reception", Domain: "globex", Groups: []string{"default", "support"}, Context: "default", CallerIDName: "Reception"},
	})
	a := newFreeSWITCH(t, sim.Addr(), domainName)
	connectFreeSWITCH(t, a)
	got, err := a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "domain_name", got, []store.Extension{
		{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "user/1001@acme"},
		{Tenant: "acme", Number: "1002", Device: "user/1002@acme"},
		{Tenant: "globex", Number: "1001", Name: "Gil Globex", Device: "user/1001@globex"},
		{Tenant: "globex", Number: "reception", Name: "Reception", Device: "user/reception@globex"},
	})

	// Under the fixed rule both 1001s are the default tenant's one 1001.
	a = newFreeSWITCH(t, sim.Addr(), config.TenantRule{From: config.TenantFixed})
	connectFreeSWITCH(t, a)
	got, err = a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "fixed", got, []store.Extension{
		{Tenant: "default", Number: "1001", Name: "Ana García", Device: "user/1001@acme"},
		{Tenant: "default", Number: "1002", Device: "user/1002@acme"},
		{Tenant: "default", Number: "reception", Name: "Reception", Device: "user/reception@globex"},
	})

	// A switch with no users.
	sim.SetUsers(nil)
	if got, err := a.Extensions(listCtx(t)); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no users: %+v, %v", got, err)
	}
}

// TestFreeSWITCHDirectoryTenantVariable: a FusionPBX-style domain names a
// tenant with its dots as underscores; a directory variable
// (ringside_tenant) names it as the admin likes, read per user with
// user_data, where the domain or the user sets it. A user without it has no
// tenant ("").
func TestFreeSWITCHDirectoryTenantVariable(t *testing.T) {
	sim := startESL(t, []eslsim.User{
		{ID: "1001", Domain: "acme.example.com", Groups: []string{"default"}, Context: "acme.example.com", CallerIDName: "Ana García",
			Vars: map[string]string{"ringside_tenant": "acme"}},
		{ID: "1001", Domain: "globex.example.com", Groups: []string{"default"}, Context: "globex.example.com", CallerIDName: "Gil Globex",
			Vars: map[string]string{"ringside_tenant": "globex"}},
		{ID: "1002", Domain: "globex.example.com", Groups: []string{"default"}, Context: "globex.example.com"},
	})
	a := newFreeSWITCH(t, sim.Addr(), config.TenantRule{From: config.TenantVariable, Variable: "ringside_tenant"})
	connectFreeSWITCH(t, a)
	got, err := a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "ringside_tenant", got, []store.Extension{
		{Number: "1002", Device: "user/1002@globex.example.com"},
		{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "user/1001@acme.example.com"},
		{Tenant: "globex", Number: "1001", Name: "Gil Globex", Device: "user/1001@globex.example.com"},
	})
	var lookups int
	for _, c := range sim.Commands() {
		if strings.HasPrefix(c, "bgapi user_data ") && strings.HasSuffix(c, " var ringside_tenant") {
			lookups++
		}
	}
	if lookups != 3 {
		t.Errorf("%d user_data lookups, want 3: %q", lookups, sim.Commands())
	}

	// Under domain_name the domains are the tenants, dots as underscores.
	a = newFreeSWITCH(t, sim.Addr(), domainName)
	connectFreeSWITCH(t, a)
	got, err = a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "domain_name", got, []store.Extension{
		{Tenant: "acme_example_com", Number: "1001", Name: "Ana García", Device: "user/1001@acme.example.com"},
		{Tenant: "globex_example_com", Number: "1001", Name: "Gil Globex", Device: "user/1001@globex.example.com"},
		{Tenant: "globex_example_com", Number: "1002", Device: "user/1002@globex.example.com"},
	})
}

// TestFreeSWITCHNotConnected: the listing goes over the event socket:
// before Run, after FreeSWITCH went away and on a frozen link it fails
// clearly, retryable, and within the command timeout.
func TestFreeSWITCHNotConnected(t *testing.T) {
	sim := startESL(t, nil)
	a := newFreeSWITCH(t, sim.Addr(), domainName)
	_, err := a.Extensions(listCtx(t))
	if !errors.Is(err, freeswitch.ErrNotConnected) || fault.IsPermanent(err) || err.Error() != "freeswitch: list_users: not connected" {
		t.Fatalf("before Run: %v", err)
	}

	connectFreeSWITCH(t, a)
	sim.Freeze()
	start := time.Now()
	_, err = a.Extensions(listCtx(t))
	if !errors.Is(err, context.DeadlineExceeded) || fault.IsPermanent(err) || !strings.HasPrefix(err.Error(), "freeswitch: list_users: ") ||
		time.Since(start) > time.Second {
		t.Fatalf("frozen link: %v after %v", err, time.Since(start))
	}

	// The watchdog reconnects; then FreeSWITCH goes away for good.
	await(t, "a listing after reconnecting", func() bool {
		_, err := a.Extensions(listCtx(t))
		return err == nil
	})
	_ = sim.Close()
	await(t, "disconnected", func() bool { return a.Ready() != nil })
	_, err = a.Extensions(listCtx(t))
	if !errors.Is(err, freeswitch.ErrNotConnected) || fault.IsPermanent(err) {
		t.Fatalf("FreeSWITCH gone: %v", err)
	}
}
