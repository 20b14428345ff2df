package callgen

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestScriptsAreWellFormed(t *testing.T) {
	for sc := Scenario(0); sc < Scenarios; sc++ {
		for _, fl := range []Flavor{Asterisk, FreeSWITCH} {
			t.Run(sc.String()+"/"+fl.String(), func(t *testing.T) {
				sigs := Script(Call{Scenario: sc, Flavor: fl, Agents: []string{"1001", "1002"}, Recording: RecordingAfterEnd}, &IDs{Prefix: "L"}, t0)
				if len(sigs) < 3 {
					t.Fatalf("only %d signals", len(sigs))
				}
				created := map[string]bool{}
				hungUp := map[string]bool{}
				for i, s := range sigs {
					if i > 0 && s.At.Before(sigs[i-1].At) {
						t.Errorf("signal %d (%s) goes back in time", i, s.Kind)
					}
					switch s.Kind {
					case callstate.LegCreated:
						if created[s.Leg] {
							t.Errorf("leg %s created twice", s.Leg)
						}
						created[s.Leg] = true
					case callstate.Hangup:
						hungUp[s.Leg] = true
					}
					if s.Kind != callstate.LegCreated && !created[s.Leg] {
						t.Errorf("signal %d (%s) for leg %s before it was created", i, s.Kind, s.Leg)
					}
				}
				for l := range created {
					if !hungUp[l] {
						t.Errorf("leg %s never hangs up", l)
					}
				}
			})
		}
	}
	if Scenario(200).String() != "unknown" || FreeSWITCH.String() != "freeswitch" {
		t.Error("names")
	}
}

func TestGeneratorIsDeterministicAndInterleaves(t *testing.T) {
	cfg := func() Config {
		return Config{Rand: rand.New(rand.NewPCG(7, 7)), Concurrent: 20, Calls: 300, Prefix: "n-", Tenants: []string{"acme", "globex"}}
	}
	a, b := Mix(cfg()), Mix(cfg())
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("lengths %d and %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("signal %d differs between two runs with the same seed", i)
		}
	}
	origins := map[string]bool{}
	tenants := map[string]bool{}
	switches := 0
	var prevCall string
	for i, s := range a {
		if i > 0 && s.At.Before(a[i-1].At) {
			t.Fatalf("signal %d goes back in time", i)
		}
		if !strings.HasPrefix(s.Leg, "n-") {
			t.Fatalf("leg id %q lacks the prefix", s.Leg)
		}
		if s.Kind == callstate.LegCreated && s.Peer == "" {
			if origins[s.Leg] {
				t.Fatalf("leg %s reused", s.Leg)
			}
			origins[s.Leg] = true
			tenants[s.Tenant] = true
		}
		if s.Leg != prevCall {
			switches++
		}
		prevCall = s.Leg
	}
	if len(origins) < 300 || len(tenants) != 2 {
		t.Errorf("%d calls over tenants %v", len(origins), tenants)
	}
	if switches < len(a)/2 {
		t.Errorf("calls barely interleave: %d leg switches in %d signals", switches, len(a))
	}
}

func TestGeneratorRunsIncrementally(t *testing.T) {
	g := NewGenerator(Config{Rand: rand.New(rand.NewPCG(1, 1)), Concurrent: 5})
	var last time.Time
	for i := 0; i < 10000; i++ {
		s, ok := g.Next()
		if !ok {
			t.Fatal("an endless generator ended")
		}
		if s.At.Before(last) {
			t.Fatal("time went back")
		}
		last = s.At
	}
	if g.Started() < 50 {
		t.Errorf("only %d calls started in 10000 signals", g.Started())
	}
}

func TestWeightsSelectScenarios(t *testing.T) {
	var w Weights
	w[OutboundBusy] = 1
	g := NewGenerator(Config{Rand: rand.New(rand.NewPCG(3, 3)), Weights: w, Calls: 1})
	for i := 0; i < 20; i++ {
		if c := g.RandomCall(); c.Scenario != OutboundBusy {
			t.Fatalf("drew %s with only outbound_busy weighted", c.Scenario)
		}
	}
}
