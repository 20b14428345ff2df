package screen

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// decider answers v; with release set, only once release is closed,
// whatever its context says (a Decider that overruns its deadline).
type decider struct {
	v       Verdict
	release chan struct{}

	mu       sync.Mutex
	asked    []Call
	deadline []time.Time // of Screen's context
	told     []Verdict
}

func (d *decider) Screen(ctx context.Context, c Call) Verdict {
	dl, _ := ctx.Deadline()
	d.mu.Lock()
	d.asked, d.deadline = append(d.asked, c), append(d.deadline, dl)
	d.mu.Unlock()
	if d.release != nil {
		<-d.release
	}
	return d.v
}

func (d *decider) Screened(_ Call, v Verdict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.told = append(d.told, v)
}

func (d *decider) seen() ([]Call, []time.Time, []Verdict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.asked...), append([]time.Time(nil), d.deadline...), append([]Verdict(nil), d.told...)
}

// waited waits for wg, failing the test if that takes long (a goroutine
// stuck delivering an answer no one reads).
func waited(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the Decider's goroutine did not end")
	}
}

// TestGateOff: with no Decider (the zero Gate, or Set with nil) every call
// is OutcomeOff at once and nothing is spawned.
func TestGateOff(t *testing.T) {
	spawn := func(func()) { t.Error("spawned without a Decider") }
	var g Gate
	if v := g.Decide(t.Context(), Call{Channel: "c1"}, time.Now(), spawn); v != (Verdict{Outcome: OutcomeOff}) {
		t.Errorf("zero Gate: %+v", v)
	}
	d := &decider{v: Verdict{Outcome: OutcomeNamed, Name: "Eva Meyer"}}
	g.Set(d, time.Second)
	g.Set(nil, time.Second)
	if v := g.Decide(t.Context(), Call{Channel: "c1"}, time.Now(), spawn); v.Outcome != OutcomeOff {
		t.Errorf("after Set(nil): %+v", v)
	}
	if asked, _, told := d.seen(); len(asked) != 0 || len(told) != 0 {
		t.Errorf("asked %+v, told %+v", asked, told)
	}
}

// TestGateInTime: an answer within the deadline is the verdict, the
// Decider is told it, and Screen's context ends at start plus the deadline
// (DefaultDeadline when none is given).
func TestGateInTime(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range []struct {
		name           string
		v              Verdict
		deadline, want time.Duration
	}{
		{"named", Verdict{Outcome: OutcomeOwner, Name: "Eva Meyer", Owner: "1002", Record: "Contacts/4711"}, time.Second, time.Second},
		{"blacklisted", Verdict{Outcome: OutcomeBlacklisted, Reject: "busy", Blocked: "+4990*"}, 5 * time.Second, 5 * time.Second},
		{"default deadline", Verdict{Outcome: OutcomeMiss, Refresh: true}, 0, DefaultDeadline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Gate
			d := &decider{v: tc.v}
			g.Set(d, tc.deadline)
			var wg sync.WaitGroup
			c := Call{Channel: "c1", Tenant: "acme", Number: "+4930123456"}
			start := time.Now()
			if v := g.Decide(t.Context(), c, start, wg.Go); v != tc.v {
				t.Errorf("verdict %+v, want %+v", v, tc.v)
			}
			waited(t, &wg)
			asked, deadline, told := d.seen()
			if len(asked) != 1 || asked[0] != c {
				t.Errorf("asked %+v", asked)
			}
			if len(deadline) != 1 || !deadline[0].Equal(start.Add(tc.want)) {
				t.Errorf("Screen's deadline %v, want start + %v", deadline, tc.want)
			}
			if len(told) != 1 || told[0] != tc.v {
				t.Errorf("told %+v", told)
			}
		})
	}
}

// TestGateLate: a Decider that overruns the deadline is not waited for:
// the verdict is OutcomeLate at the deadline, the Decider is told so, and
// its answer, when it comes, is dropped without blocking its goroutine.
func TestGateLate(t *testing.T) {
	defer goleak.VerifyNone(t)
	var g Gate
	d := &decider{v: Verdict{Outcome: OutcomeNamed, Name: "Too Late"}, release: make(chan struct{})}
	deadline := 50 * time.Millisecond
	g.Set(d, deadline)
	var wg sync.WaitGroup
	start := time.Now()
	v := g.Decide(t.Context(), Call{Channel: "c1"}, start, wg.Go)
	took := time.Since(start)
	if v != (Verdict{Outcome: OutcomeLate}) {
		t.Errorf("verdict %+v, want late", v)
	}
	if took < deadline || took > deadline+time.Second {
		t.Errorf("decided after %v, want about %v", took, deadline)
	}
	if _, _, told := d.seen(); len(told) != 1 || told[0] != v {
		t.Errorf("told %+v before the answer, want the late verdict", told)
	}
	close(d.release) // the answer comes now, and no one reads it
	waited(t, &wg)
	if _, _, told := d.seen(); len(told) != 1 {
		t.Errorf("told %+v after the late answer, want only the late verdict", told)
	}

	// A call handed over longer than the deadline ago is late at once.
	d2 := &decider{v: Verdict{Outcome: OutcomeNamed, Name: "Too Late"}, release: make(chan struct{})}
	g.Set(d2, deadline)
	if v := g.Decide(t.Context(), Call{Channel: "c2"}, time.Now().Add(-time.Second), wg.Go); v.Outcome != OutcomeLate {
		t.Errorf("verdict %+v past the deadline, want late", v)
	}
	close(d2.release)
	waited(t, &wg)
}
