package conformance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringside/ringside/adapters/freeswitch"
	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
	"github.com/ringside/ringside/pkg/events"
)

// eslMachineSink is the pipeline's contract on a bare state machine: it
// applies signals in order and collects the call events.
type eslMachineSink struct {
	mu     sync.Mutex
	m      *callstate.Machine
	events []events.Call
}

func (s *eslMachineSink) Submit(_ context.Context, sig callstate.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = s.m.Apply(sig, s.events)
	return nil
}

func (s *eslMachineSink) LiveLegs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.LiveLegs()
}

// eslHarness plays the scenarios on the ESL simulator with the real
// FreeSWITCH adapter feeding a real state machine. The tenant comes from
// FusionPBX's domain_name variable (the machine's default is not acme).
type eslHarness struct{}

func (eslHarness) Play(t *testing.T, scenario string) []events.Call {
	t.Helper()
	sim, err := eslsim.Start(eslsim.Options{Password: "s3cret", HeartbeatInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sink := &eslMachineSink{m: callstate.New(callstate.Options{IDPrefix: "fs-", DefaultTenant: "default"})}
	reg := prometheus.NewRegistry()
	a, err := freeswitch.New(freeswitch.Options{
		FreeSWITCH: config.FreeSWITCH{Address: sim.Addr(), Password: config.Secret("s3cret")},
		PBX: config.PBX{DefaultTenant: "default",
			Tenant: config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}},
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx, sink) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eslAwait(t, "adapter ready", func() bool { return a.Ready() == nil })

	if scenario == "click_to_call" {
		o, err := a.Originate(ctx, freeswitch.ClickToCall{
			Endpoint: "user/1001@" + eslsim.Domain, Extension: "1001",
			CustomerEndpoint: "sofia/gateway/" + eslsim.Gateway + "/" + Customer,
			Customer:         Customer, CustomerName: "Customer", CallerIDNumber: DID, Tenant: Tenant,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Wait(ctx); err != nil {
			t.Fatalf("originate: %v", err)
		}
		sim.Quiesce()
	} else if err := sim.Play(scenario); err != nil {
		t.Fatal(err)
	}
	sent := sim.EventsSent()
	eslAwait(t, "every event handled", func() bool { return eslHandled(t, reg) >= sent })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	return append([]events.Call(nil), sink.events...)
}

// eslHandled sums ringside_freeswitch_events_received_total.
func eslHandled(t *testing.T, g prometheus.Gatherer) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "ringside_freeswitch_events_received_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return uint64(n)
}

// eslAwait polls cond until it holds (or fails the test after 10s).
func eslAwait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFreeSWITCHConformance(t *testing.T) {
	Run(t, eslHarness{})
}
