package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/fault"
	"github.com/ringside/ringside/pkg/screen"
	"github.com/ringside/ringside/pkg/store"
)

// Screening on the event socket (README, "Caller name, blacklist and owner
// routing"; deploy/freeswitch/dialplan/ringside_screen.xml): the inbound
// dialplan fires CUSTOM ringside::screen (the event application, with every
// channel header and variable) and sleeps — a few hundred milliseconds,
// longer than screen.deadline — before it transfers the call to be routed
// again. On the event Ringside decides within the deadline, then:
//
//   - rejects a blacklisted caller: uuid_kill <uuid> USER_BUSY (486),
//     NORMAL_CIRCUIT_CONGESTION or NORMAL_CLEARING;
//   - or sets effective_caller_id_name (uuid_setvar; FreeSWITCH exports it
//     to the B legs the bridge creates, so the ringing phones show it —
//     Channel Variables Catalog, effective_caller_id_name) and
//     ringside_owner (which the routed-again dialplan bridges first), and
//     ends the sleep at once with uuid_break: it sets CF_BREAK, which
//     switch_ivr_sleep checks while the call waits (src/switch_ivr.c;
//     mod_commands break_function). break_function writes nothing, so the
//     event socket answers it "-ERR no reply" (mod_event_socket api_exec).
//
// Without Ringside (or past the deadline with no decision) the sleep runs
// out and the call rings as it is: the delay FreeSWITCH can add is the
// sleep, where Asterisk's Stasis() fails at once.

// DefaultScreenSubclass is the Event-Subclass of the CUSTOM event the
// dialplan fires for a call to screen.
const DefaultScreenSubclass = "ringside::screen"

// OwnerVariable is the channel variable that names the extension to bridge
// first (the CRM record owner's); the dialplan reads it after the sleep.
const OwnerVariable = "ringside_owner"

// SetScreener makes the adapter screen waiting calls with s (in the daemon
// the pkg/screen Screener), deciding within deadline (150ms if not
// positive). Until it is called every such call is released at once. Safe
// to call while the adapter runs.
func (a *Adapter) SetScreener(s screen.Decider, deadline time.Duration) {
	a.screener.Set(s, deadline)
}

// screenCall describes the call of a screen event.
func screenCall(tr *Translator, e *Event) screen.Call {
	c := screen.Call{Channel: e.known[hUniqueID], Tenant: tr.tenant(e), Name: e.known[hCallerIDName],
		Dialed: e.known[hCallerDestination]}
	if e.known[hCallDirection] == "inbound" && tr.party(e.known[hChannelName], false) == callstate.PartyExternal {
		c.Number = e.known[hCallerIDNumber]
	}
	return c
}

// screen decides about a waiting call and applies the verdict; start is
// when its event was read. The screener is told the verdict before it is
// applied (screen.Gate.Decide).
func (a *Adapter) screen(ctx context.Context, c screen.Call, start time.Time) {
	v := a.screener.Decide(ctx, c, start, a.actions.Go)
	ok := a.applyVerdict(ctx, c.Channel, v)
	delay := a.o.Now().Sub(start)
	a.sm.Observe(v.Outcome, delay)
	log := a.log.With(zap.String("uuid", c.Channel), zap.String("tenant", c.Tenant),
		zap.String("outcome", string(v.Outcome)), zap.Duration("delay", delay))
	switch {
	case !ok:
	case v.Reject != "":
		log.Info("freeswitch: blacklisted call rejected", zap.String("entry", v.Blocked), zap.String("reason", v.Reject))
	default:
		log.Debug("freeswitch: call screened", zap.Bool("named", v.Name != ""), zap.String("owner_extension", v.Owner))
	}
}

// rejectCause maps a blacklist reason onto a FreeSWITCH hangup cause.
func rejectCause(r string) string {
	switch r {
	case store.BlockCongestion:
		return "NORMAL_CIRCUIT_CONGESTION"
	case store.BlockHangup:
		return "NORMAL_CLEARING"
	}
	return "USER_BUSY"
}

// errGone: the channel no longer exists.
var errGone = errors.New("no such channel")

// applyVerdict carries the verdict out; it reports whether the channel was
// still there. Commands outlive ctx (a shutdown must not hold a call in its
// sleep longer than the dialplan says), each bounded by CommandTimeout.
func (a *Adapter) applyVerdict(ctx context.Context, uuid string, v screen.Verdict) bool {
	ctx = context.WithoutCancel(ctx)
	log := a.log.With(zap.String("uuid", uuid))
	if v.Reject != "" {
		err := a.Hangup(ctx, uuid, rejectCause(v.Reject))
		if err == nil || gone(err) {
			return err == nil
		}
		log.Warn("freeswitch: rejecting a blacklisted call failed; letting it ring", zap.Error(err))
	} else {
		for _, set := range [][2]string{{"effective_caller_id_name", v.Name}, {OwnerVariable, v.Owner}} {
			if set[1] == "" {
				continue
			}
			if err := a.SetVariable(ctx, uuid, set[0], set[1]); gone(err) {
				return false
			} else if err != nil {
				log.Warn("freeswitch: screening: variable not set; the call rings without it", zap.String("variable", set[0]), zap.Error(err))
			}
		}
	}
	if err := a.breakSleep(ctx, uuid); err != nil {
		if !gone(err) {
			log.Warn("freeswitch: screening: the sleep was not broken; the call rings when it ends", zap.Error(err))
		}
		return false
	}
	return true
}

// gone reports whether err says the channel no longer exists (FreeSWITCH's
// "-ERR No such channel!" / "No Such Channel!").
func gone(err error) bool {
	return errors.Is(err, errGone) || err != nil && strings.Contains(strings.ToLower(err.Error()), "no such channel")
}

// breakSleep ends what the channel executes (its sleep): `uuid_break
// <uuid>`, which answers "-ERR no reply" when it worked.
func (a *Adapter) breakSleep(ctx context.Context, uuid string) error {
	if !safeArg(uuid) {
		return fault.Permanent(fmt.Errorf("freeswitch: uuid_break: bad argument %q", uuid))
	}
	f, err := a.send(ctx, "uuid_break", command.API{Command: "uuid_break", Arguments: uuid}.BuildMessage())
	if err != nil {
		return err
	}
	switch body := strings.TrimSpace(f.Body); {
	case body == "", body == "-ERR no reply", strings.HasPrefix(body, "+OK"):
		return nil
	case strings.Contains(strings.ToLower(body), "no such channel"):
		return fmt.Errorf("freeswitch: uuid_break %s: %w", uuid, errGone)
	default:
		a.m.commands.WithLabelValues(commandLabel("uuid_break"), resultRefused).Inc()
		return fault.Permanent(fmt.Errorf("freeswitch: uuid_break %s: %s", uuid, body))
	}
}
