package discovery

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/asterisk"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/store"
)

func startARI(t *testing.T, o arisim.Options) *arisim.Server {
	t.Helper()
	sim := arisim.New(o)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func newAsterisk(t *testing.T, url string, rule config.TenantRule, parties asterisk.Parties) *asterisk.Adapter {
	t.Helper()
	a, err := asterisk.New(asterisk.Options{
		PBX: config.PBX{DefaultTenant: "default", Tenant: rule,
			Asterisk: config.Asterisk{URL: url, Username: "ringside", Password: "secret", App: "ringside"}},
		Parties: parties,
		Logger:  zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// connectAsterisk runs the adapter until it is connected and reconciled.
func connectAsterisk(t *testing.T, sim *arisim.Server, a *asterisk.Adapter) {
	t.Helper()
	run(t, func(ctx context.Context) error { return a.Run(ctx, nullSink{}) })
	if err := sim.WaitSockets(listCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := sim.Flush(listCtx(t)); err != nil {
		t.Fatal(err)
	}
	await(t, "connected", func() bool { return a.Ready() == nil })
}

var contextPrefix = config.TenantRule{From: config.TenantContextPrefix, Separator: "-"}

// TestAsteriskScriptExtensions: the simulator's own cast (the conformance
// scripts' extensions 1001-1003 in acme-internal, the trunk in
// acme-from-trunk), listed while a call is up: the trunk is not an
// extension, the tenant is the context's prefix as for the calls.
func TestAsteriskScriptExtensions(t *testing.T) {
	sim := startARI(t, arisim.Options{Tenant: "acme"})
	a := newAsterisk(t, sim.URL(), contextPrefix, asterisk.Parties{})
	connectAsterisk(t, sim, a)
	sim.StartInbound("1002")

	got, err := a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "script cast", got, []store.Extension{
		{Tenant: "acme", Number: "1001", Name: "Ext 1001", Device: "PJSIP/1001"},
		{Tenant: "acme", Number: "1002", Name: "Ext 1002", Device: "PJSIP/1002"},
		{Tenant: "acme", Number: "1003", Name: "Ext 1003", Device: "PJSIP/1003"},
	})
}

// twoTenants is one Asterisk serving acme and globex: tenant-prefixed
// endpoint names, one context per tenant, a trunk each.
func twoTenants() []arisim.Endpoint {
	return []arisim.Endpoint{
		{Resource: "acme-1001", Context: "acme-internal", CallerIDName: "Ana García", CallerIDNumber: "1001", Vars: map[string]string{"TENANT": "acme"}},
		{Resource: "acme-1002", Context: "acme-internal", CallerIDNumber: "1002", Vars: map[string]string{"TENANT": "acme"}, State: "offline"},
		{Resource: "globex-1001", Context: "globex-internal", CallerIDName: "Gil Globex", CallerIDNumber: "1001", Vars: map[string]string{"TENANT": "globex"}},
		{Resource: "globex-2050", Context: "globex-internal", CallerIDName: "Reception", Vars: map[string]string{"TENANT": "globex"}},
		{Resource: "acme-trunk", Context: "acme-from-trunk", Vars: map[string]string{"TENANT": "acme"}},
		{Resource: "globex-4000", Context: "globex-from-trunk", CallerIDNumber: "+4940555000", Vars: map[string]string{"TENANT": "globex"}}, // a trunk named like an extension
		{Resource: "acme-9000", Context: "acme-internal", Vars: map[string]string{"TENANT": "acme"}},                                        // listed in Trunks
	}
}

var twoTenantParties = asterisk.Parties{
	Extension:    regexp.MustCompile(`^[a-z]+-([0-9]{2,6})$`),
	Trunks:       []string{"acme-9000"},
	TrunkContext: regexp.MustCompile(`-from-trunk$`),
}

// TestAsteriskTwoTenants: acme-1001 and globex-1001 are both extension 1001,
// each of its own tenant, by the context_prefix rule (their contexts) and by
// the variable rule (their set_var TENANT) alike; trunks are left out by
// name, by Trunks and by TrunkContext. Under the fixed rule the two 1001s
// are one extension of the default tenant.
func TestAsteriskTwoTenants(t *testing.T) {
	sim := startARI(t, arisim.Options{Endpoints: twoTenants()})
	want := []store.Extension{
		{Tenant: "acme", Number: "1001", Name: "Ana García", Device: "PJSIP/acme-1001"},
		{Tenant: "acme", Number: "1002", Device: "PJSIP/acme-1002"},
		{Tenant: "globex", Number: "1001", Name: "Gil Globex", Device: "PJSIP/globex-1001"},
		{Tenant: "globex", Number: "2050", Name: "Reception", Device: "PJSIP/globex-2050"},
	}
	for name, rule := range map[string]config.TenantRule{
		"context_prefix": contextPrefix,
		"variable":       {From: config.TenantVariable, Variable: "TENANT"},
	} {
		a := newAsterisk(t, sim.URL(), rule, twoTenantParties)
		got, err := a.Extensions(listCtx(t))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		expect(t, name, got, want)
	}

	a := newAsterisk(t, sim.URL(), config.TenantRule{From: config.TenantFixed}, twoTenantParties)
	got, err := a.Extensions(listCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "fixed", got, []store.Extension{
		{Number: "1001", Name: "Ana García", Device: "PJSIP/acme-1001"},
		{Number: "1002", Device: "PJSIP/acme-1002"},
		{Number: "2050", Name: "Reception", Device: "PJSIP/globex-2050"},
	})

	// The default pattern takes none of these names: no extension, no error.
	a = newAsterisk(t, sim.URL(), contextPrefix, asterisk.Parties{})
	if got, err := a.Extensions(listCtx(t)); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("default pattern: %+v, %v", got, err)
	}
	// An Asterisk without endpoints.
	sim.SetEndpoints(nil)
	if got, err := a.Extensions(listCtx(t)); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no endpoints: %+v, %v", got, err)
	}
}

// TestAsteriskWithoutEventSocket: the listing is plain REST, like the
// commands: it works before Run and while the event socket is refused, and
// fails clearly (retryable) when Asterisk cannot be reached or errs.
func TestAsteriskWithoutEventSocket(t *testing.T) {
	sim := startARI(t, arisim.Options{Tenant: "acme"})
	a := newAsterisk(t, sim.URL(), contextPrefix, asterisk.Parties{})
	if got, err := a.Extensions(listCtx(t)); err != nil || len(got) != 3 {
		t.Fatalf("before Run: %+v, %v", got, err)
	}

	sim.RejectSockets(true)
	run(t, func(ctx context.Context) error { return a.Run(ctx, nullSink{}) })
	if a.Ready() == nil {
		t.Fatal("connected although the event socket is refused")
	}
	if got, err := a.Extensions(listCtx(t)); err != nil || len(got) != 3 {
		t.Fatalf("event socket refused: %+v, %v", got, err)
	}

	sim.FailREST(1, http.StatusInternalServerError)
	_, err := a.Extensions(listCtx(t))
	if asterisk.StatusOf(err) != http.StatusInternalServerError || fault.IsPermanent(err) || !strings.HasPrefix(err.Error(), "asterisk: extensions: GET /endpoints: 500") {
		t.Fatalf("REST failure: %v", err)
	}

	url := sim.URL()
	sim.Close()
	_, err = a.Extensions(listCtx(t))
	var he *asterisk.HTTPError
	if err == nil || errors.As(err, &he) || fault.IsPermanent(err) || !strings.HasPrefix(err.Error(), "asterisk: extensions: GET /endpoints: ") ||
		!strings.Contains(err.Error(), strings.TrimPrefix(url, "http://")) {
		t.Fatalf("Asterisk down: %v", err)
	}
}
