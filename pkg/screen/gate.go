package screen

import (
	"context"
	"sync/atomic"
	"time"
)

// Decider decides about calls waiting to be screened; a Gate asks it.
// *Screener is the one the daemon hands the PBX adapters.
type Decider interface {
	// Screen decides within ctx's deadline.
	Screen(ctx context.Context, c Call) Verdict
	// Screened is told the verdict that is applied, just before it is (the
	// deadline may have overruled Screen's).
	Screened(c Call, v Verdict)
}

var _ Decider = (*Screener)(nil)

// DefaultDeadline is how long a Gate waits for a decision when Set is
// given no deadline.
const DefaultDeadline = 150 * time.Millisecond

// Gate is the PBX-neutral half of screening that every PBX adapter keeps:
// the Decider in use and its deadline, and the wait for a decision. How a
// verdict reaches the PBX stays the adapter's. The zero Gate has no
// Decider: every call goes on at once (OutcomeOff). Safe for concurrent
// use; Set may be called while calls are decided.
type Gate struct {
	p atomic.Pointer[gated] // nil until Set
}

// gated is a Decider and its deadline, set together.
type gated struct {
	d        Decider
	deadline time.Duration
}

// Set makes the Gate ask d, waiting for its decision deadline at most
// (DefaultDeadline if not positive). A nil d turns screening off.
func (g *Gate) Set(d Decider, deadline time.Duration) {
	if d == nil {
		g.p.Store(nil)
		return
	}
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	g.p.Store(&gated{d: d, deadline: deadline})
}

// Decide returns the verdict to apply to a waiting call and tells the
// Decider (Screened) before returning it. start is when the PBX handed the
// call over: the decision is waited for until start plus the deadline, and
// past it the verdict is OutcomeLate (the call goes on as it is) and the
// Decider's answer, whenever it comes, is dropped. spawn runs the
// Decider's Screen in a goroutine its caller owns and waits for (an
// adapter's action group); Screen's context ends at the deadline. With no
// Decider the verdict is OutcomeOff and no one is told.
func (g *Gate) Decide(ctx context.Context, c Call, start time.Time, spawn func(func())) Verdict {
	gd := g.p.Load()
	if gd == nil {
		return Verdict{Outcome: OutcomeOff}
	}
	v := gd.wait(ctx, c, start, spawn)
	gd.d.Screened(c, v)
	return v
}

// wait asks the Decider and waits for it until the deadline at most.
func (gd *gated) wait(ctx context.Context, c Call, start time.Time, spawn func(func())) Verdict {
	dctx, cancel := context.WithDeadline(ctx, start.Add(gd.deadline))
	defer cancel()
	res := make(chan Verdict, 1) // the Decider's answer; a late one is dropped, never blocks
	spawn(func() { res <- gd.d.Screen(dctx, c) })
	select {
	case v := <-res:
		return v
	case <-dctx.Done():
		return Verdict{Outcome: OutcomeLate}
	}
}
