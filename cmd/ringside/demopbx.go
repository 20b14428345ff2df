package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/directory"
	"github.com/ringside/ringside/pkg/store"
)

// demoTenant is the company the demo's simulated Asterisk serves.
const demoTenant = "acme"

// demoActor is who the demo's own admin actions are by.
var demoActor = directory.Actor{Username: "demo", Role: store.RoleOperator, Via: store.ViaCLI}

// demoExtensions are the simulated Asterisk's extensions, 1001 upwards,
// named after the demo org's users (demoNames).
const demoExtensions = 10

// startDemoPBX starts the ARI simulator, stamping events with the wall
// clock, and points the configuration's PBX side at it.
func startDemoPBX(cfg *config.Config) (*arisim.Server, error) {
	var eps []arisim.Endpoint
	for i := range demoExtensions {
		ext := fmt.Sprint(1001 + i)
		eps = append(eps, arisim.Endpoint{Resource: ext, Context: demoTenant + "-internal", CallerIDName: demoNames[i],
			CallerIDNumber: ext, Vars: map[string]string{"TENANT": demoTenant}})
	}
	eps = append(eps, arisim.Endpoint{Resource: "trunk", Context: demoTenant + "-from-trunk"})
	password := randomHex(16)
	sim := arisim.New(arisim.Options{Username: cfg.PBX.Asterisk.Username, Password: password, Tenant: demoTenant,
		ChannelVars: []string{"CHANNEL(linkedid)", "TENANT"}, App: cfg.PBX.Asterisk.App, Clock: time.Now, Endpoints: eps})
	if err := sim.Start(); err != nil {
		return nil, fmt.Errorf("ari simulator: %w", err)
	}
	cfg.PBX.Kind = config.PBXAsterisk
	cfg.PBX.Asterisk.URL, cfg.PBX.Asterisk.Password = sim.URL(), config.Secret(password)
	cfg.PBX.DefaultTenant = demoTenant
	cfg.PBX.Tenant = config.TenantRule{From: config.TenantVariable, Variable: "TENANT", Separator: "-"}
	return sim, nil
}

// demoCalls places the demo's calls on the simulator: concurrent callers,
// each calling again after a pause; a call rings one to three extensions
// (a ring group), and one of them answers, or nobody does and the caller
// gives up. Ring and talk times are those of real callers, speed times
// faster.
type demoCalls struct {
	sim        *arisim.Server
	concurrent int
	speed      float64

	mu  sync.Mutex // guards rng
	rng *mrand.Rand
}

// run places calls until ctx ends.
func (d *demoCalls) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.concurrent {
		wg.Go(func() {
			for d.wait(ctx, 0, 4*time.Second) {
				d.call(ctx)
			}
		})
	}
	wg.Wait()
}

// call places one call.
func (d *demoCalls) call(ctx context.Context) {
	d.mu.Lock()
	exts := d.rng.Perm(demoExtensions)[:1+d.rng.IntN(3)]
	from := demoCallers[d.rng.IntN(len(demoCallers))]
	missed, answerer, callerFirst := d.rng.IntN(4) == 0, d.rng.IntN(len(exts)), d.rng.IntN(2) == 0
	d.mu.Unlock()
	var numbers []string
	for _, e := range exts {
		numbers = append(numbers, fmt.Sprint(1001+e))
	}
	trunk, agents := d.sim.RingFrom(from, numbers...)
	if !d.wait(ctx, 3*time.Second, 15*time.Second) || missed {
		d.sim.Abandon(trunk, agents)
		return
	}
	agent := agents[answerer]
	bridge := d.sim.AnswerBy(trunk, agent, agents)
	d.wait(ctx, 15*time.Second, 180*time.Second)
	if callerFirst {
		d.sim.EndCall(bridge, trunk, agent)
	} else {
		d.sim.EndCall(bridge, agent, trunk)
	}
}

// wait sleeps a random time in [lo, hi) divided by speed; false when ctx
// ended first.
func (d *demoCalls) wait(ctx context.Context, lo, hi time.Duration) bool {
	d.mu.Lock()
	w := lo + time.Duration(d.rng.Int64N(int64(hi-lo)))
	d.mu.Unlock()
	t := time.NewTimer(time.Duration(float64(w) / d.speed))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// demoLogins are the portal logins the demo creates and prints: an
// operator and the demo tenant's company admin, with fresh passwords.
type demoLogins struct {
	operator, operatorPassword string
	admin, adminPassword       string
}

func newDemoLogins() demoLogins {
	return demoLogins{operator: "operator", operatorPassword: randomHex(8),
		admin: demoTenant + "-admin", adminPassword: randomHex(8)}
}

// create creates the accounts, or sets their passwords when an earlier
// run on the same -data created them.
func (l demoLogins) create(ctx context.Context, dir *directory.Service) error {
	for _, a := range []directory.NewAccount{
		{Username: l.operator, Password: l.operatorPassword, Role: store.RoleOperator},
		{Username: l.admin, Password: l.adminPassword, Role: store.RoleAdmin, Tenant: demoTenant},
	} {
		_, err := dir.CreateAccount(ctx, demoActor, a)
		if errors.Is(err, store.ErrConflict) {
			err = dir.SetPassword(ctx, demoActor, a.Username, a.Password)
		}
		if err != nil {
			return fmt.Errorf("demo: account %s: %w", a.Username, err)
		}
	}
	return nil
}

// randomHex is n random bytes, hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
