package freeswitch

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eslsim "github.com/ringside/ringside/integration/sim/esl"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/screen"
)

// fakeScreener answers with a fixed verdict, after wait (or ctx's end).
type fakeScreener struct {
	v    screen.Verdict
	wait time.Duration

	mu    sync.Mutex
	asked []screen.Call
	told  []screen.Verdict
}

func (f *fakeScreener) Screen(ctx context.Context, c screen.Call) screen.Verdict {
	f.mu.Lock()
	f.asked = append(f.asked, c)
	f.mu.Unlock()
	if f.wait > 0 {
		select {
		case <-time.After(f.wait):
		case <-ctx.Done():
		}
	}
	return f.v
}

func (f *fakeScreener) Screened(_ screen.Call, v screen.Verdict) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.told = append(f.told, v)
}

// screened plays one screened call (the dialplan sleeping sleep) against
// an adapter with screener s (none when nil).
func screened(t *testing.T, s screen.Decider, deadline time.Duration, call eslsim.ScreenedCall) (*rig, eslsim.Screening) {
	t.Helper()
	sim := startSim(t, eslsim.Options{})
	r := startAdapter(t, sim.Addr(), testPassword, newSink())
	if s != nil {
		r.a.SetScreener(s, deadline)
	}
	await(t, "ready", func() bool { return r.a.Ready() == nil })
	uuid := sim.StartScreened(call)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc, err := sim.WaitScreened(ctx, uuid)
	if err != nil {
		t.Fatal(err)
	}
	r.settle(t, sim)
	r.a.actions.Wait()
	return r, sc
}

func (r *rig) outcomes(o screen.Outcome) float64 {
	mfs, _ := r.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ringside_screen_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == string(o) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// TestScreenSubscribes: the subscription names the screening subclass
// after CUSTOM.
func TestScreenSubscribes(t *testing.T) {
	if got := Subscription("ringside::feature", "ringside::screen"); !strings.HasSuffix(got, "CUSTOM ringside::feature ringside::screen") {
		t.Errorf("subscription %q", got)
	}
}

// TestScreenWithoutScreenerBreaksAtOnce: with no screener the sleep is
// broken at once and the call rings unchanged.
func TestScreenWithoutScreenerBreaksAtOnce(t *testing.T) {
	r, sc := screened(t, nil, 0, eslsim.ScreenedCall{Sleep: 5 * time.Second})
	if !sc.Broken || sc.Left.Sub(sc.Entered) > time.Second || sc.CallerName != "" || sc.AnsweredBy != "1001" {
		t.Fatalf("screening %+v", sc)
	}
	if got := r.outcomes(screen.OutcomeOff); got != 1 {
		t.Errorf("calls{outcome=off} = %v", got)
	}
}

// TestScreenNamesAndRoutes: the CRM name reaches the ringing legs
// (effective_caller_id_name), ringside_owner makes the owner ring first,
// and the screener was asked about the right call.
func TestScreenNamesAndRoutes(t *testing.T) {
	f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}}
	r, sc := screened(t, f, time.Second, eslsim.ScreenedCall{Sleep: 5 * time.Second})
	if !sc.Broken || sc.CallerName != "Eva Meyer" || sc.Owner != "1002" || sc.AnsweredBy != "1002" ||
		!slices.Equal(sc.Rang, []eslsim.Rung{{Extension: "1002", CallerIDName: "Eva Meyer"}}) {
		t.Fatalf("screening %+v", sc)
	}
	f.mu.Lock()
	asked, told := f.asked, f.told
	f.mu.Unlock()
	if len(asked) != 1 || asked[0].Number != eslsim.Customer || asked[0].Tenant != eslsim.Domain || asked[0].Channel != sc.Trunk ||
		asked[0].Dialed != eslsim.DID {
		t.Errorf("asked %+v", asked)
	}
	if len(told) != 1 || told[0] != f.v {
		t.Errorf("told %+v", told)
	}
	var ended events.Call
	for _, e := range r.sink.ended() {
		ended = e
	}
	if ended.AnsweredBy != "1002" || ended.Disposition != events.DispositionAnswered {
		t.Errorf("ended %+v", ended)
	}
	if got := r.outcomes(screen.OutcomeOwner); got != 1 {
		t.Errorf("calls{outcome=owner} = %v", got)
	}
}

// TestScreenDeadline: a screener slower than the deadline is not waited
// for: the sleep is broken within the deadline and the call rings as it is.
func TestScreenDeadline(t *testing.T) {
	f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeNamed, Name: "Too Late"}, wait: 5 * time.Second}
	deadline := 100 * time.Millisecond
	r, sc := screened(t, f, deadline, eslsim.ScreenedCall{Sleep: 5 * time.Second})
	if d := sc.Left.Sub(sc.Entered); !sc.Broken || d < deadline || d > deadline+400*time.Millisecond || sc.CallerName != "" {
		t.Fatalf("screening %+v after %v", sc, d)
	}
	if got := r.outcomes(screen.OutcomeLate); got != 1 {
		t.Errorf("calls{outcome=late} = %v", got)
	}
}

// TestScreenRejects: a blacklisted caller is refused with the reason's
// cause before anything rings.
func TestScreenRejects(t *testing.T) {
	for reason, cause := range map[string]string{"busy": "USER_BUSY", "congestion": "NORMAL_CIRCUIT_CONGESTION", "hangup": "NORMAL_CLEARING"} {
		t.Run(reason, func(t *testing.T) {
			f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: reason, Blocked: "+4990*"}}
			r, sc := screened(t, f, time.Second, eslsim.ScreenedCall{From: "+4990012345", Sleep: 5 * time.Second})
			if sc.HangupCause != cause || len(sc.Rang) != 0 || sc.Left.Sub(sc.Entered) > time.Second {
				t.Fatalf("screening %+v, want %s and nothing rung", sc, cause)
			}
			if n := len(r.sink.ended()); n != 1 {
				t.Errorf("%d ended events", n)
			}
			if got := r.outcomes(screen.OutcomeBlacklisted); got != 1 {
				t.Errorf("calls{outcome=blacklisted} = %v", got)
			}
		})
	}
}
