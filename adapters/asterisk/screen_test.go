package asterisk

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/screen"
)

// fakeScreener answers with a fixed verdict, after wait (or ctx's end),
// and remembers what it was asked and told.
type fakeScreener struct {
	v    screen.Verdict
	wait time.Duration

	mu     sync.Mutex
	asked  []screen.Call
	told   []screen.Verdict
	ctxEnd []bool // whether Screen's ctx had a deadline
}

func (f *fakeScreener) Screen(ctx context.Context, c screen.Call) screen.Verdict {
	f.mu.Lock()
	f.asked = append(f.asked, c)
	_, ok := ctx.Deadline()
	f.ctxEnd = append(f.ctxEnd, ok)
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

func (f *fakeScreener) calls() ([]screen.Call, []screen.Verdict) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]screen.Call(nil), f.asked...), append([]screen.Verdict(nil), f.told...)
}

// screened runs one screened call against an adapter with screener s (none
// when nil) and returns what became of it.
func screened(t *testing.T, s screen.Decider, deadline time.Duration, call arisim.ScreenedCall) (*rig, arisim.Screening) {
	t.Helper()
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), nil)
	if s != nil {
		r.ad.SetScreener(s, deadline)
	}
	connected(t, r, 1)
	trunk := sim.StartScreened(call)
	sc, err := sim.WaitScreened(ctxT(t), trunk)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, r)
	r.ad.actions.Wait()
	return r, sc
}

// outcomes reads ringside_screen_calls_total{outcome=o}.
func outcomes(r *rig, o screen.Outcome) float64 {
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

// TestScreenWithoutScreenerContinuesAtOnce: with no screener (Zoho off,
// the demo) a waiting call goes on at once, unchanged.
func TestScreenWithoutScreenerContinuesAtOnce(t *testing.T) {
	r, sc := screened(t, nil, 0, arisim.ScreenedCall{})
	if sc.Status != "SUCCESS" || sc.CallerName != "" || sc.Owner != "" || sc.AnsweredBy != "1001" {
		t.Fatalf("screening %+v", sc)
	}
	if got := outcomes(r, screen.OutcomeOff); got != 1 {
		t.Errorf("calls{outcome=off} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.ad.m.requests.WithLabelValues("continue", "ok")); got != 1 {
		t.Errorf("continue requests = %v", got)
	}
}

// TestScreenNamesAndRoutes: the CRM name reaches the caller id of the
// waiting channel and the phones' connected line; RINGSIDE_OWNER makes the
// owner ring first; the call's events carry the name.
func TestScreenNamesAndRoutes(t *testing.T) {
	f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}}
	r, sc := screened(t, f, time.Second, arisim.ScreenedCall{})
	if sc.Status != "SUCCESS" || sc.CallerName != "Eva Meyer" || sc.Owner != "1002" || sc.AnsweredBy != "1002" {
		t.Fatalf("screening %+v", sc)
	}
	if len(sc.Rang) != 1 || sc.Rang[0].Connected != (arisim.CallerID{Name: "Eva Meyer", Number: arisim.Customer}) {
		t.Errorf("the owner's phone showed %+v", sc.Rang)
	}
	asked, told := f.calls()
	if len(asked) != 1 || asked[0].Number != arisim.Customer || asked[0].Tenant != "acme" || asked[0].Channel != sc.Trunk || asked[0].Dialed != arisim.DID {
		t.Errorf("asked %+v", asked)
	}
	if len(told) != 1 || told[0] != f.v || !f.ctxEnd[0] {
		t.Errorf("told %+v (deadline %v)", told, f.ctxEnd)
	}
	evs, _ := r.sink.snapshot()
	var ended events.Call
	for _, e := range evs {
		if e.Type == events.Ended {
			ended = e
		}
	}
	if ended.ExternalName != "Eva Meyer" || ended.AnsweredBy != "1002" || ended.Disposition != events.DispositionAnswered {
		t.Errorf("ended %+v", ended)
	}
	if got := outcomes(r, screen.OutcomeOwner); got != 1 {
		t.Errorf("calls{outcome=owner} = %v", got)
	}
}

// TestScreenDeadline: a screener slower than the deadline is not waited
// for: the call goes on within the deadline (plus a margin for the REST
// round trips), as it is, and the screener is told so.
func TestScreenDeadline(t *testing.T) {
	f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeNamed, Name: "Too Late"}, wait: 5 * time.Second}
	deadline := 100 * time.Millisecond
	r, sc := screened(t, f, deadline, arisim.ScreenedCall{})
	if sc.Status != "SUCCESS" || sc.CallerName != "" {
		t.Fatalf("screening %+v", sc)
	}
	if d := sc.Left.Sub(sc.Entered); d < deadline || d > deadline+400*time.Millisecond {
		t.Errorf("the dialplan went on %v after the call entered the application, want about %v", d, deadline)
	}
	if _, told := f.calls(); len(told) != 1 || told[0].Outcome != screen.OutcomeLate || told[0].Name != "" {
		t.Errorf("told %+v", told)
	}
	if got := outcomes(r, screen.OutcomeLate); got != 1 {
		t.Errorf("calls{outcome=late} = %v", got)
	}
}

// TestScreenRejects: a blacklisted caller is hung up busy before anything
// rings; congestion and hangup map onto ARI's reasons.
func TestScreenRejects(t *testing.T) {
	for reason, cause := range map[string]int{"busy": 17, "congestion": 34, "hangup": 16} {
		t.Run(reason, func(t *testing.T) {
			f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeBlacklisted, Reject: reason, Blocked: "+4990*"}}
			r, sc := screened(t, f, time.Second, arisim.ScreenedCall{From: "+4990012345"})
			if sc.HangupCause != cause || sc.Status != "" || len(sc.Rang) != 0 {
				t.Fatalf("screening %+v, want cause %d and nothing rung", sc, cause)
			}
			evs, _ := r.sink.snapshot()
			if n := byType(evs, events.Ringing); len(n) != 0 {
				t.Errorf("ringing events %v", n)
			}
			if n := byType(evs, events.Ended); len(n) != 1 {
				t.Errorf("ended events %v", n)
			}
			if got := outcomes(r, screen.OutcomeBlacklisted); got != 1 {
				t.Errorf("calls{outcome=blacklisted} = %v", got)
			}
		})
	}
}

// TestScreenReleasesCallsWaitingAcrossAReconnect: a call that entered the
// application while the socket was dead is let go by the next connection.
func TestScreenReleasesCallsWaitingAcrossAReconnect(t *testing.T) {
	sim := newSim(t, arisim.Options{})
	r := start(t, sim, sim.URL(), func(o *Options) { o.PingInterval = -1 })
	f := &fakeScreener{v: screen.Verdict{Outcome: screen.OutcomeNamed, Name: "Eva Meyer"}}
	r.ad.SetScreener(f, time.Second)
	connected(t, r, 1)
	sim.Freeze(true) // the StasisStart below never reaches the adapter
	trunk := sim.StartScreened(arisim.ScreenedCall{})
	if got := sim.InStasis("screen"); len(got) != 1 {
		t.Fatalf("waiting: %v", got)
	}
	sim.DropSockets()
	sc, err := sim.WaitScreened(ctxT(t), trunk)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != "SUCCESS" || sc.CallerName != "" {
		t.Errorf("screening %+v", sc)
	}
	if asked, _ := f.calls(); len(asked) != 0 {
		t.Errorf("the screener was asked about a call found waiting: %+v", asked)
	}
}
