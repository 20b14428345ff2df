package freeswitch

import (
	"context"
	"errors"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
)

var _ clicktocall.Originator = (*Adapter)(nil)

// Click-to-call on FreeSWITCH (spec pbx-events.md §4.6, §6(f)): one
// `bgapi originate {…}<terminal> &bridge({…}<customer>)`. FreeSWITCH rings
// leg A, reports it (BACKGROUND_JOB) once A answered or failed, then dials
// leg B and bridges; when either side hangs up it ends the other. Leg B's
// fate is read from the event stream (clicktocall.LegWatch).

// observeLeg passes the events that matter to a click-to-call to the legs
// watched; the event loop calls it for every event.
func observeLeg(w *clicktocall.LegWatch, ev *Event) {
	if !w.Watching() {
		return
	}
	var n clicktocall.LegNote
	switch ev.Name() {
	case "CHANNEL_ANSWER":
		n.Kind = clicktocall.NoteAnswered
	case "CHANNEL_HANGUP_COMPLETE":
		n = clicktocall.LegNote{Kind: clicktocall.NoteGone, Cause: MapCause(ev.Get("Hangup-Cause"))}
	default:
		return
	}
	w.Notify(ev.known[hUniqueID], n)
}

// ClickToCall places a click-to-call (clicktocall.Originator). It returns
// nil once the user and the customer talked and the call ended, or a
// *clicktocall.Failure.
func (a *Adapter) ClickToCall(ctx context.Context, r clicktocall.Request) error {
	if r.ID == "" || r.Terminal == "" || r.CustomerEndpoint == "" {
		return errors.New("freeswitch: click-to-call: id, terminal and customer endpoint are required")
	}
	legA, legB := newUUID(), newUUID()
	wa, wb := a.legs.Watch(legA), a.legs.Watch(legB)
	defer a.legs.Unwatch(legA)
	defer a.legs.Unwatch(legB)
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
			switch n.Kind {
			case clicktocall.NoteAnswered:
				answered = true
			case clicktocall.NoteGone:
				cause := n.Cause
				if cause == callstate.CauseNormal || cause == callstate.CauseUnknown {
					cause = callstate.CauseFailed
				}
				return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: cause}
			}
		case n := <-wa:
			if n.Kind != clicktocall.NoteGone {
				continue
			}
			// A failed bridge ends A right after B: B's note came first.
			select {
			case nb := <-wb:
				if nb.Kind == clicktocall.NoteGone && nb.Cause != callstate.CauseNormal {
					return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: nb.Cause}
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
			if n.Kind == clicktocall.NoteGone {
				return nil
			}
		case n := <-wb:
			if n.Kind == clicktocall.NoteGone {
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
