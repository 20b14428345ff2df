package asterisk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/clicktocall"
	"github.com/ringside/ringside/pkg/config"
)

var _ clicktocall.Originator = (*Adapter)(nil)

// Click-to-call on ARI (spec pbx-events.md §6(f), "ARI, all in Stasis"):
//
//  1. leg A (c2c-<id>-a) is originated to the user's terminal into the
//     application with args "c2c,<id>", the customer as caller id;
//  2. once A answered and entered the application (StasisStart), a mixing
//     bridge c2c-<id> is created with A in it, leg B (c2c-<id>-b) is
//     created with A as originator, added to the bridge (the user hears the
//     ringback) and dialled through the tenant's outbound route;
//  3. when B answers the two talk; when either hangs up, the other is hung
//     up and the bridge deleted (ARI bridges never do it themselves).
//
// The legs' fates are read from the event socket (clicktocall.LegWatch), so a click-to-
// call needs the adapter to be running.

// observeLeg passes the ARI events that matter to a click-to-call to the
// legs watched; the reader calls it for every event.
func observeLeg(w *clicktocall.LegWatch, evType string, frame []byte) {
	if !w.Watching() {
		return
	}
	var kind clicktocall.NoteKind
	switch evType {
	case "StasisStart":
		kind = clicktocall.NoteInApp
	case "ChannelStateChange":
		kind = clicktocall.NoteAnswered
	case "ChannelDestroyed":
		kind = clicktocall.NoteGone
	default:
		return
	}
	var ev struct {
		Cause   int `json:"cause"`
		Channel struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"channel"`
	}
	if json.Unmarshal(frame, &ev) != nil || (kind == clicktocall.NoteAnswered && ev.Channel.State != "Up") {
		return
	}
	w.Notify(ev.Channel.ID, clicktocall.LegNote{Kind: kind, Cause: causeFromQ850(ev.Cause)})
}

// ClickToCall places a click-to-call (clicktocall.Originator). It returns
// nil once the user and the customer talked and the call ended, or a
// *clicktocall.Failure.
func (a *Adapter) ClickToCall(ctx context.Context, r clicktocall.Request) error {
	if r.ID == "" || r.Terminal == "" || r.CustomerEndpoint == "" {
		return errors.New("asterisk: click-to-call: id, terminal and customer endpoint are required")
	}
	legA, legB, bridge := "c2c-"+r.ID+"-a", "c2c-"+r.ID+"-b", "c2c-"+r.ID
	wa, wb := a.legs.Watch(legA), a.legs.Watch(legB)
	defer a.legs.Unwatch(legA)
	defer a.legs.Unwatch(legB)
	cleanup := func(ids ...string) { a.teardown(ctx, bridge, ids...) }

	name := r.CustomerName
	if name == "" {
		name = r.Customer
	}
	var vars map[string]string
	if t := a.o.PBX.Tenant; t.From == config.TenantVariable && t.Variable != "" && r.Tenant != "" {
		vars = map[string]string{t.Variable: r.Tenant}
	}
	ring := r.RingTimeout
	if ring <= 0 {
		ring = 30 * time.Second
	}
	err := a.Originate(ctx, OriginateRequest{ChannelID: legA, Endpoint: r.Terminal,
		CallerID: `"` + strings.NewReplacer(`"`, "", "<", "", ">", "").Replace(name) + `" <` + r.Customer + `>`,
		AppArgs:  []string{"c2c", r.ID}, Timeout: ring, Variables: vars,
		ClickToCall: &ClickToCall{Extension: r.Extension, Customer: r.Customer}})
	if err != nil {
		return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: requestCause(err), Err: err}
	}

	// Leg A: wait until it answered and entered the application.
	timer := time.NewTimer(ring + 10*time.Second) // Asterisk gives up at ring; this is the safety net
	defer timer.Stop()
	for inStasis := false; !inStasis; {
		select {
		case n := <-wa:
			switch n.Kind {
			case clicktocall.NoteInApp:
				inStasis = true
			case clicktocall.NoteGone:
				cause := n.Cause
				if cause == callstate.CauseNormal || cause == callstate.CauseUnknown {
					cause = callstate.CauseFailed
				}
				return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: cause}
			}
		case <-timer.C:
			cleanup(legA)
			return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseNoAnswer}
		case <-ctx.Done():
			cleanup(legA)
			return ctx.Err()
		}
	}

	// Leg B: the customer, bridged with A from the start.
	dial := r.DialTimeout
	if dial <= 0 {
		dial = 45 * time.Second
	}
	if err := a.DialSecondLeg(ctx, SecondLeg{BridgeID: bridge, Caller: legA, ChannelID: legB, Endpoint: r.CustomerEndpoint,
		Customer: r.Customer, CallerNumber: r.CallerID, AppArgs: []string{"c2c-b", r.ID}, Timeout: dial}); err != nil {
		cleanup(legA, legB)
		return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: requestCause(err), Err: err}
	}
	timer.Reset(dial + 10*time.Second)
	for up := false; !up; {
		select {
		case n := <-wb:
			switch n.Kind {
			case clicktocall.NoteAnswered:
				up = true
			case clicktocall.NoteGone:
				cleanup(legA)
				cause := n.Cause
				if cause == callstate.CauseNormal || cause == callstate.CauseUnknown {
					cause = callstate.CauseFailed
				}
				return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: cause}
			}
		case n := <-wa:
			if n.Kind == clicktocall.NoteGone { // the user gave up
				cleanup(legB)
				return &clicktocall.Failure{Leg: clicktocall.LegA, Cause: callstate.CauseCancelled}
			}
		case <-timer.C:
			cleanup(legA, legB)
			return &clicktocall.Failure{Leg: clicktocall.LegB, Cause: callstate.CauseNoAnswer}
		case <-ctx.Done():
			cleanup(legA, legB)
			return ctx.Err()
		}
	}

	// Talking: when one side hangs up, end the other. On shutdown the call
	// stays up (the PBX keeps it) and nobody tears the bridge down.
	for {
		select {
		case n := <-wa:
			if n.Kind == clicktocall.NoteGone {
				cleanup(legB)
				return nil
			}
		case n := <-wb:
			if n.Kind == clicktocall.NoteGone {
				cleanup(legA)
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// teardown hangs up channels and deletes the bridge; what is gone already
// (404) is fine.
func (a *Adapter) teardown(ctx context.Context, bridge string, ids ...string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*a.o.RequestTimeout)
	defer cancel()
	for _, id := range ids {
		if err := a.Hangup(ctx, id, "normal"); err != nil && StatusOf(err) != http.StatusNotFound {
			a.log.Warn("click-to-call: hangup failed", zap.String("channel_id", id), zap.Error(err))
		}
	}
	if err := a.DestroyBridge(ctx, bridge); err != nil && StatusOf(err) != http.StatusNotFound {
		a.log.Warn("click-to-call: bridge not deleted", zap.String("bridge_id", bridge), zap.Error(err))
	}
}

// requestCause classifies a refused REST request: 4xx (bad endpoint, no
// such device) is unreachable, anything else a failure.
func requestCause(err error) callstate.Cause {
	if s := StatusOf(err); s >= 400 && s < 500 {
		return callstate.CauseUnreachable
	}
	return callstate.CauseFailed
}
