package conformance

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ringside/ringside/adapters/asterisk"
	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
)

// asteriskHarness plays each scenario on a fresh ARI simulator with the real
// Asterisk adapter connected to it, feeding a real state machine. The tenant
// comes from the dialplan context (acme-from-trunk, acme-internal), as the
// context_prefix rule reads it; linkedid and MixMonitor file names travel in
// channelvars, as deploy/asterisk/ari.conf configures them.
type asteriskHarness struct{}

// machineSink is the pipeline's contract around a bare state machine.
type machineSink struct {
	mu     sync.Mutex
	m      *callstate.Machine
	events []events.Call
}

func (s *machineSink) Submit(_ context.Context, sig callstate.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = s.m.Apply(sig, s.events)
	return nil
}

func (s *machineSink) LiveLegs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.LiveLegs()
}

func (asteriskHarness) Play(t *testing.T, scenario string) []events.Call {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sim := arisim.New(arisim.Options{Tenant: Tenant, ChannelVars: []string{"CHANNEL(linkedid)", "MIXMONITOR_FILENAME"}})
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ad, err := asterisk.New(asterisk.Options{
		PBX: config.PBX{
			DefaultTenant: "default",
			Tenant:        config.TenantRule{From: config.TenantContextPrefix, Separator: "-"},
			Asterisk:      config.Asterisk{URL: sim.URL(), Username: "ringside", Password: "secret", App: "ringside"},
		},
		Logger: zaptest.NewLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &machineSink{m: callstate.New(callstate.Options{IDPrefix: "pbx-", DefaultTenant: "default"})}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ad.Run(runCtx, sink) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if err := sim.WaitSockets(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := sim.Flush(ctx); err != nil { // connected and reconciled
		t.Fatal(err)
	}
	if scenario == "click_to_call" {
		asteriskClickToCall(ctx, t, sim, ad)
	} else if err := sim.Play(scenario); err != nil {
		t.Fatal(err)
	}
	if err := sim.WaitIdle(ctx); err != nil {
		t.Fatalf("calls did not end: %v", err)
	}
	if err := sim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	return append([]events.Call(nil), sink.events...)
}

// asteriskClickToCall is what Ringside's click-to-call does with the
// adapter's commands: ring 1001 (leg A) showing the customer, and once it
// answered, dial the customer (leg B) into a bridge with it; when the
// customer hangs up, hang up leg A and remove the bridge.
func asteriskClickToCall(ctx context.Context, t *testing.T, sim *arisim.Server, ad *asterisk.Adapter) {
	const a, b, br = "c2c-1-a", "c2c-1-b", "c2c-1"
	err := ad.Originate(ctx, asterisk.OriginateRequest{ChannelID: a, Endpoint: "PJSIP/1001",
		CallerID: `"` + Customer + `" <` + Customer + `>`, AppArgs: []string{"c2c", "1"}, Timeout: 30 * time.Second,
		ClickToCall: &asterisk.ClickToCall{Extension: "1001", Customer: Customer}})
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := sim.Channel(a); !ok || ch.State != "Up" || ch.Stasis == "" {
		t.Fatalf("leg A = %+v, want answered in the application", ch)
	}
	err = ad.DialSecondLeg(ctx, asterisk.SecondLeg{BridgeID: br, Caller: a, ChannelID: b,
		Endpoint: "PJSIP/" + Customer + "@trunk", Customer: Customer, CallerNumber: DID,
		AppArgs: []string{"c2c-b", "1"}, Timeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sim.Advance(90 * time.Second)
	sim.RemoteHangup(b, 16)
	if err := ad.Hangup(ctx, a, "normal"); err != nil {
		t.Fatal(err)
	}
	if err := ad.DestroyBridge(ctx, br); err != nil {
		t.Fatal(err)
	}
}

func TestAsteriskConformance(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	Run(t, asteriskHarness{})
}
