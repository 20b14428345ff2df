package freeswitch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
)

var _ clicktocall.Originator = (*Adapter)(nil)

// Click-to-call on FreeSWITCH (spec pbx-events.md §4.6, §6(f)): one
// `bgapi originate {…}<terminal> &bridge({…}<customer>)`. FreeSWITCH rings
// leg A, reports it (BACKGROUND_JOB) once A answered or failed, then dials
// leg B and bridges; when either side hangs up it ends the other. Leg B's
// fate is read from the event stream (legWatch).

// Notes about a watched leg.
const (
	noteAnswered = iota + 1
	noteHangup   // cause set
)

type legNote struct {
	kind  int
	cause callstate.Cause
}

// legWatch passes the events of legs a click-to-call waits for from the
// event loop to the waiting goroutine.
type legWatch struct {
	n  atomic.Int32
	mu sync.Mutex
	m  map[string]chan legNote
}

func newLegWatch() *legWatch { return &legWatch{m: map[string]chan legNote{}} }

func (w *legWatch) watch(id string) <-chan legNote {
	// Size 4: a leg gets at most one note of each kind; a send that finds
	// it full (it cannot) is dropped rather than block the event loop.
	ch := make(chan legNote, 4)
	w.mu.Lock()
	w.m[id] = ch
	w.mu.Unlock()
	w.n.Add(1)
	return ch
}

func (w *legWatch) unwatch(id string) {
	w.mu.Lock()
	if _, ok := w.m[id]; ok {
		delete(w.m, id)
		w.n.Add(-1)
	}
	w.mu.Unlock()
}

// observe is called by the event loop for every event.
func (w *legWatch) observe(ev *Event) {
	if w.n.Load() == 0 {
		return
	}
	var n legNote
	switch ev.Name() {
	case "CHANNEL_ANSWER":
		n.kind = noteAnswered
	case "CHANNEL_HANGUP_COMPLETE":
		n = legNote{kind: noteHangup, cause: MapCause(ev.Get("Hangup-Cause"))}
	default:
		return
	}
	w.mu.Lock()
	ch := w.m[ev.known[hUniqueID]]
	w.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- n:
	default:
	}
}

// ClickToCall places a click-to-call (clicktocall.Originator). It returns
// nil once the user and the customer talked and the call ended, or a
// *clicktocall.Failure.
func (a *Adapter) ClickToCall(ctx context.Context, r clicktocall.Request) error {
	if r.ID == "" || r.Terminal == "" || r.CustomerEndpoint == "" {
		return errors.New("freeswitch: click-to-call: id, terminal and customer endpoint are required")
	}
	legA, legB := newUUID(), newUUID()
	wa, wb := a.legs.watch(legA), a.legs.watch(legB)
	defer a.legs.unwatch(legA)
	defer a.legs.unwatch(legB)
	ring := r.RingTimeout
	if ring <= 0 {
		ring = 30 * time.Second
	}
	name := r.CustomerName
	if name == "" {
		name = r.Customer
	}
	o, err := a.Originate(ctx, ClickToCall{Endpoint: r.Terminal, Extension: r.Extension, CustomerEndpoint: r.CustomerEndpoint,
		Customer: r.Customer, CustomerName: name, CallerIDNumber: r.CallerID, Tenant: r.Tenant, Timeout: ring,
		LegA: legA, LegB: legB})
	if err != nil {
		return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseFailed, Err: err}
	}
	wctx, cancel := context.WithTimeout(ctx, ring+15*time.Second)
	err = o.Wait(wctx)
	cancel()
	if err != nil {
		var oe *OriginateError
		switch {
		case errors.As(err, &oe):
			return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: MapCause(oe.Cause), Err: err}
		case ctx.Err() != nil:
			a.kill(legA)
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			a.kill(legA)
			return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseNoAnswer, Err: err}
		}
		return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseFailed, Err: err}
	}

	// Leg A answered; FreeSWITCH dials the customer.
	dial := r.DialTimeout
	if dial <= 0 {
		dial = 45 * time.Second
	}
	timer := time.NewTimer(dial + 15*time.Second)
	defer timer.Stop()
	for answered := false; !answered; {
		select {
		case n := <-wb:
			switch n.kind {
			case noteAnswered:
				answered = true
			case noteHangup:
				cause := n.cause
				if cause == callstate.CauseNormal || cause == callstate.CauseUnknown {
					cause = callstate.CauseFailed
				}
				return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: cause}
			}
		case n := <-wa:
			if n.kind != noteHangup {
				continue
			}
			// A failed bridge ends A right after B: B's note came first.
			select {
			case nb := <-wb:
				if nb.kind == noteHangup && nb.cause != callstate.CauseNormal {
					return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: nb.cause}
				}
			default:
			}
			return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseCancelled} // the user gave up
		case <-timer.C:
			a.kill(legA)
			return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: callstate.CauseNoAnswer}
		case <-ctx.Done():
			a.kill(legA)
			return ctx.Err()
		}
	}
	// Talking until one side hangs up (FreeSWITCH ends the other).
	for {
		select {
		case n := <-wa:
			if n.kind == noteHangup {
				return nil
			}
		case n := <-wb:
			if n.kind == noteHangup {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// kill hangs up a leg, whatever the caller's context says.
func (a *Adapter) kill(uuid string) {
	ctx, cancel := context.WithTimeout(context.Background(), a.o.CommandTimeout)
	defer cancel()
	_ = a.Hangup(ctx, uuid, "ORIGINATOR_CANCEL")
}
